using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using R1Orleans.Client.Chaos;
using R1Orleans.Silo;

using R1Orleans.Tests.Shared;

namespace R1Orleans.BuiltInModel.Tests;

/// <summary>
/// The silo's host, started in-process on free ports with a temporary cache directory. The default (trained) model is
/// tested by R1Orleans.ModelAccuracy.Tests; here the random-weight built-in (<c>--model builtin-random</c>).
/// </summary>
public sealed class SiloTests
{
    [Fact]
    public async Task Silo_serves_the_random_built_in_model_over_the_openai_api()
    {
        string cache = Directory.CreateTempSubdirectory("r1-silo-cache-").FullName;
        WebApplication app = SiloHost.Build([.. Args(cache), "--model", ModelOptions.RandomBuiltIn]);
        try
        {
            await app.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri(Address(app)), Timeout = TimeSpan.FromSeconds(30) };

            // /health answers 503 while the model loads, 200 once it is served.
            HttpStatusCode health = HttpStatusCode.ServiceUnavailable;
            for (var deadline = DateTime.UtcNow.AddSeconds(40); DateTime.UtcNow < deadline; await Task.Delay(100))
            {
                health = (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode;
                Assert.True(health is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"/health answered {health}");
                if (health == HttpStatusCode.OK)
                {
                    break;
                }
            }

            Assert.Equal(HttpStatusCode.OK, health);

            using HttpResponseMessage response = await http.PostAsJsonAsync(new Uri("/v1/chat/completions", UriKind.Relative), new
            {
                model = BuiltInModel.Name,
                messages = new[] { new { role = "user", content = "hi" } },
                max_tokens = 8,
            });
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            using JsonDocument doc = JsonDocument.Parse(body);
            JsonElement root = doc.RootElement;
            Assert.Equal(BuiltInModel.Name, root.GetProperty("model").GetString());
            Assert.Equal("assistant", root.GetProperty("choices")[0].GetProperty("message").GetProperty("role").GetString());
            Assert.InRange(root.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 1, 8);

            // The control plane knows the model: the silo registers it with the model registry grain once it serves it.
            await app.Services.GetRequiredService<ModelLoaderService>().Ready.WaitAsync(TimeSpan.FromSeconds(30));
            using JsonDocument registry = JsonDocument.Parse(await http.GetStringAsync(new Uri("/cluster/models", UriKind.Relative)));
            JsonElement record = Assert.Single(registry.RootElement.EnumerateArray());
            Assert.Equal(BuiltInModel.Name, record.GetProperty("modelId").GetString());
            Assert.True(record.GetProperty("randomWeights").GetBoolean());
            Assert.True(record.GetProperty("config").GetProperty("mtp").GetBoolean());
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public async Task A_checkpoint_that_fails_to_load_stops_the_silo_with_a_clear_error()
    {
        string cache = Directory.CreateTempSubdirectory("r1-silo-bad-").FullName;
        string model = Directory.CreateDirectory(Path.Combine(cache, "broken")).FullName;
        File.WriteAllText(Path.Combine(model, "config.json"), "{\"model_type\": \"deepseek_v3\"}");
        File.WriteAllText(Path.Combine(model, "tokenizer.json"), "{}");
        File.WriteAllBytes(Path.Combine(model, "model.safetensors"), new byte[8]);
        WebApplication app = SiloHost.Build([.. Args(cache), "--model", model]);
        try
        {
            await app.StartAsync();
            ModelLoaderService loader = app.Services.GetRequiredService<ModelLoaderService>();
            await Assert.ThrowsAnyAsync<Exception>(() => loader.Ready.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.True(loader.Failed);
            Assert.True(app.Lifetime.ApplicationStopping.IsCancellationRequested);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Environment.ExitCode = 0;
            Directory.Delete(cache, recursive: true);
        }
    }

    private static string[] Args(string cache) =>
    [
        "--urls", "http://127.0.0.1:0",
        "--cache-dir", cache,
        "--silo-port", LoopbackPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--gateway-port", LoopbackPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--kv-cache-tokens", "4096",
        "--Logging:LogLevel:Default", "Warning",
    ];

    private static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
}
