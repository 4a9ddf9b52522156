using System.Diagnostics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using R1Orleans.Checkpoint;
using R1Orleans.Cluster;
using R1Orleans.Backend;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway;
using R1Orleans.Grains;
using BuiltIn = R1Orleans.BuiltInModel.BuiltInModel;

namespace R1Orleans.Silo;

/// <summary>
/// Loads the served model in the background once the host starts (so /health answers 503 meanwhile), with progress on
/// the console, then hands the engine to the gateway's <see cref="ModelHost"/>, registers the model with
/// <see cref="IModelRegistryGrain"/> and prints the start-up banner. A model that fails to load stops the silo with a
/// clear message and exit code 1. Owns the engine and disposes it on shutdown.
/// </summary>
public sealed partial class ModelLoaderService(
    IOptions<ModelOptions> modelOptions,
    IOptions<GatewayOptions> gatewayOptions,
    IOptions<SiloOptions> siloOptions,
    IOptions<ClusterServingOptions> clusterOptions,
    ModelHost modelHost,
    IGrainFactory grains,
    ILocalSiloDetails silo,
    IServer server,
    IHostApplicationLifetime lifetime,
    IServiceProvider services,
    ILogger<ModelLoaderService> logger) : BackgroundService
{
    /// <summary>This silo's side of the cluster (redis clustering), or null for a single silo.</summary>
    private readonly ClusterNode? _cluster = services.GetService<ClusterNode>();

    private InferenceEngine? _engine;
    private ServedModelRecord? _record;

    /// <summary>True when loading failed (the silo is stopping).</summary>
    public bool Failed { get; private set; }

    /// <summary>Completes when the model is served (or faults when loading failed).</summary>
    public Task<ServedModelRecord> Ready => _ready.Task;

    private readonly TaskCompletionSource<ServedModelRecord> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ModelOptions options = modelOptions.Value;
        try
        {
            // The load is synchronous and long: keep it off the host's start-up path. It cannot be interrupted, so a
            // shutdown during the load stops waiting for it and disposes what it returns later.
            Task<(InferenceEngine, ServedModelRecord)> loading = Task.Run(() => Load(options), CancellationToken.None);
            (InferenceEngine engine, ServedModelRecord record) result;
            try
            {
                result = await loading.WaitAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _ = loading.ContinueWith(t => t.Result.Item1.DisposeAsync().AsTask(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                throw;
            }

            (InferenceEngine engine, ServedModelRecord record) = result;
            _engine = engine;
            services.GetService<ClusterMetrics>()?.ObserveRank(engine);
            if (_cluster is not null)
            {
                // A rank steps only once a committed placement says who holds every expert.
                modelHost.SetLoadingStatus("waiting for the cluster's expert placement");
                await _cluster.Ready.WaitAsync(stoppingToken).ConfigureAwait(false);
            }

            modelHost.SetReady(engine, new ServedModelInfo(
                record.ModelId,
                "r1orleans",
                Describe(options, record),
                CreatedAt(record.Directory)));
            _record = record;
            await RegisterAsync(record).ConfigureAwait(false);
            _ready.TrySetResult(record);

            // The banner needs the bound addresses, known once the server has started.
            await WhenStarted(stoppingToken).ConfigureAwait(false);
            if (!stoppingToken.IsCancellationRequested)
            {
                LoadConsole.PrintBanner(record, Describe(options, record), Addresses(), Clustering());
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _ready.TrySetCanceled(stoppingToken);
        }
        catch (Exception e)
        {
            Failed = true;
            Environment.ExitCode = 1;
            modelHost.SetLoadingStatus($"failed: {e.Message}");
            // A bad checkpoint is described by its message; anything else keeps its stack trace.
            LogLoadFailed(logger, Describe(e), IsCheckpointProblem(e) ? null : e);

            // Stopping while the host still starts would fail its start with a bare cancellation: wait until it has started.
            await WhenStarted(stoppingToken).ConfigureAwait(false);
            lifetime.StopApplication();
            _ready.TrySetException(e);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_record is { } record)
        {
            try
            {
                await grains.GetGrain<IModelRegistryGrain>(IModelRegistryGrain.DefaultKey)
                    .Unregister(record.ModelId, record.Silo).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogUnregisterFailed(logger, e.Message);
            }
        }

        if (_engine is { } engine)
        {
            // A cluster silo's drain began as the host started stopping: its rank hands off or finishes its requests and
            // its experts move; the engine serves until then (services stop in reverse order, so this one stops first).
            if (_cluster is { } node)
            {
                try
                {
                    await node.Drained.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // The host's shutdown timeout: go anyway (the gateways resume what is left on other ranks).
                }
            }

            await engine.DisposeAsync().ConfigureAwait(false);
        }
    }

    private (InferenceEngine, ServedModelRecord) Load(ModelOptions options)
    {
        var clock = Stopwatch.StartNew();
        string directory;
        if (options.IsBuiltIn)
        {
            string cache = string.IsNullOrWhiteSpace(options.CacheDirectory) ? BuiltIn.DefaultCacheDirectory : options.CacheDirectory;
            modelHost.SetLoadingStatus("preparing the built-in model");
            directory = BuiltIn.EnsureCreated(cache, new Reporter(s =>
            {
                modelHost.SetLoadingStatus(s);
                LogBuiltIn(logger, s);
            }));
        }
        else
        {
            directory = options.CheckpointDirectory!;
        }

        string id = options.Name ?? (options.IsBuiltIn ? BuiltIn.Name : options.IsShipped ? ModelOptions.ShippedModelName : Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)));
        LogLoading(logger, id, directory);
        var tracker = new LoadTracker(LoadPlan.FromCheckpoint(directory));
        IComputeBackend? backend = ComputeDevice.Parse(options.Device) is { IsCuda: true } device ? BackendFactory.Create(device) : null;
        if (backend is CudaBackend gpu)
        {
            LogDevice(logger, gpu.Name, DeviceModelAccelerator.ModeDescription());
        }
        var engineOptions = new InferenceEngineOptions
        {
            KvCacheTokens = options.KvCacheTokens,
            Threads = options.Threads,
            Backend = backend,
            Accelerator = backend is CudaBackend cuda ? DeviceModelAccelerator.For(cuda) : null,
            UseCorrectionBias = options.GateBias,
            // On a cluster the load balancer grain balances one bias for all silos and pushes it to this engine.
            OnlineGateBias = _cluster is null ? options.OnlineGateBias : null,
            Exchange = _cluster?.RankExchange,
            AllowNonfiniteWeights = options.AllowNonfiniteWeights,
            Scheduler = new SchedulerConfig
            {
                MaxNumSeqs = options.MaxNumSeqs,
                MaxNumBatchedTokens = options.MaxNumBatchedTokens,
                SpeculativeMtp = options.SpeculativeMtp,
                MaxWaiting = gatewayOptions.Value.MaxWaiting,
            },
        };
        InferenceEngine engine = LoadConsole.Run(tracker, logger, s => modelHost.SetLoadingStatus($"loading {s.Describe()}"),
            () => InferenceEngine.Load(directory, engineOptions, tracker.OnStage));
        LoadSnapshot done = tracker.Snapshot();
        LogLoaded(logger, id, Units.Bytes(done.TotalBytes), done.TotalTensors, done.Elapsed.TotalSeconds, Units.Bytes((long)done.BytesPerSecond), done.TensorsPerSecond);
        if (engine.Core.KvCacheLimit < engine.Config.MaxPositionEmbeddings)
        {
            LogContextCapped(logger, engine.Core.MaxModelLen, engine.Config.MaxPositionEmbeddings, options.KvCacheTokens);
        }

        ModelConfig c = engine.Config;
        var record = new ServedModelRecord(
            id,
            silo.SiloAddress.ToString(),
            directory,
            options.IsBuiltIn,
            new ModelConfigSummary(c.NumHiddenLayers, c.HiddenSize, c.NRoutedExperts, c.NumExpertsPerTok, c.VocabSize, c.MaxPositionEmbeddings,
                c.Quantization is not null, engine.HasMtpLayer),
            DateTimeOffset.UtcNow,
            clock.Elapsed.TotalSeconds);
        return (engine, record);
    }

    private async Task RegisterAsync(ServedModelRecord record)
    {
        try
        {
            await grains.GetGrain<IModelRegistryGrain>(IModelRegistryGrain.DefaultKey).Register(record).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Serving does not depend on the registry; say so and go on.
            LogRegisterFailed(logger, e.Message);
        }
    }

    private Task WhenStarted(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        stoppingToken.Register(() => started.TrySetResult());
        return started.Task;
    }

    private string Clustering()
    {
        SiloOptions s = siloOptions.Value;
        return s.UsesRedis
            ? $"redis clustering ({s.Redis}), cluster {s.ClusterId}, node {clusterOptions.Value.NodeName}"
            : "localhost clustering";
    }

    private IReadOnlyList<string> Addresses() =>
        server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    private static DateTimeOffset CreatedAt(string directory)
    {
        string config = Path.Combine(directory, "config.json");
        return File.Exists(config) ? new DateTimeOffset(File.GetLastWriteTimeUtc(config), TimeSpan.Zero) : DateTimeOffset.UtcNow;
    }

    /// <summary>What the served model is, for /v1/models and the start-up banner.</summary>
    internal static string Describe(ModelOptions options, ServedModelRecord record) =>
        record.RandomWeights
            ? "built-in RANDOM-weight model: output is noise (for exercising the pipeline and large synthetic configurations)"
            : options.IsShipped
                ? ModelOptions.ShippedModelDescription
                : $"checkpoint {record.Directory}";

    private static bool IsCheckpointProblem(Exception e) =>
        e is ConfigException or CheckpointFormatException or IOException or UnauthorizedAccessException or InvalidDataException or NotSupportedException;

    private static string Describe(Exception e) => IsCheckpointProblem(e) ? e.Message : $"{e.GetType().Name}: {e.Message}";

    private sealed class Reporter(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Status}")]
    private static partial void LogBuiltIn(ILogger logger, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "device {Device}: {Mode}")]
    private static partial void LogDevice(ILogger logger, string device, string mode);

    [LoggerMessage(Level = LogLevel.Information, Message = "loading model {ModelId} from {Directory}")]
    private static partial void LogLoading(ILogger logger, string modelId, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "loaded {ModelId}: {Bytes} in {Tensors} tensors in {Seconds:0.00} s ({Rate}/s, {TensorRate:0} tensors/s)")]
    private static partial void LogLoaded(ILogger logger, string modelId, string bytes, int tensors, double seconds, string rate, double tensorRate);

    [LoggerMessage(Level = LogLevel.Warning, Message = "requests are limited to {MaxModelLen} tokens (prompt + output), less than the model's {MaxPositions} positions: the KV cache holds {KvCacheTokens} (raise --kv-cache-tokens)")]
    private static partial void LogContextCapped(ILogger logger, int maxModelLen, int maxPositions, int kvCacheTokens);

    [LoggerMessage(Level = LogLevel.Critical, Message = "the model failed to load: {Reason}; the silo stops")]
    private static partial void LogLoadFailed(ILogger logger, string reason, Exception? exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not register the model with the model registry grain: {Reason}")]
    private static partial void LogRegisterFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not unregister the model from the model registry grain: {Reason}")]
    private static partial void LogUnregisterFailed(ILogger logger, string reason);
}
