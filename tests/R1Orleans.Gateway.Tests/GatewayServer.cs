using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using R1Orleans.Engine.Api;

namespace R1Orleans.Gateway.Tests;

/// <summary>A real Kestrel server on 127.0.0.1 (a free port) running the gateway, as the silo would host it.</summary>
public sealed class GatewayServer : IAsyncDisposable
{
    public const string ModelId = "r1-tiny-random";

    private readonly WebApplication _app;

    private GatewayServer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
        Http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>http://127.0.0.1:PORT (no trailing slash).</summary>
    public string Url { get; }

    public HttpClient Http { get; }

    public ModelHost Host => _app.Services.GetRequiredService<ModelHost>();

    /// <summary>The application's services (the gateway's singletons).</summary>
    public IServiceProvider Services => _app.Services;

    public static ServedModelInfo Info { get; } =
        new(ModelId, "r1orleans-tests", "built-in random-weight model: output is noise", new DateTimeOffset(2025, 1, 20, 0, 0, 0, TimeSpan.Zero));

    /// <summary>
    /// Starts a gateway with the given "Gateway:*" settings; serving <paramref name="engine"/> at once when given;
    /// <paramref name="services"/> registers before the gateway's own (a rank router, say).
    /// </summary>
    public static async Task<GatewayServer> StartAsync(InferenceEngine? engine, IDictionary<string, string?>? settings = null, Action<WebApplication>? extra = null, Action<IServiceCollection>? services = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        services?.Invoke(builder.Services);
        builder.Services.AddR1Gateway(builder.Configuration);
        WebApplication app = builder.Build();
        app.MapR1Gateway();
        extra?.Invoke(app);
        if (engine is not null)
        {
            app.Services.GetRequiredService<ModelHost>().SetReady(engine, Info);
        }

        await app.StartAsync();
        string url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Assert.StartsWith("http://127.0.0.1:", url, StringComparison.Ordinal);
        return new GatewayServer(app, url.TrimEnd('/'));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
