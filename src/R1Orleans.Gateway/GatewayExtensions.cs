using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using R1Orleans.Gateway.Membership;
using R1Orleans.Gateway.Ranks;

namespace R1Orleans.Gateway;

/// <summary>Wires the gateway into an ASP.NET Core application (the silo, or a test's Kestrel on 127.0.0.1:0).</summary>
public static class GatewayExtensions
{
    /// <summary>
    /// Registers <see cref="ModelHost"/>, <see cref="GatewayMetrics"/>, the tokenizer gate, the request table, the rank
    /// router (this silo's engine unless a cluster registered its own first; singletons) and <see cref="GatewayOptions"/> bound
    /// from <paramref name="configuration"/>'s "Gateway" section, validated at startup; and the metrics export
    /// (<see cref="GatewayTelemetry.AddR1Metrics"/>).
    /// </summary>
    public static IServiceCollection AddR1Gateway(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddSingleton<ModelHost>();
        services.TryAddSingleton<GatewayMetrics>();
        services.TryAddSingleton<GatewayEndpoints>();
        services.TryAddSingleton<TokenizerGate>();
        services.TryAddSingleton<RequestTable>();
        services.TryAddSingleton<MembershipStoreStatus>();
        services.TryAddSingleton<IRankRouter, LocalRankRouter>();
        services.AddR1Metrics();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>());
        services.AddOptions<GatewayOptions>()
            .Bind(configuration.GetSection(GatewayOptions.SectionName))
            .ValidateOnStart();
        return services;
    }

    /// <summary>
    /// Adds the gateway's middleware (error envelopes, API keys on /v1/*) and maps POST /v1/chat/completions,
    /// POST /v1/completions, GET (and HEAD) /v1/models, /v1/models/{id}, /health and /metrics.
    /// </summary>
    public static WebApplication MapR1Gateway(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseMiddleware<GatewayErrorMiddleware>();
        app.UseMiddleware<ApiKeyMiddleware>();
        GatewayEndpoints endpoints = app.Services.GetRequiredService<GatewayEndpoints>();
        app.MapPost("/v1/chat/completions", (RequestDelegate)endpoints.ChatCompletionsAsync);
        app.MapPost("/v1/completions", (RequestDelegate)endpoints.CompletionsAsync);
        // HEAD wherever GET: Kestrel sends the same status and headers without the body.
        string[] get = [HttpMethods.Get, HttpMethods.Head];
        app.MapMethods("/v1/models", get, (RequestDelegate)endpoints.ModelsAsync);
        app.MapMethods("/v1/models/{**id}", get, (RequestDelegate)endpoints.ModelAsync);
        app.MapMethods("/health", get, (RequestDelegate)endpoints.HealthAsync);
        app.MapR1Metrics();
        return app;
    }
}
