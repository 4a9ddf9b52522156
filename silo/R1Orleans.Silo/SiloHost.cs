using System.Net;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using R1Orleans.Cluster;
using R1Orleans.Cuda.Forward;
using R1Orleans.Gateway;
using R1Orleans.Gateway.Membership;
using R1Orleans.Grains;
using R1Orleans.Grains.Balancing;
using R1Orleans.Silo.Membership;
using R1Orleans.Silo.Startup;

namespace R1Orleans.Silo;

/// <summary>
/// Builds and runs r1-silo: one Orleans silo (localhost clustering) co-hosted with ASP.NET Core, the OpenAI-compatible
/// gateway on http://127.0.0.1:8000 unless <c>--urls</c> (or <c>urls</c> in any configuration source) says otherwise,
/// and a background service that loads the model (<c>--model DIR</c>; without it the shipped trained r1orleans-tiny;
/// <c>--model builtin-random</c> the generated random-weight model) so that /health
/// answers 503 until it is ready.
/// </summary>
/// <remarks>
/// Configuration, lowest priority first: appsettings.json, appsettings.{Environment}.json, environment variables
/// (plain, and prefixed R1ORLEANS_, e.g. <c>R1ORLEANS_Model__Path</c>), the command line (<c>--Model:Path DIR</c>,
/// or the short switches in <see cref="SwitchMappings"/>).
/// </remarks>
public static class SiloHost
{
    public const string DefaultUrl = "http://127.0.0.1:8000";

    public const string EnvironmentPrefix = "R1ORLEANS_";

    /// <summary>The meter of Orleans' own instruments (orleans-* names: membership, messaging, grains, directory).</summary>
    public const string OrleansMeterName = "Microsoft.Orleans";

