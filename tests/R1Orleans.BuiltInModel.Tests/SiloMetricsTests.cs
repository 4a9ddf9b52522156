using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using R1Orleans.Client.Chaos;
using R1Orleans.Cuda.Forward;
using R1Orleans.Silo;
using R1Orleans.Tests.Shared;

namespace R1Orleans.BuiltInModel.Tests;

/// <summary>A real silo's /metrics: R1Orleans' series (the device forward's step phases among them) beside Orleans' own meter, ASP.NET Core's and the runtime's.</summary>
public sealed class SiloMetricsTests
{
    [Fact]
    public async Task A_silos_metrics_carry_r1orleans_orleans_aspnetcore_and_runtime_series()
    {
        string cache = Directory.CreateTempSubdirectory("r1-silo-metrics-").FullName;
        WebApplication app = SiloHost.Build(
        [
            "--urls", "http://127.0.0.1:0",
            "--cache-dir", cache,
            "--silo-port", LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture),
            "--gateway-port", LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture),
            "--kv-cache-tokens", "4096",
            "--Logging:LogLevel:Default", "Warning",
            "--model", ModelOptions.RandomBuiltIn,
        ]);
        try
        {
            await app.StartAsync();
            await app.Services.GetRequiredService<ModelLoaderService>().Ready.WaitAsync(TimeSpan.FromSeconds(60));
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
            using HttpResponseMessage response = await http.PostAsJsonAsync(new Uri("/v1/completions", UriKind.Relative), new
            {
                model = BuiltInModel.Name,
                prompt = "metrics",
                max_tokens = 3,
                ignore_eos = true,
            });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            // The device forward's step phases (a GPU silo's; recorded here by hand, the meter is the same).
            DeviceStepMetrics.Record("device", System.Diagnostics.Stopwatch.GetTimestamp());

            Scrape scrape = await Scrape.OfAsync(http);
            string model = $"model_name=\"{BuiltInModel.Name}\"";

            // R1Orleans' own: the one request, counted as it finished.
            Assert.Equal(1, scrape.Value("r1orleans:model_ready", model));
            Assert.Equal(1, scrape.Value("r1orleans:request_success_total", model, "finished_reason=\"length\""));
            Assert.Equal(3, scrape.Value("r1orleans:generation_tokens_total", model));
            Assert.Equal(1, scrape.Value("r1orleans:e2e_request_latency_seconds_count", model));

            // Orleans' meter: the model registry grain the silo registered its model with, and a ring of one silo.
            Assert.Equal(1, scrape.Value("orleans_catalog_activations", "grain_type=\"modelregistry\""));
            Assert.Equal(1, scrape.Value("orleans_consistent_ring_size"));

            // ASP.NET Core's routing saw the request; the runtime's meter is there.
            Assert.Equal(1, scrape.Value("aspnetcore_routing_match_attempts_total", "http_route=\"/v1/completions\""));
            Assert.True(scrape.Value("dotnet_process_cpu_count") >= 1);

            // A silo alone has no cluster status: a 404 that says why (it was a 500 from the directory grain's activation).
            using HttpResponseMessage alone = await http.GetAsync(new Uri("/cluster/status", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, alone.StatusCode);
            Assert.Contains("runs alone (--clustering localhost)", await alone.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Contains(scrape.Samples, s => s.Name == "dotnet_gc_heap_total_allocated_bytes_total" && s.Value > 0);

            Assert.Contains(scrape.Samples, s => s.Name == "r1orleans:device_step_phase_milliseconds_count" && s.Labels.Contains("phase=\"device\"", StringComparison.Ordinal) && s.Value >= 1);

            // One silo with localhost clustering has no cluster side: no cluster series.
            Assert.DoesNotContain(scrape.Samples, s => s.Name.StartsWith("r1orleans:cluster_", StringComparison.Ordinal));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Directory.Delete(cache, recursive: true);
        }
    }
}
