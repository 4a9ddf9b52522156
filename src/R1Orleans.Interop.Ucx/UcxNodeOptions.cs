namespace R1Orleans.Interop.Ucx;

/// <summary>Settings of a <see cref="UcxNode"/>. UCX's own UCX_* environment variables apply first.</summary>
public sealed record UcxNodeOptions
{
    /// <summary>The node's name (UCX context and worker name, and in diagnostics).</summary>
    public string Name { get; init; } = "r1orleans";

    /// <summary>
    /// Explicit UCX settings applied with ucp_config_modify after the environment is read, by name without the UCX_
    /// prefix, e.g. <c>["TLS"] = "tcp,self"</c>. For tests and benchmarks; deployments use the environment.
    /// </summary>
    public IReadOnlyDictionary<string, string> ConfigOverrides { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// How long the progress thread keeps spinning on ucp_worker_progress after the last event while operations are
    /// outstanding, before it arms the worker and sleeps on its event fd (an idle node never spins). Short by default:
    /// on a loaded 2-core machine a longer spin takes the CPU the peer needs to answer (measured: 200 µs made a
    /// 16 KB round trip over shared memory 1.1 ms instead of 40–90 µs).
    /// </summary>
    public TimeSpan BusyPollDuration { get; init; } = TimeSpan.FromMicroseconds(50);

    /// <summary>
    /// How long the progress thread keeps spinning after the last event when nothing is outstanding (default zero:
    /// it sleeps at once). A holder that expects the next request within microseconds trades this much CPU per
    /// burst for not paying an event-fd wake-up per message; the benchmark sets it to busy-poll as ucx_perftest does.
    /// </summary>
    public TimeSpan IdleSpinDuration { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// The longest the progress thread sleeps while operations are outstanding, so that UCX's progress-driven timers
    /// (keepalive, which detects dead shared-memory peers) keep running.
    /// </summary>
    public TimeSpan OutstandingWakeInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// UCX's keepalive round (UCX_KEEPALIVE_INTERVAL, 20 s by default in UCX 1.13), applied unless the environment or
    /// <see cref="ConfigOverrides"/> sets KEEPALIVE_INTERVAL. Over shared memory it is how a killed peer is noticed
    /// (UCX checks that the peer process still exists); TCP sees the reset at once. The worker wakes for it through a
    /// timer in its event fd, so it costs an idle node one short wake-up per interval. Null leaves UCX's default.
    /// </summary>
    public TimeSpan? KeepaliveInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The pool for received payloads and reply buffers.</summary>
    public PinnedBufferPool BufferPool { get; init; } = PinnedBufferPool.Shared;

    /// <summary>Receives diagnostics from the progress thread (dropped messages, callback errors); null ignores them.</summary>
    public Action<string>? Diagnostics { get; init; }
}
