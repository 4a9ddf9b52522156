using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using R1Orleans.Client.Chaos;
using R1Orleans.Cluster;
using R1Orleans.Silo;
using R1Orleans.Tests.Shared;

namespace R1Orleans.BuiltInModel.Tests;

/// <summary>Silos that join one cluster through a real redis-server, and the clustering settings' errors.</summary>
public sealed class SiloClusteringTests
{
    [Fact]
    public async Task Two_silos_join_one_cluster_through_redis_and_a_worker_without_http_registers_too()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        string clusterId = $"test-{Guid.NewGuid():N}";
        WebApplication gateway = SiloHost.Build(Args(redis, clusterId, "node-a", "--urls", "http://127.0.0.1:0"));
        WebApplication worker = SiloHost.Build(Args(redis, clusterId, "node-b", "--no-http"));
        try
        {
            await gateway.StartAsync();
            await worker.StartAsync();
            await worker.Services.GetRequiredService<ModelLoaderService>().Ready.WaitAsync(TimeSpan.FromSeconds(60));
            await gateway.Services.GetRequiredService<ModelLoaderService>().Ready.WaitAsync(TimeSpan.FromSeconds(60));

            // The worker has no HTTP server at all.
            Assert.Empty(worker.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []);

            // Both silos registered their model with the one registry grain of the cluster.
            using var http = new HttpClient { BaseAddress = new Uri(Address(gateway)), Timeout = TimeSpan.FromSeconds(30) };
            using JsonDocument models = JsonDocument.Parse(await http.GetStringAsync(new Uri("/cluster/models", UriKind.Relative)));
            string[] silos = [.. models.RootElement.EnumerateArray().Select(r => r.GetProperty("silo").GetString()!).Order(StringComparer.Ordinal)];
            Assert.Equal(2, silos.Length);
            Assert.NotEqual(silos[0], silos[1]);

            // The placement spans both silos once the second one's join is committed: /cluster/status and /cluster/experts say so.
            JsonElement status = default;
            for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; await Task.Delay(200))
            {
                using JsonDocument doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/cluster/status", UriKind.Relative)));
                status = doc.RootElement.Clone();
                if (status.GetProperty("silos").GetArrayLength() == 2 && status.GetProperty("pendingVersion").ValueKind == JsonValueKind.Null)
                {
                    break;
                }
            }

            Assert.Equal(["node-a", "node-b"], status.GetProperty("silos").EnumerateArray().Select(x => x.GetProperty("node").GetString()));
            Assert.All(status.GetProperty("silos").EnumerateArray(), x => Assert.True(x.GetProperty("expertsPlaced").GetInt32() > 0));
            Assert.True(status.GetProperty("expertsCovered").GetBoolean());
            using JsonDocument experts = JsonDocument.Parse(await http.GetStringAsync(new Uri("/cluster/experts?layer=1", UriKind.Relative)));
            JsonElement layer = Assert.Single(experts.RootElement.GetProperty("layers").EnumerateArray());
            Assert.Equal(1, layer.GetProperty("layer").GetInt32());
            string[] holders = [.. layer.GetProperty("experts").EnumerateArray().SelectMany(e => e.GetProperty("holders").EnumerateArray().Select(h => h.GetString()!)).Distinct().Order(StringComparer.Ordinal)];
            Assert.Equal(status.GetProperty("silos").EnumerateArray().Select(x => x.GetProperty("silo").GetString()!).Order(StringComparer.Ordinal), holders);

            // The gateway silo's /metrics: its cluster instruments once it holds only what the placement over both gives it.
            ClusterNode node = gateway.Services.GetRequiredService<ClusterNode>();
            for (var deadline = DateTime.UtcNow.AddSeconds(30); !node.Settled && DateTime.UtcNow < deadline;)
            {
                await Task.Delay(100);
            }

