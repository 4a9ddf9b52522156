using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace R1Orleans.Gateway;

/// <summary>
/// Exports the process's metrics as Prometheus text at GET (and HEAD) /metrics through OpenTelemetry: R1Orleans'
/// meters, ASP.NET Core's and the .NET runtime's, plus whatever meters the host adds (the silo: Orleans' own and the
/// cluster's). R1Orleans' instruments are named <c>r1orleans.NAME</c>; a view renames each to <c>r1orleans:NAME</c>,
/// the names the hand-written exposition had, and the exporter appends the unit (<c>_seconds</c>, <c>_bytes</c>) and
/// <c>_total</c> to counters as Prometheus names them. Scrapes are not cached, and no scope labels or target_info
/// series are added, so a series reads as it did before the move.
/// </summary>
public static class GatewayTelemetry
{
    public const string MetricsPath = "/metrics";

    /// <summary>The Prometheus prefix of R1Orleans' metrics (vLLM's <c>vllm:</c>, ours).</summary>
    public const string PrometheusPrefix = "r1orleans:";

    /// <summary>
    /// Series of expert_tokens_total one scrape may carry: (MoE layers + MTP) × routed experts (DeepSeek-V3: 59 × 256;
    /// Kimi-K2: 61 × 384) is far above OpenTelemetry's default of 2,000 series per metric.
    /// </summary>
    internal const int ExpertTokenSeries = 32_768;

    /// <summary>Registers OpenTelemetry's meter provider with the Prometheus exporter (called by <see cref="GatewayExtensions.AddR1Gateway"/>).</summary>
    public static IServiceCollection AddR1Metrics(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddMetrics();
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics
                .AddMeter(GatewayMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter(o =>
                {
                    o.ScrapeResponseCacheDurationMilliseconds = 0;
                    o.ScopeInfoEnabled = false;
                    o.TargetInfoEnabled = false;
                });

            // The view needs this host's meter factory: hosts that share a process (tests, Orleans' in-process test
            // clusters) each export their own instruments only.
            ((IDeferredMeterProviderBuilder)metrics).Configure((sp, builder) =>
            {
                IMeterFactory own = sp.GetRequiredService<IMeterFactory>();
                builder.AddView(instrument => View(instrument, own));
            });
        });
        return services;
    }

    /// <summary>Adds meters to the exported ones, e.g. <c>Microsoft.Orleans</c> in a host that runs Orleans.</summary>
    public static IServiceCollection AddR1MetricsMeters(this IServiceCollection services, params string[] meterNames)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddMeter(meterNames));
        return services;
    }

    /// <summary>Maps the Prometheus scrape at GET and HEAD /metrics (other methods: 405 with Allow).</summary>
    public static IEndpointConventionBuilder MapR1Metrics(this IEndpointRouteBuilder app) =>
        app.MapPrometheusScrapingEndpoint(MetricsPath).WithMetadata(new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]));

    /// <summary>The metric stream of one instrument: another host's is dropped, R1Orleans' renamed, others as they are.</summary>
    internal static MetricStreamConfiguration? View(Instrument instrument, IMeterFactory own)
    {
        if (instrument.Meter.Scope is IMeterFactory scope && !ReferenceEquals(scope, own))
        {
            return MetricStreamConfiguration.Drop;
        }

        if (!instrument.Name.StartsWith(GatewayMetrics.InstrumentPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        string name = instrument.Name[GatewayMetrics.InstrumentPrefix.Length..];
        return new MetricStreamConfiguration
        {
            Name = PrometheusPrefix + name,
            CardinalityLimit = name == GatewayMetrics.ExpertTokens ? ExpertTokenSeries : null,
        };
    }
}
