using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using R1Orleans.Client.Chaos;
using R1Orleans.Cluster;
using R1Orleans.Grains.Balancing;
using R1Orleans.Silo;
using R1Orleans.Silo.Startup;
using R1Orleans.Tests.Shared;

namespace R1Orleans.BuiltInModel.Tests;

/// <summary>
/// <c>--online-bias</c> on a real silo serving r1orleans-tiny: off, the checkpoint's bias (version 0, no drift, no window
/// series); on, the bias moves after each window within its maximum drift and /metrics says so; on a cluster member the
/// load balancer does it. Bad settings are refused.
/// </summary>
public sealed class SiloOnlineBiasTests
{
    [Fact]
    public async Task Online_bias_updates_the_gate_bias_every_window_and_exports_version_drift_and_imbalance()
    {
        Scrape on = await ServeAndScrape("--online-bias", "--bias-window-steps", "2", "--bias-gamma", "0.01", "--bias-max-drift", "0.015");
        const string Model = "model_name=\"r1orleans-tiny\"";

        // Prefill and 11 decode steps (12 tokens): 5 windows of 2 steps closed, one version each.
        Assert.Equal(5, on.Value("r1orleans:gate_bias_windows_total", Model));
        Assert.Equal(5, on.Value("r1orleans:gate_bias_version", Model));
        (string Labels, double Value)[] drift = [.. on.Series("r1orleans:gate_bias_drift", Model)];
        Assert.Equal(4, drift.Length);
        Assert.All(drift, d => Assert.InRange(d.Value, 0, 0.015));
        Assert.Contains(drift, d => Math.Abs(d.Value - 0.015) < 1e-7);

        // The main model's MoE layers routed tokens in every window; the MTP layer (4) none, so it has no imbalance figure.
        foreach (string series in new[] { "r1orleans:gate_bias_imbalance_before", "r1orleans:gate_bias_imbalance_after" })
        {
            (string Labels, double Value)[] layers = [.. on.Series(series, Model)];
            Assert.Equal(3, layers.Length);
            Assert.All(layers, l => Assert.True(l.Value >= 1, $"{series} {l.Labels} = {l.Value}"));
            Assert.DoesNotContain(layers, l => l.Labels.Contains("layer=\"4\"", StringComparison.Ordinal));
        }

        Scrape off = await ServeAndScrape();
        Assert.Equal(0, off.Value("r1orleans:gate_bias_version", Model));
        Assert.All(off.Series("r1orleans:gate_bias_drift", Model), d => Assert.Equal(0, d.Value));
        Assert.Empty(off.Series("r1orleans:gate_bias_imbalance_before", Model));
        Assert.DoesNotContain(off.Samples, s => s.Name.StartsWith("r1orleans:gate_bias_windows", StringComparison.Ordinal));
    }

    [Fact]
    public void Online_bias_settings_are_checked_naming_the_setting_and_the_switch()
    {
        var validator = new ModelOptionsValidator();
        Assert.True(validator.Validate(null, new ModelOptions { OnlineBias = true }).Succeeded);
        string[] failures = [.. validator.Validate(null, new ModelOptions { OnlineBias = true, GateBias = false, BiasGamma = 0, BiasMaxDrift = -1, BiasWindowSteps = 0 }).Failures!];
        Assert.Contains(failures, f => f.StartsWith("Model:BiasGamma (--bias-gamma) is 0;", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Model:BiasMaxDrift (--bias-max-drift) is -1;", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Model:BiasWindowSteps (--bias-window-steps) is 0;", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("cannot run with Model:GateBias (--gate-bias) false", StringComparison.Ordinal));
        Assert.Contains(validator.Validate(null, new ModelOptions { BiasGamma = double.NaN }).Failures!, f => f.StartsWith("Model:BiasGamma", StringComparison.Ordinal));

        // Defaults: off, γ = 0.001, max drift 0.02, windows of 64 steps.
        var defaults = new ModelOptions();
        Assert.Null(defaults.OnlineGateBias);
        Assert.Equal(0.001, new ModelOptions { OnlineBias = true }.OnlineGateBias!.Gamma);
        Assert.Equal(0.02, new ModelOptions { OnlineBias = true }.OnlineGateBias!.MaxDrift);
        Assert.Equal(64, new ModelOptions { OnlineBias = true }.OnlineGateBias!.WindowSteps);
    }

    [Fact]
    public async Task Online_bias_on_a_cluster_member_is_left_to_the_load_balancer_with_its_interval()
    {
        // A cluster member does not balance its own bias: its cluster node carries bias mode's settings for the load
        // balancer grain, which pushes one bias to every silo.
        await using WebApplication app = SiloHost.Build(["--clustering", "redis", "--redis", "127.0.0.1:1", "--online-bias", "--bias-interval", "3", "--bias-gamma", "0.004", "--bias-max-drift", "0.05"]);
        ClusterGateBiasOptions bias = app.Services.GetRequiredService<ClusterNodeOptions>().OnlineBias!;
        Assert.Equal(new ClusterGateBiasOptions(0.004, 0.05, TimeSpan.FromSeconds(3)), bias);

        await using WebApplication off = SiloHost.Build(["--clustering", "redis", "--redis", "127.0.0.1:1"]);
        Assert.Null(off.Services.GetRequiredService<ClusterNodeOptions>().OnlineBias);

        var validator = new ClusterServingOptionsValidator();
        Assert.Contains(validator.Validate(null, new ClusterServingOptions { BiasIntervalSeconds = 0 }).Failures!, f => f.StartsWith("Cluster:BiasIntervalSeconds (--bias-interval)", StringComparison.Ordinal));
    }

    /// <summary>Starts a silo on r1orleans-tiny with <paramref name="extra"/>, completes 12 greedy tokens, and scrapes /metrics.</summary>
    private static async Task<Scrape> ServeAndScrape(params string[] extra)
    {
        WebApplication app = SiloHost.Build(
        [
            "--urls", "http://127.0.0.1:0",
            "--silo-port", LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture),
            "--gateway-port", LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture),
            "--kv-cache-tokens", "4096",
            "--Logging:LogLevel:Default", "Warning",
            .. extra,
        ]);
        try
        {
            await app.StartAsync();
            await app.Services.GetRequiredService<ModelLoaderService>().Ready.WaitAsync(TimeSpan.FromSeconds(60));
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
            using HttpResponseMessage response = await http.PostAsJsonAsync(new Uri("/v1/completions", UriKind.Relative), new
            {
                model = "r1orleans-tiny",
                prompt = "The LORD is my shepherd",
                max_tokens = 12,
                temperature = 0,
                ignore_eos = true,
            });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await Scrape.OfAsync(http);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