            Assert.True(node.Settled);
            string silo = $"silo=\"{node.Self.Silo.Value}\"";
            JsonElement self = status.GetProperty("silos").EnumerateArray().Single(x => x.GetProperty("silo").GetString() == node.Self.Silo.Value);
            Scrape metrics = await Scrape.OfAsync(http);
            Assert.Equal(2, metrics.Value("r1orleans:cluster_silos_up", silo, "node=\"node-a\""));
            Assert.Equal(self.GetProperty("expertsPlaced").GetInt32(), metrics.Value("r1orleans:cluster_experts_held", silo));
            Assert.Equal(node.Experts.WeightBytes, metrics.Value("r1orleans:cluster_experts_held_bytes", silo));
            Assert.Equal(status.GetProperty("version").GetInt64(), metrics.Value("r1orleans:cluster_placement_version", silo));
        }
        finally
        {
            await worker.StopAsync();
            await gateway.StopAsync();
            await worker.DisposeAsync();
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_silo_whose_model_differs_from_the_clusters_is_refused_with_a_clear_message()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        string clusterId = $"test-{Guid.NewGuid():N}";
        string other = Directory.CreateTempSubdirectory("r1-other-model-").FullName;
        foreach (string f in Directory.EnumerateFiles(ModelOptions.ShippedModelDirectory))
        {
            File.Copy(f, Path.Combine(other, Path.GetFileName(f)));
        }

        // Same weights, another config value: another model as far as the cluster is concerned.
        string config = Path.Combine(other, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"rms_norm_eps\": 1e-06", "\"rms_norm_eps\": 2e-06", StringComparison.Ordinal));
        Assert.Contains("2e-06", File.ReadAllText(config), StringComparison.Ordinal);

        WebApplication first = SiloHost.Build(Args(redis, clusterId, "node-a", "--urls", "http://127.0.0.1:0"));
        WebApplication second = SiloHost.Build(Args(redis, clusterId, "node-b", "--no-http", "--model", other));
        try
        {
            await first.StartAsync();
            await first.Services.GetRequiredService<ModelLoaderService>().Ready.WaitAsync(TimeSpan.FromSeconds(60));
            await second.StartAsync();
            ModelLoaderService refused = second.Services.GetRequiredService<ModelLoaderService>();
            Exception e = await Assert.ThrowsAnyAsync<Exception>(() => refused.Ready.WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("every silo of a cluster must load the same --model", e.Message, StringComparison.Ordinal);
            Assert.True(refused.Failed);
        }
        finally
        {
            await second.StopAsync();
            await first.StopAsync();
            await second.DisposeAsync();
            await first.DisposeAsync();
            Environment.ExitCode = 0;
            Directory.Delete(other, recursive: true);
        }
    }

    [Fact]
    public async Task An_unreachable_redis_is_one_clear_error_and_exit_code_1()
    {
        int closed = LoopbackPorts.Free();
        using var error = new StringWriter();
        int code = await SiloHost.RunAsync(
            ["--clustering", "redis", "--redis", $"127.0.0.1:{closed}", "--urls", "http://127.0.0.1:0", "--silo-port", $"{LoopbackPorts.Free()}", "--gateway-port", $"{LoopbackPorts.Free()}"],
            error).WaitAsync(TimeSpan.FromSeconds(60));
        Environment.ExitCode = 0;

        Assert.Equal(1, code);
        Assert.Contains($"cannot reach Redis at 127.0.0.1:{closed} (--redis)", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--clustering", "zookeeper", "Silo:Clustering (--clustering) is 'zookeeper'; it must be localhost or redis")]
    [InlineData("--clustering", "redis", "Silo:Redis (--redis) is required with --clustering redis")]
    [InlineData("--expert-replicas", "0", "Cluster:ExpertReplicas (--expert-replicas) is 0; it must be between 1 and 64")]
    [InlineData("--max-nodes-per-token", "0", "Cluster:MaxNodesPerToken (--max-nodes-per-token) is 0")]
    [InlineData("--node", " ", "Cluster:Node (--node) is ' '")]
    public async Task Cluster_settings_out_of_range_exit_2_naming_the_setting(string option, string value, string expected)
    {
        using var error = new StringWriter();
        int code = await SiloHost.RunAsync([option, value, "--urls", "http://127.0.0.1:0"], error).WaitAsync(TimeSpan.FromSeconds(60));
        Environment.ExitCode = 0;
        Assert.Equal(2, code);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:6379", true)]
    [InlineData("redis.internal:6380", true)]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.0.0.1:0", false)]
    [InlineData("127.0.0.1:70000", false)]
    [InlineData(":6379", false)]
    public void Redis_addresses_are_host_and_port(string value, bool valid) => Assert.Equal(valid, SiloOptionsValidator.IsHostPort(value));

    private static string[] Args(RedisServer redis, string clusterId, string node, params string[] more) =>
    [
        "--clustering", "redis", "--redis", redis.Address, "--cluster-id", clusterId, "--node", node,
        "--silo-port", $"{LoopbackPorts.Free()}", "--gateway-port", $"{LoopbackPorts.Free()}", "--kv-cache-tokens", "1024",
        "--Logging:LogLevel:Default", "Warning", .. more,
    ];

    private static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
}
