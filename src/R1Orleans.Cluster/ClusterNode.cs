using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using R1Orleans.Backend;
using R1Orleans.Engine;
using R1Orleans.Grains.Balancing;
using R1Orleans.Grains.Cluster;
using R1Orleans.Grains.Ranks;
using R1Orleans.Grains.Routing;
using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;
using R1Orleans.Interop.Ucx;
using R1Orleans.Model;
using R1Orleans.Transport.Cluster;
using R1Orleans.Transport.Ucx;
using ClusterMember = R1Orleans.Placement.ClusterMember;

namespace R1Orleans.Cluster;

/// <summary>Where the silo's model is and how it serves in the cluster.</summary>
public sealed record ClusterNodeOptions
{
    /// <summary>The checkpoint every silo of the cluster loads.</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>The machine this silo runs on (the node limit counts nodes).</summary>
    public required string Node { get; init; }

    public int ExpertReplicas { get; init; } = 1;

    public int MaxNodesPerToken { get; init; } = ExpertRouter.DefaultMaxNodesPerToken;

    /// <summary>How long a rank's step waits for one holder.</summary>
    public TimeSpan StepDeadline { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the node asks the directory for a new placement.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long a silo keeps serving the versions before the committed one (and the experts only they needed), so that
    /// ranks still stepping with them finish; then they are retired and those experts dropped.
    /// </summary>
    public TimeSpan RetireGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The data plane between silos: "ucx" (default) or "orleans" (grain calls: the fallback, and in-process test clusters).</summary>
    public string Exchange { get; init; } = ExchangeUcx;

    public const string ExchangeUcx = "ucx";

    public const string ExchangeOrleans = "orleans";

    /// <summary>How long a stopping silo waits for the placement that no longer needs it.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Experts of one request that run at once on this holder.</summary>
    public int HolderParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Redundant expert slots per MoE layer the load balancer may fill with copies of hot experts (--redundant-experts).</summary>
    public int RedundantExperts { get; init; }

    /// <summary>How often this silo closes a window of expert load and publishes it to the load balancer.</summary>
    public TimeSpan LoadWindow { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the cluster's oldest silo asks the load balancer to rebalance (null: only when asked).</summary>
    public TimeSpan? RebalanceInterval { get; init; }

    /// <summary>Whether the control plane may inject faults here (<c>--fault-injection</c>: the chaos harness's reply delay).</summary>
    public bool FaultInjection { get; init; }

    /// <summary>Bias mode (<c>--online-bias</c>): the load balancer's gate-bias settings; null (the default) keeps the checkpoint's bias.</summary>
    public ClusterGateBiasOptions? OnlineBias { get; init; }
}

/// <summary>
/// A silo's side of the cluster: joins the placement directory with its model's config hash, loads the experts each
/// pending placement gives it (by tensor name, in the background), begins serving that version (the holder's fence),
/// acknowledges it, and publishes each committed placement to its rank, which takes it up at its next step. Leaves the
/// directory when the silo stops. Its <see cref="RankExchange"/> is what the silo's engine loads its model with.
/// </summary>
public sealed partial class ClusterNode : BackgroundService, ILocalExpertHolder, IPlacementPlannerSource, ILocalPlacement, ILoadBalancingSettings
{
    private readonly ClusterNodeOptions _options;
    private readonly IGrainFactory _grains;
    private readonly ILogger<ClusterNode> _logger;
    private readonly ExpertStore _store;
    private readonly HolderFence _fence = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PlacementStamp? _acknowledged;
    private DateTime _retireAfter = DateTime.MaxValue;
    private readonly UcxNode? _ucx;
    private readonly IClusterMembershipService? _membership;
    private volatile Dictionary<string, byte[]> _exchangeAddresses = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _drain = new();
    private Task? _drained;
    private readonly HashSet<string> _declaredDead = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, double[]> _weights = new();
    private readonly Func<int>? _requestsInFlight;
    private readonly Lazy<GateBias> _checkpointGateBias;

    /// <param name="requestsInFlight">Requests this silo's rank is running or holds waiting (a drain waits for them).</param>
    /// <param name="lifetime">When given, the drain begins as the host starts stopping (before any service stops, so the engine outlives it).</param>
    public ClusterNode(ClusterNodeOptions options, IGrainFactory grains, ILocalSiloDetails silo, ILogger<ClusterNode> logger, IClusterMembershipService? membership = null, Func<int>? requestsInFlight = null, IHostApplicationLifetime? lifetime = null)
    {
        _membership = membership;
        _requestsInFlight = requestsInFlight;
        lifetime?.ApplicationStopping.Register(BeginDrain);
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _grains = grains ?? throw new ArgumentNullException(nameof(grains));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        ArgumentNullException.ThrowIfNull(silo);
        Self = new ClusterMember(silo.SiloAddress.ToParsableString(), options.Node);
        _store = new ExpertStore(options.ModelDirectory);
        Planner = PlacementPlanner.For(_store.Config, options.ExpertReplicas);
        ModelHash = HashOf(Path.Combine(options.ModelDirectory, "config.json"));
        Holder = new ExpertHolder(new CpuBackend(1), options.HolderParallelism, _fence, _store.Get);
        _checkpointGateBias = new Lazy<GateBias>(() => _store.ReadGateBias(Layout));
        if (options.OnlineBias is not null)
        {
            // Read now: a checkpoint that cannot run bias mode stops the silo's start, naming the missing tensor.
            _ = _checkpointGateBias.Value;
        }
        if (string.Equals(options.Exchange, ClusterNodeOptions.ExchangeUcx, StringComparison.OrdinalIgnoreCase))
        {
            _ucx = new UcxNode(new UcxNodeOptions { Name = Self.Silo.Value });
            var ucx = new UcxExpertTransport(_ucx, s => _exchangeAddresses.GetValueOrDefault(s.Value) is { Length: > 0 } a ? a : null);
            ucx.Serve(Holder);
            ExchangeAddress = ucx.Address.ToArray();
            Transport = ucx;
        }
        else
        {
            Transport = new OrleansExpertTransport(grains);
        }
    }

    /// <summary>Where this silo's holder takes data-plane requests (its UCX worker address; empty over Orleans).</summary>
    public byte[] ExchangeAddress { get; } = [];

    public ClusterMember Self { get; }

    /// <summary>Orleans' membership (null in tests that build a node without it).</summary>
    public IClusterMembershipService? Membership => _membership;

    public PlacementPlanner Planner { get; }

    public ExpertLayout Layout => Planner.Layout;

    public int RedundantExperts => _options.RedundantExperts;

    public int ExpertReplicas => _options.ExpertReplicas;

    public ClusterGateBiasOptions? OnlineBias => _options.OnlineBias;

    public GateBias CheckpointGateBias => _checkpointGateBias.Value;

    /// <summary>This silo's settings (the load-window publisher reads its period and the rebalance interval).</summary>
    public ClusterNodeOptions Options => _options;

    /// <summary>SHA-256 of the model's config.json: silos of one cluster must agree on it.</summary>
    public string ModelHash { get; }

    public ExpertHolder? Holder { get; }

    public ExpertStore Experts => _store;

    public PlacementView View { get; } = new();

    /// <summary>The live placement (the router grain's view).</summary>
    public PlacementMap? Current => View.Current;

    public int MaxNodesPerToken => _options.MaxNodesPerToken;

    /// <summary>How this silo's rank reaches other silos' experts.</summary>
    public IExpertTransport Transport { get; set; }

    /// <summary>Completes once a committed placement is published (the rank may step).</summary>
    public Task Ready => _ready.Task;

    /// <summary>True once the live placement is the only one served here (older versions retired, their experts dropped).</summary>
    public bool Settled { get; private set; }

    /// <summary>Why the directory refused this silo, when it did.</summary>
    public string? Refusal { get; private set; }

    /// <summary>The exchange of this silo's rank, for <see cref="ModelLoadOptions.Exchange"/>.</summary>
    public ExpertExchangeFactory RankExchange => (_, _) =>
        RankExchangeInstance = new ClusterExpertExchange(Self, View, Transport, Holder!, _options.MaxNodesPerToken, _options.StepDeadline)
        {
            ReplicaPreference = PreferenceFor,
        };

    /// <summary>
    /// The load balancer's replica weights for <paramref name="map"/> (published with it), as the rank's replica
    /// preference; none for a map it did not plan (the router's own rule: local replica first).
    /// </summary>
    private IReplicaPreference? PreferenceFor(PlacementMap map) =>
        _weights.TryGetValue(map.Version, out double[]? w) && w.Length == map.ToData().HolderMembers.Length
            ? new WeightedReplicaPreference(ReplicaWeights.FromArray(map, w))
            : null;

    /// <summary>The exchange this silo's rank runs with, once its model is loaded.</summary>
    public ClusterExpertExchange? RankExchangeInstance { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        IPlacementDirectoryGrain directory = _grains.GetGrain<IPlacementDirectoryGrain>(IPlacementDirectoryGrain.DefaultKey);
        PlacementSnapshot? snapshot = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (snapshot is null || !snapshot.Members.Any(m => m.Silo == Self.Silo.Value))
                {
                    // With the epoch this silo serves: a directory that lost its state (its silo died) goes on above it.
                    var member = new ClusterMemberInfo(Self.Silo.Value, Self.Node.Value, ModelHash, ExchangeAddress, Math.Max(View.Current?.Epoch ?? 0, _fence.Current?.Epoch ?? 0));
                    JoinReply reply = await directory.Join(member).ConfigureAwait(false);
                    if (!reply.Joined)
                    {
                        Refusal = reply.Refusal;
                        LogRefused(_logger, reply.Refusal ?? "");
                        _ready.TrySetException(new InvalidOperationException(reply.Refusal));
                        return;
                    }

                    snapshot = reply.Snapshot;
                    if (await OlderSiloWithAnotherModelAsync().ConfigureAwait(false) is { } other)
                    {
                        // The directory's record of the model can be lost or duplicated (its activation moved, or two at
                        // once): the silos themselves agree, and the younger of two that differ goes.
                        Refusal = $"silo {Self.Silo} loaded a model whose config hash is {ModelHash}; silo {other.Silo} serves {other.Hash}: every silo of a cluster must load the same --model";
                        LogRefused(_logger, Refusal);
                        await directory.Leave(Self.Silo.Value).ConfigureAwait(false);
                        _ready.TrySetException(new InvalidOperationException(Refusal));
                        return;
                    }
                }

                await LeaveForTheDeadAsync(directory, snapshot).ConfigureAwait(false);
                snapshot = await ApplyAsync(directory, snapshot, stoppingToken).ConfigureAwait(false);
                await Task.Delay(_options.PollInterval, stoppingToken).ConfigureAwait(false);
                snapshot = await directory.Snapshot().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && e is not OutOfMemoryException)
            {
                // The directory's silo may be gone or starting, or its placement older than what is served here (it lost
                // its state): join again. Never let the silo stop for it.
                LogRetry(_logger, e.Message);
                snapshot = null;
                await Task.Delay(_options.PollInterval, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>An active silo that started before this one and serves another model (by config hash), or null.</summary>
    private async Task<(string Silo, string Hash)?> OlderSiloWithAnotherModelAsync()
    {
        if (_membership is null)
        {
            return null;
        }

        SiloAddress self = SiloAddress.FromParsableString(Self.Silo.Value);
        foreach (Orleans.Runtime.ClusterMember m in _membership.CurrentSnapshot.Members.Values)
        {
            if (m.Status != SiloStatus.Active || m.SiloAddress.Equals(self) || m.SiloAddress.Generation > self.Generation)
            {
                continue;
            }

            try
            {
                string hash = await _grains.GetGrain<IRankGrain>(m.SiloAddress.ToParsableString()).ModelHash().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                if (!string.Equals(hash, ModelHash, StringComparison.Ordinal))
                {
                    return (m.SiloAddress.ToParsableString(), hash);
                }
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
            {
                // Not a cluster member (yet), or gone: nothing to compare with.
            }
        }

        return null;
    }

    /// <summary>
    /// Members that Orleans' membership declared dead leave the directory (any silo may tell it; leaving is idempotent):
    /// the next placement gives their experts to the survivors, and ranks waiting on them continue with it.
    /// </summary>
    private async Task LeaveForTheDeadAsync(IPlacementDirectoryGrain directory, PlacementSnapshot snapshot)
    {
        if (_membership is null)
        {
            return;
        }

        ClusterMembershipSnapshot alive = _membership.CurrentSnapshot;
        foreach (ClusterMemberInfo m in snapshot.Members)
        {
            SiloAddress address = SiloAddress.FromParsableString(m.Silo);
            if (alive.GetSiloStatus(address) == SiloStatus.Dead)
            {
                if (_declaredDead.Add(m.Silo))
                {
                    SiloDeclaredDead?.Invoke(m.Silo, RankExchangeInstance?.Suspects.SuspectedFor(new SiloId(m.Silo)));
                }

                LogDead(_logger, m.Silo, m.Node);
                await directory.Leave(m.Silo).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Loads and acknowledges a pending map that includes this silo; publishes the committed map.</summary>
    private async Task<PlacementSnapshot> ApplyAsync(IPlacementDirectoryGrain directory, PlacementSnapshot snapshot, CancellationToken stoppingToken)
    {
        _exchangeAddresses = snapshot.Members.ToDictionary(m => m.Silo, m => m.ExchangeAddress, StringComparer.Ordinal);
        if (snapshot.Pending is { } pendingDto)
        {
            PlacementMap pending = pendingDto.ToMap();
            if (pending.IndexOf(Self.Silo) >= 0 && _acknowledged != pending.Stamp)
            {
                int loaded = await Task.Run(() => _store.Load(pending, Self.Silo), stoppingToken).ConfigureAwait(false);
                // The committed version stays served (this silo's rank and the others step with it until the switch);
                // a pending one superseded before its commit is dropped.
                _fence.BeginKeeping(pending.Stamp, View.Current?.Stamp);
                _acknowledged = pending.Stamp;
                Settled = false;
                LogLoaded(_logger, loaded, _store.Count, pending.Stamp.ToString());
                snapshot = await directory.Acknowledge(Self.Silo.Value, pending.Stamp.Version, pending.Stamp.Epoch).ConfigureAwait(false);
            }
        }

        if (snapshot.Committed is { } committedDto && (View.Current is null || View.Current.Stamp.Epoch < committedDto.Epoch))
        {
            PlacementMap committed = committedDto.ToMap();
            if (_fence.Serves(committed.Stamp) || committed.IndexOf(Self.Silo) < 0)
            {
                if (committedDto.Weights is { } weights)
                {
                    _weights[committed.Version] = weights;
                }

                foreach (long old in _weights.Keys.Where(v => v < committed.Version - 4))
                {
                    _weights.TryRemove(old, out _);
                }

                View.Publish(committed);
                LogCommitted(_logger, committed.Stamp.ToString(), committed.MemberCount);
                _retireAfter = DateTime.UtcNow + _options.RetireGrace;
                _ready.TrySetResult();
            }
        }

        if (snapshot.Pending is null && DateTime.UtcNow >= _retireAfter && View.Current is { } live && _fence.Current == live.Stamp)
        {
            // Stable: what only the older versions needed goes.
            foreach (PlacementStamp old in _fence.Served.Skip(1))
            {
                _fence.Retire(old);
            }

            int dropped = _store.Retain(live, Self.Silo);
            _retireAfter = DateTime.MaxValue;
            Settled = true;
            LogDropped(_logger, dropped, _store.Count, live.Stamp.ToString());
        }

        return snapshot;
    }

    /// <summary>
    /// Raised once per silo that Orleans' membership declared dead while it was in the placement directory, with how long
    /// before that this silo's rank first saw it fail (null when its rank had not).
    /// </summary>
    public event Action<string, TimeSpan?>? SiloDeclaredDead;

    /// <summary>True once the silo is stopping: its rank takes no new requests and its experts are being placed elsewhere.</summary>
    public bool Draining => _drain.IsCancellationRequested;

    /// <summary>Fires when the drain begins: the rank's requests move to other ranks then (or finish, when nearly done).</summary>
    public CancellationToken DrainToken => _drain.Token;

    /// <summary>
    /// Begins the drain (idempotent): the rank stops taking requests and hands off its running ones; the silo leaves the
    /// directory and waits, in the background, for a placement without it and an empty rank (<see cref="Drained"/>).
    /// </summary>
    public void BeginDrain()
    {
        lock (_drain)
        {
            if (_drained is not null)
            {
                return;
            }

            LogDraining(_logger, Self.Silo.Value, _requestsInFlight?.Invoke() ?? 0);
            _drain.Cancel();
            _drained = Task.Run(DrainAsync);
        }
    }

    /// <summary>Completes when the drain has finished (or gave up after <see cref="ClusterNodeOptions.DrainTimeout"/>); completed when none began.</summary>
    public Task Drained => _drained ?? Task.CompletedTask;

    /// <summary>
    /// Drains (SIGTERM, or the host stopping): the rank stops taking requests, the silo leaves the directory, and it
    /// keeps serving its experts until a placement without it is committed (the others have loaded what it held), or
    /// <see cref="ClusterNodeOptions.DrainTimeout"/> passes; only then does it go.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        BeginDrain();
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Drained.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            LogRetry(_logger, "drain: the host's shutdown timeout came first");
        }
    }

    private async Task DrainAsync()
    {
        IPlacementDirectoryGrain directory = _grains.GetGrain<IPlacementDirectoryGrain>(IPlacementDirectoryGrain.DefaultKey);
        try
        {
            await directory.Leave(Self.Silo.Value).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            for (var until = DateTime.UtcNow + _options.DrainTimeout; DateTime.UtcNow < until; await Task.Delay(100).ConfigureAwait(false))
            {
                PlacementSnapshot snapshot = await directory.Snapshot().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                bool placedElsewhere = !snapshot.Members.Any()
                    || (snapshot.Pending is null && snapshot.Committed is { } c && !c.ToMap().Members.Any(m => m.Silo == Self.Silo));

                // Requests handed off have left; those nearly done finish first.
                if (placedElsewhere && (_requestsInFlight?.Invoke() ?? 0) == 0)
                {
                    LogDrained(_logger, Self.Silo.Value);
                    return;
                }
            }

            LogRetry(_logger, $"drain: within {_options.DrainTimeout.TotalSeconds:0} s no placement without this silo was committed or its rank still had requests; leaving anyway (the gateways resume them)");
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or OperationCanceledException)
        {
            LogRetry(_logger, $"could not leave the placement directory: {e.Message}");
        }
    }

    public override void Dispose()
    {
        _drain.Dispose();
        _ucx?.Dispose();
        _store.Dispose();
        base.Dispose();
    }

    /// <summary>SHA-256 of config.json in a canonical form (properties sorted, no whitespace): formatting does not count, values do.</summary>
    internal static string HashOf(string file)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(file));
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteCanonical(doc.RootElement, writer);
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    private static void WriteCanonical(JsonElement e, Utf8JsonWriter w)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (JsonProperty p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    w.WritePropertyName(p.Name);
                    WriteCanonical(p.Value, w);
                }

                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (JsonElement item in e.EnumerateArray())
                {
                    WriteCanonical(item, w);
                }

                w.WriteEndArray();
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "silo {Silo} on node {Node} is dead (Orleans membership): it leaves the placement")]
    private static partial void LogDead(ILogger logger, string silo, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "draining silo {Silo}: its rank takes no new requests and hands off its {Requests} requests; its experts move")]
    private static partial void LogDraining(ILogger logger, string silo, int requests);

    [LoggerMessage(Level = LogLevel.Information, Message = "drained: the placement no longer needs silo {Silo} and its rank has no requests")]
    private static partial void LogDrained(ILogger logger, string silo);

    [LoggerMessage(Level = LogLevel.Error, Message = "the cluster refused this silo: {Refusal}")]
    private static partial void LogRefused(ILogger logger, string refusal);

    [LoggerMessage(Level = LogLevel.Information, Message = "placement directory: {Reason}; retrying")]
    private static partial void LogRetry(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "loaded {Loaded} experts ({Held} held) for placement {Stamp}")]
    private static partial void LogLoaded(ILogger logger, int loaded, int held, string stamp);

    [LoggerMessage(Level = LogLevel.Information, Message = "dropped {Dropped} experts only older placements needed ({Held} held for {Stamp})")]
    private static partial void LogDropped(ILogger logger, int dropped, int held, string stamp);

    [LoggerMessage(Level = LogLevel.Information, Message = "placement {Stamp} over {Members} silos is live")]
    private static partial void LogCommitted(ILogger logger, string stamp, int members);
}
