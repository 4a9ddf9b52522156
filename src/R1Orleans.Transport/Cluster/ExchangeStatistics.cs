namespace R1Orleans.Transport.Cluster;

/// <summary>What one rank's exchange sent and received: MoE layer steps, bytes, messages, reply latency, node-limit violations. Thread-safe counters.</summary>
public sealed class ExchangeStatistics
{
    private long _sentBytes;
    private long _sentMessages;
    private long _receivedBytes;
    private long _receivedMessages;
    private long _violations;
    private long _latencyTicks;
    private long _failovers;
    private long _failedCalls;
    private long _redispatchedRows;
    private long _recoveryTicks;
    private long _layerSteps;
    private long _mixedVersionSteps;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, long> _stepsByVersion = new();

    /// <summary>MoE layer steps dispatched (one per layer per forward pass), local or not: the denominator of "per layer step".</summary>
    public long LayerSteps => Interlocked.Read(ref _layerSteps);

    public long SentBytes => Interlocked.Read(ref _sentBytes);

    public long SentMessages => Interlocked.Read(ref _sentMessages);

    public long ReceivedBytes => Interlocked.Read(ref _receivedBytes);

    public long ReceivedMessages => Interlocked.Read(ref _receivedMessages);

    /// <summary>Tokens whose experts spanned more nodes than the node limit (dispatched anyway, as the gate chose).</summary>
    public long NodeLimitViolations => Interlocked.Read(ref _violations);

    /// <summary>Mean time from dispatch to a reply's arrival.</summary>
    public TimeSpan MeanReplyLatency => ReceivedMessages == 0 ? TimeSpan.Zero : TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks) / ReceivedMessages);

    /// <summary>Messages sent that got no usable reply (the holder was gone, silent past the deadline, fenced or failing): every sent message is received or failed.</summary>
    public long FailedCalls => Interlocked.Read(ref _failedCalls);

    /// <summary>Holder failures this rank recovered from within the step (re-dispatched elsewhere).</summary>
    public long Failovers => Interlocked.Read(ref _failovers);

    /// <summary>Rows sent again to another holder after theirs failed.</summary>
    public long RedispatchedRows => Interlocked.Read(ref _redispatchedRows);

    /// <summary>Total time steps spent recovering (from the failure to the last re-dispatched reply).</summary>
    public TimeSpan RecoveryTime => TimeSpan.FromTicks(Interlocked.Read(ref _recoveryTicks));

    /// <summary>Raised for every recovered step with the time its recovery took (a histogram's input).</summary>
    public event Action<TimeSpan>? Recovered;

    /// <summary>
    /// Raised for every failed call with its cause and the time from the step's dispatch to the moment the rank saw the
    /// failure (a histogram's input: how fast the data path detects a lost, paused or slowed holder).
    /// </summary>
    public event Action<ExpertStepFailure, TimeSpan>? FailureDetected;

    /// <summary>Raised for every reply with its latency (a histogram's input).</summary>
    public event Action<TimeSpan>? ReplyLatency;

    /// <summary>
    /// Forward steps whose MoE layers did not all run on one placement version: a step that outlived its version's
    /// retirement on this silo (the cluster node's retire grace) switches to the newer one rather than fail (the
    /// same experts, the same bits). Zero in a healthy hot swap: steps in flight finish on the version they started with.
    /// </summary>
    public long MixedVersionSteps => Interlocked.Read(ref _mixedVersionSteps);

    /// <summary>Forward steps (with at least one MoE layer) by the placement version their first MoE layer ran on.</summary>
    public IReadOnlyDictionary<long, long> StepsByVersion => new SortedDictionary<long, long>(_stepsByVersion);

    internal void OnLayerStep() => Interlocked.Increment(ref _layerSteps);

    internal void OnStepVersion(long version) => _stepsByVersion.AddOrUpdate(version, 1, (_, n) => n + 1);

    internal void OnMixedVersionStep() => Interlocked.Increment(ref _mixedVersionSteps);

    internal void OnSent(int bytes)
    {
        Interlocked.Add(ref _sentBytes, bytes);
        Interlocked.Increment(ref _sentMessages);
    }

    internal void OnReceived(int bytes, TimeSpan latency)
    {
        Interlocked.Add(ref _receivedBytes, bytes);
        Interlocked.Increment(ref _receivedMessages);
        Interlocked.Add(ref _latencyTicks, latency.Ticks);
        ReplyLatency?.Invoke(latency);
    }

    internal void OnFailedCall(ExpertStepFailure cause, TimeSpan sinceDispatch)
    {
        Interlocked.Increment(ref _failedCalls);
        FailureDetected?.Invoke(cause, sinceDispatch);
    }

    internal void OnRecovered(int rows, TimeSpan took)
    {
        Interlocked.Increment(ref _failovers);
        Interlocked.Add(ref _redispatchedRows, rows);
        Interlocked.Add(ref _recoveryTicks, took.Ticks);
        Recovered?.Invoke(took);
    }

    internal void OnViolations(int violations)
    {
        if (violations > 0)
        {
            Interlocked.Add(ref _violations, violations);
        }
    }
}