    /// <summary>Short command-line switches and the configuration keys they set.</summary>
    public static readonly IReadOnlyDictionary<string, string> SwitchMappings = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--model"] = "Model:Path",
        ["--served-model-name"] = "Model:Name",
        ["--cache-dir"] = "Model:CacheDirectory",
        ["--kv-cache-tokens"] = "Model:KvCacheTokens",
        ["--max-num-seqs"] = "Model:MaxNumSeqs",
        ["--max-num-batched-tokens"] = "Model:MaxNumBatchedTokens",
        ["--speculative-mtp"] = "Model:SpeculativeMtp",
        ["--threads"] = "Model:Threads",
        ["--device"] = "Model:Device",
        ["--gate-bias"] = "Model:GateBias",
        ["--online-bias"] = "Model:OnlineBias",
        ["--bias-gamma"] = "Model:BiasGamma",
        ["--bias-max-drift"] = "Model:BiasMaxDrift",
        ["--bias-window-steps"] = "Model:BiasWindowSteps",
        ["--allow-nonfinite-weights"] = "Model:AllowNonfiniteWeights",
        ["--generation-config"] = "Gateway:GenerationConfig",
        ["--silo-port"] = "Silo:SiloPort",
        ["--gateway-port"] = "Silo:GatewayPort",
        ["--clustering"] = "Silo:Clustering",
        ["--redis"] = "Silo:Redis",
        ["--cluster-id"] = "Silo:ClusterId",
        ["--node"] = "Cluster:Node",
        ["--no-http"] = "Cluster:NoHttp",
        ["--expert-replicas"] = "Cluster:ExpertReplicas",
        ["--max-nodes-per-token"] = "Cluster:MaxNodesPerToken",
        ["--exchange"] = "Cluster:Exchange",
        ["--fault-injection"] = "Cluster:FaultInjection",
        ["--redundant-experts"] = "Cluster:RedundantExperts",
        ["--rebalance-interval"] = "Cluster:RebalanceIntervalSeconds",
        ["--bias-interval"] = "Cluster:BiasIntervalSeconds",
    };

    /// <summary>Switches that may be given without a value (meaning true).</summary>
    private static readonly string[] s_flags = ["--speculative-mtp", "--no-http", "--allow-nonfinite-weights", "--fault-injection", "--online-bias"];

    /// <summary>The configuration sections the silo binds, and their options types (their keys and values are checked at start).</summary>
    public static readonly IReadOnlyDictionary<string, Type> OptionSections = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        [ModelOptions.Section] = typeof(ModelOptions),
        [GatewayOptions.SectionName] = typeof(GatewayOptions),
        [SiloOptions.Section] = typeof(SiloOptions),
        [ClusterServingOptions.Section] = typeof(ClusterServingOptions),
    };

    public const string Usage = """
        r1-silo: serves a DeepSeek-V3/R1-architecture model over an OpenAI-compatible HTTP API, on one Orleans silo.

        Usage: r1-silo [options]

          --model DIR                   a Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json,
                                        tokenizer_config.json); without it, r1orleans-tiny, the tiny DeepSeek-V3-architecture
                                        model trained in this repository (models/r1orleans-tiny); `--model builtin-random`
                                        serves a generated model with RANDOM weights (pipeline tests)
          --served-model-name NAME      the model id clients send (default: r1orleans-tiny, r1orleans-builtin-random or
                                        the directory name)
          --urls URL[;URL]              where HTTP listens (default http://127.0.0.1:8000)
          --cache-dir DIR               where the random built-in model is generated (default ~/.cache/r1orleans)
          --kv-cache-tokens N           positions the KV cache holds across sequences (default 65536)
          --max-num-seqs N              sequences running at once (default 64)
          --max-num-batched-tokens N    tokens per engine step (default 256)
          --speculative-mtp [true|false] draft with the MTP layer, verify next step (greedy requests)
          --threads N                   CPU threads for the math (default: all cores)
          --device cpu|cuda:N           where the math runs (default cpu); cuda:N needs the NVIDIA driver and NVRTC
          --generation-config auto|none sampling defaults for parameters a request leaves out: the checkpoint's
                                        generation_config.json, then OpenAI's (auto, default), or OpenAI's only
          --gate-bias true|false        route with the checkpoint's e_score_correction_bias (default true; false is an
                                        ablation: compare r1orleans:expert_load_imbalance in /metrics)
          --online-bias [true|false]    adjust each MoE layer's gate bias online against the measured expert load
                                        (auxiliary-loss-free: b ← b − γ·sign(load − mean)); off by default: it changes
                                        the outputs (r1orleans:gate_bias_* in /metrics; docs/BENCHMARKS.md has its cost)
          --bias-gamma X                the bias update speed γ per window (default 0.001, DeepSeek-V3's)
          --bias-max-drift X            the most a bias may move from the checkpoint's (default 0.02)
          --bias-window-steps N         engine steps per load window; the bias is updated after each (default 64; one silo)
                                        (on a cluster the load balancer updates one bias from every silo's load and
                                        pushes it to all; --bias-interval S sets its period, default 2 seconds)
          --allow-nonfinite-weights     serve a checkpoint whose weights hold NaN or ±Inf (refused by default, naming the tensor)
          --silo-port N, --gateway-port N   Orleans ports (default 11111 and 30000); a second silo on the same machine
                                        needs its own --urls, --silo-port and --gateway-port (a port in use stops the start)

        Cluster:
          --clustering localhost|redis  localhost: one silo (default); redis: silos that share a Redis membership table
          --redis HOST:PORT             the membership table's Redis (run it with --appendonly yes)
          --cluster-id ID               the cluster's name (default r1orleans); silos with the same id form one cluster
          --node NAME                   the machine this silo runs on, as the node limit counts it (default: host name)
          --no-http                     a worker silo: an attention rank and expert holder without the HTTP gateway
          --expert-replicas N           copies of each routed expert across silos (default 1)
          --max-nodes-per-token N       most nodes one token's experts may span (default 4)
          --exchange ucx|orleans        the data plane between silos: UCX (default; UCX_TLS etc. apply) or grain calls
          --redundant-experts N         expert slots per MoE layer the load balancer fills with copies of hot experts (0)
          --rebalance-interval S        seconds between automatic rebalances on a cluster (60; 0: only when asked with
                                        r1 experts rebalance); a rebalance keeps every expert's --expert-replicas copies
          --fault-injection             let the control plane slow this silo's expert replies (the chaos harness's
                                        delay fault: POST /cluster/faults/delay); never in production

        A cluster silo also answers POST /cluster/drain?silo=SILO (r1 cluster drain): that silo drains as on SIGTERM;
        POST /cluster/experts/rebalance (r1 experts rebalance) plans and hot-swaps a placement for the measured load.

        Any setting can also be given as --Section:Key VALUE, as an environment variable R1ORLEANS_Section__Key, or in
        appsettings.json (sections Model, Gateway, Silo, Cluster). An unknown switch or a value of the wrong type is an error.
        Exit codes: 0 stopped cleanly, 2 bad settings (a switch, a value, a port in use), 1 the model failed to load.
        """;

    /// <summary>Builds the application without starting it; <paramref name="configure"/> may adjust the builder (tests).</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (new CommandLineCheck(SwitchMappings, s_flags, OptionSections).Problems(args) is { Count: > 0 } switchProblems)
        {
            throw new SettingsException(switchProblems);
        }

        string[] normalized = NormalizeFlags(args);
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = normalized,
            ApplicationName = typeof(SiloHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });

        // R1ORLEANS_ variables and the short switches; the command line stays the highest priority.
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddCommandLine(normalized, SwitchMappings.ToDictionary());
        if (SettingValues.Problems(builder.Configuration, OptionSections, SwitchMappings) is { Count: > 0 } valueProblems)
        {
            throw new SettingsException(valueProblems);
        }

        SiloOptions silo = Bind<SiloOptions>(builder.Configuration, SiloOptions.Section, new SiloOptionsValidator());
        ClusterServingOptions cluster = Bind<ClusterServingOptions>(builder.Configuration, ClusterServingOptions.Section, new ClusterServingOptionsValidator());
        if (cluster.NoHttp)
        {
            // A worker silo: the application is built as usual, but no server listens.
            builder.WebHost.UseServer(new NoHttpServer());
        }
        else if (string.IsNullOrWhiteSpace(builder.Configuration[WebHostDefaults.ServerUrlsKey])
            && !builder.Configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Services.AddOptions<ModelOptions>().Bind(builder.Configuration.GetSection(ModelOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ModelOptions>, ModelOptionsValidator>();
        builder.Services.AddSingleton(Options.Create(silo));
        builder.Services.AddSingleton(Options.Create(cluster));
        builder.UseOrleans(s => OrleansClustering.Configure(s, silo));
        if (silo.UsesRedis)
        {
            // The membership table's Redis: its state shown by /health and /cluster/status; the table written back
            // when Redis comes back without it (docs/FAILOVER.md, "Redis outages and restarts").
            builder.Services.AddSingleton<MembershipStoreStatus>();
            builder.Services.AddHostedService<MembershipTableKeeper>();

            // A cluster member: joins the placement directory, holds its share of the experts, steps its rank across silos.
            ModelOptions model = Bind<ModelOptions>(builder.Configuration, ModelOptions.Section, new ModelOptionsValidator());
            string directory = model.CheckpointDirectory
                ?? throw new SettingsException("--model builtin-random cannot be served by a cluster: give every silo the same checkpoint directory (--model DIR, or none for r1orleans-tiny)");
            builder.Services.AddR1Cluster(new ClusterNodeOptions
            {
                ModelDirectory = directory,
                Node = cluster.NodeName,
                ExpertReplicas = cluster.ExpertReplicas,
                MaxNodesPerToken = cluster.MaxNodesPerToken,
                StepDeadline = TimeSpan.FromSeconds(cluster.StepDeadlineSeconds),
                Exchange = cluster.Exchange.ToLowerInvariant(),
                FaultInjection = cluster.FaultInjection,
                RedundantExperts = cluster.RedundantExperts,
                RebalanceInterval = cluster.RebalanceIntervalSeconds > 0 ? TimeSpan.FromSeconds(cluster.RebalanceIntervalSeconds) : null,

                // Bias mode on a cluster: the load balancer moves one bias against every silo's load and pushes it to
                // all (each rank balancing its own would make a request's output depend on the rank that runs it).
                OnlineBias = model.OnlineBias ? new ClusterGateBiasOptions(model.BiasGamma, model.BiasMaxDrift, TimeSpan.FromSeconds(cluster.BiasIntervalSeconds)) : null,
            });
        }

        builder.Services.AddR1Gateway(builder.Configuration);

        // The control plane's reports carry NaN where there is no figure yet (an imbalance before any load was measured):
        // written as "NaN" rather than failing the response.
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals);

        // /metrics also carries Orleans' own meter (membership, messaging, grains), the cluster's, and on a GPU the device
        // forward's step phases (r1orleans:device_step_phase, DeviceStepMetrics).
        builder.Services.AddR1MetricsMeters(OrleansMeterName, ClusterMetrics.MeterName, MembershipTableKeeper.MeterName, DeviceStepMetrics.MeterName);
        builder.Services.AddSingleton<ModelLoaderService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ModelLoaderService>());

        configure?.Invoke(builder);

        WebApplication app = builder.Build();
        app.MapR1Gateway();

        // The control plane's view: which silos serve which models (from IModelRegistryGrain).
        app.MapGet("/cluster/models", async (IGrainFactory grains) =>
            Results.Ok(await grains.GetGrain<IModelRegistryGrain>(IModelRegistryGrain.DefaultKey).List().ConfigureAwait(false)));
        // A silo that runs alone (localhost clustering) has no placement: the cluster endpoints say so plainly.
        const string Alone = "this silo runs alone (--clustering localhost): it has no cluster placement; start silos with --clustering redis";
        app.MapGet("/cluster/status", async (IGrainFactory grains, IServiceProvider services) =>
            services.GetService<ClusterNode>() is { } node
                ? Results.Ok(await ClusterStatus.ReadAsync(grains, node, services.GetService<MembershipStoreStatus>()?.Report).ConfigureAwait(false))
                : Results.NotFound(new { error = Alone }));
        app.MapGet("/cluster/experts", async (IGrainFactory grains, IServiceProvider services, int? layer) =>
            services.GetService<ClusterNode>() is { } node
                ? Results.Ok(await ClusterStatus.ReadExpertsAsync(grains, node, layer).ConfigureAwait(false))
                : Results.NotFound(new { error = Alone }));

        // The load balancer: its state, and a rebalance now (r1 experts rebalance).
        app.MapGet("/cluster/balancer", async (IGrainFactory grains, IServiceProvider services) =>
            services.GetService<ClusterNode>() is null
                ? Results.NotFound(new { error = Alone })
                : Results.Ok(await grains.GetGrain<ILoadBalancerGrain>(LoadStreams.Key).Report().ConfigureAwait(false)));
        app.MapPost("/cluster/experts/rebalance", async (IGrainFactory grains, IServiceProvider services) =>
            services.GetService<ClusterNode>() is null
                ? Results.NotFound(new { error = Alone })
                : Results.Ok(await grains.GetGrain<ILoadBalancerGrain>(LoadStreams.Key).Rebalance(force: true).ConfigureAwait(false)));

        // Operations on one member, from any silo (r1 cluster drain; the chaos harness's delay fault).
        app.MapPost("/cluster/drain", (IGrainFactory grains, IServiceProvider services, string? silo) =>
            Control(services, silo, "/cluster/drain?silo=SILO", () => ClusterControl.DrainAsync(grains, silo!)));
        app.MapPost("/cluster/faults/delay", (IGrainFactory grains, IServiceProvider services, string? silo, int? ms, double? seconds) =>
            Control(services, silo, "/cluster/faults/delay?silo=SILO&ms=MS&seconds=S", () => ms is null or < 0 || seconds is null or < 0
                ? throw new ArgumentException("give ms (the added delay, milliseconds) and seconds (how long), both at least 0")
                : ClusterControl.DelayAsync(grains, silo!, TimeSpan.FromMilliseconds(ms.Value), TimeSpan.FromSeconds(seconds.Value))));
        return app;
    }

    /// <summary>Runs one control operation: 404 alone, 400 for a bad or unknown silo or argument, 409 when the silo refuses.</summary>
    private static async Task<IResult> Control(IServiceProvider services, string? silo, string usage, Func<Task<ClusterControlReply>> operation)
    {
        if (services.GetService<ClusterNode>() is null)
        {
            return Results.NotFound(new { error = "this silo runs alone (--clustering localhost): it has no cluster to act on" });
        }

        if (string.IsNullOrWhiteSpace(silo))
        {
            return Results.BadRequest(new { error = $"name the silo: POST {usage}" });
        }

        try
        {
            return Results.Ok(await operation().ConfigureAwait(false));
        }
        catch (ArgumentException e)
        {
            return Results.BadRequest(new { error = e.Message });
        }
        catch (InvalidOperationException e)
        {
            return Results.Conflict(new { error = e.Message });
        }
    }

    /// <summary>
    /// Runs until stopped; returns the process exit code: 0 after a clean stop, 2 for bad settings (a switch, a value,
    /// a port in use), 1 when the model fails to load or the silo fails otherwise. Failures are one clear message on
    /// <paramref name="error"/> (standard error by default), never an unhandled exception.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter? error = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        error ??= Console.Error;
        if (args.Any(a => a is "--help" or "-h" or "-?"))
        {
            Console.Out.WriteLine(Usage);
            return 0;
        }

        WebApplication? app = null;
        try
        {
            app = Build(args);

            // Settings are checked again at start (ValidateOnStart); checking here first gives a clean message
            // instead of the host's start-up failure log.
            _ = app.Services.GetRequiredService<IOptions<ModelOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
            SiloOptions silo = app.Services.GetRequiredService<IOptions<SiloOptions>>().Value;
            if (!app.Services.GetRequiredService<IOptions<ClusterServingOptions>>().Value.NoHttp)
            {
                foreach (IPEndPoint http in PortCheck.HttpEndpoints(app.Configuration[WebHostDefaults.ServerUrlsKey] ?? DefaultUrl))
                {
                    PortCheck.EnsureFree(http.Address, http.Port, "HTTP", "--urls", "--urls http://127.0.0.1:PORT");
                }
            }

            PortCheck.EnsureFree(silo.Address, silo.SiloPort, "Orleans silo", "--silo-port", "--silo-port N");
            PortCheck.EnsureFree(silo.Address, silo.GatewayPort, "Orleans gateway", "--gateway-port", "--gateway-port N");
            DeviceProbe.EnsureAvailable(app.Services.GetRequiredService<IOptions<ModelOptions>>().Value.Device);
            if (silo.UsesRedis)
            {
                await RedisProbe.EnsureReachableAsync(silo.Redis!).ConfigureAwait(false);
            }

            ModelLoaderService loader = app.Services.GetRequiredService<ModelLoaderService>();
            try
            {
                // RunAsync disposes the application when it stops.
                await app.RunAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (loader.Failed)
            {
                return StartupFailure.Failed;
            }

            return loader.Failed ? StartupFailure.Failed : 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            (int code, IReadOnlyList<string> lines) = StartupFailure.Describe(e);
            foreach (string line in lines)
            {
                await error.WriteLineAsync(line).ConfigureAwait(false);
            }

            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }

            return code;
        }
    }

    /// <summary>Binds a section the host needs while it is built, and throws <see cref="SettingsException"/> for what the validator refuses.</summary>
    private static T Bind<T>(IConfiguration configuration, string section, IValidateOptions<T> validator)
        where T : class, new()
    {
        T options = configuration.GetSection(section).Get<T>() ?? new T();
        ValidateOptionsResult result = validator.Validate(null, options);
        return result.Failed ? throw new SettingsException([.. result.Failures ?? []]) : options;
    }

    /// <summary>A flag given without a value (<c>--speculative-mtp</c> last or before another switch) becomes <c>--speculative-mtp=true</c>.</summary>
    internal static string[] NormalizeFlags(string[] args)
    {
        var result = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            bool isFlag = s_flags.Contains(a, StringComparer.Ordinal);
            bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith('-');
            result.Add(isFlag && !hasValue ? a + "=true" : a);
        }

        return [.. result];
    }
}
