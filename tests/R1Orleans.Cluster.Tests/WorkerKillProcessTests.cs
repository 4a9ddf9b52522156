using System.Net;
using System.Text.Json;
using OpenAI.Chat;
using R1Orleans.Tests.Shared;
using static R1Orleans.Cluster.Tests.ClusterHttp;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// kill -9 of a worker silo (an expert holder and a rank) while requests stream through the cluster, with every expert
/// held twice: the steps it was serving are re-dispatched to replicas, the requests it was running resume on another
/// rank, and every answer is exactly a single silo's; none is lost.
/// </summary>
public sealed class WorkerKillProcessTests
{
    private static readonly (string Question, float Temperature, long? Seed)[] s_requests =
    [
        ("What is 47 + 385?", 0f, null),
        ("What is 23 * 47?", 0f, null),
        ("What is 618 - 259?", 0.8f, 7),
        ("What is 905 + 96?", 1.0f, 12345),
        ("What is 312 + 689?", 0f, null),
        ("What is 58 * 12?", 0.7f, 99),
    ];

    [Fact]
    public async Task Killing_a_worker_under_load_with_two_replicas_loses_no_request_and_changes_no_answer()
    {
        var environment = new Dictionary<string, string> { ["UCX_TLS"] = "posix,cma,self" };
        await using RedisServer redis = await RedisServer.StartAsync();
        string cluster = $"cluster-{Guid.NewGuid():N}";
        string[] common = ["--clustering", "redis", "--redis", redis.Address, "--cluster-id", cluster, "--expert-replicas", "2",
            "--Cluster:StepDeadlineSeconds", "2", "--Logging:LogLevel:Default", "Warning"];
        await using SiloProcess single = SiloProcess.Start(http: true, environment, "--Logging:LogLevel:Default", "Warning");
        await using SiloProcess gateway = SiloProcess.Start(http: true, environment, [.. common, "--node", "node-a"]);
        await using SiloProcess worker1 = SiloProcess.Start(http: false, environment, [.. common, "--node", "node-b"]);
        await using SiloProcess victim = SiloProcess.Start(http: false, environment, [.. common, "--node", "node-c"]);
        SiloProcess[] all = [single, gateway, worker1, victim];
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await WaitUntil(async () => await Healthy(http, single) && await Healthy(http, gateway) && await SilosInPlacement(http, gateway) == 3, all, TimeSpan.FromSeconds(120));

        ChatClient reference = ChatClientOf(single), distributed = ChatClientOf(gateway);
        var expected = new List<string>();
        foreach ((string q, float t, long? seed) in s_requests)
        {
            expected.Add(await Streamed(reference, q, Options(t, seed), null));
        }

        // All at once through the gateway (spread over the three ranks); once every stream has its first token, kill -9.
        var started = s_requests.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        Task<string>[] running = [.. s_requests.Select((r, i) => Streamed(distributed, r.Question, Options(r.Temperature, r.Seed), started[i]))];
        await Task.WhenAll(started.Select(s => s.Task)).WaitAsync(TimeSpan.FromSeconds(120));
        victim.KillNow();

        string[] answers = await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(180));
        Assert.Equal(expected, answers);

        // The kill was felt: requests of the dead rank resumed here, or steps re-dispatched from its experts.
        string metrics = await http.GetStringAsync(new Uri(gateway.Url, "/metrics"));
        double resumed = Counter(metrics, "r1orleans:requests_resumed_total"), failovers = Counter(metrics, "r1orleans:cluster_failovers_total");
        Assert.True(resumed + failovers > 0, $"the kill touched no request and no step: {resumed} resumed, {failovers} failovers");

        // The control plane catches up: the dead silo leaves the placement, which the survivors then serve alone.
        await WaitUntil(async () => await SilosInPlacement(http, gateway) == 2, [single, gateway, worker1], TimeSpan.FromSeconds(60));
        Assert.Equal(expected[0], await Streamed(distributed, s_requests[0].Question, Options(s_requests[0].Temperature, s_requests[0].Seed), null));
        Assert.False(gateway.HasExited, gateway.Output);
        Assert.False(worker1.HasExited, worker1.Output);
    }

    /// <summary>The sum of a counter's series in a Prometheus text scrape (0 when absent).</summary>
    private static double Counter(string scrape, string name) => scrape.Split('\n')
        .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));


    /// <summary>Silos of the committed placement once it is settled (nothing pending, the gateway's rank on it); -1 otherwise.</summary>
    private static async Task<int> SilosInPlacement(HttpClient http, SiloProcess gateway)
    {
        try
        {
            using JsonDocument status = JsonDocument.Parse(await http.GetStringAsync(new Uri(gateway.Url, "/cluster/status")));
            JsonElement root = status.RootElement;
            bool settled = root.GetProperty("pendingVersion").ValueKind == JsonValueKind.Null && root.GetProperty("version").ValueKind == JsonValueKind.Number
                && root.GetProperty("thisSiloVersion").ToString() == root.GetProperty("version").ToString();
            return settled ? root.GetProperty("silos").GetArrayLength() : -1;
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

}
