namespace R1Orleans.Client.Chaos;

/// <summary>What a fault of a chaos schedule does.</summary>
public enum FaultKind
{
    /// <summary>SIGKILL of a silo (kill -9): no goodbye, its connections reset.</summary>
    Kill,

    /// <summary>SIGSTOP of a silo: a gray failure, alive to the kernel and silent to everyone (SIGCONT after its duration, if given).</summary>
    Stop,

    /// <summary>SIGCONT of a stopped silo.</summary>
    Cont,

    /// <summary>SIGTERM of a silo: a graceful shutdown, which should drain it.</summary>
    Term,

    /// <summary>A new silo process starts and joins the cluster.</summary>
    Join,

    /// <summary>redis-server stops and starts again on the same port (after its duration, if given); its data kept (AOF) or wiped.</summary>
    RedisRestart,

    /// <summary>FLUSHALL on Redis: the membership table is gone, as after a restart without persistence (works attached, with --redis).</summary>
    RedisFlush,

    /// <summary>CLIENT PAUSE on Redis for its duration: Redis answers nobody (works attached, with --redis).</summary>
    RedisPause,

    /// <summary>Injected reply delay on a silo's expert holder (silos the harness starts run with --fault-injection).</summary>
    Delay,

    /// <summary>POST /cluster/drain for a silo (what `r1 cluster drain` does): it drains as on SIGTERM and exits.</summary>
    Drain,
}

/// <summary>
/// One line of a chaos schedule: at <see cref="At"/> (from the start of the workload) do <see cref="Kind"/> to
/// <see cref="Target"/> (a silo: <c>s2</c>, <c>worker</c>, <c>gateway</c>; none for Redis faults and joins).
/// <see cref="Duration"/> is how long a stop, a Redis outage or pause, or a delay lasts; <see cref="Wipe"/> makes a Redis restart
/// lose its data; <see cref="Http"/> gives a joining silo the HTTP gateway; <see cref="Amount"/> is a delay's added latency;
/// <see cref="Line"/> is where the schedule wrote it (for messages).
/// </summary>
public sealed record Fault(TimeSpan At, FaultKind Kind, string? Target = null, TimeSpan? Duration = null, bool Wipe = false, bool Http = false, TimeSpan? Amount = null, int Line = 0)
{
    /// <summary>Whether the fault acts on a silo process (and so needs one the harness started).</summary>
    public bool TargetsSilo => Kind is FaultKind.Kill or FaultKind.Stop or FaultKind.Cont or FaultKind.Term or FaultKind.Delay or FaultKind.Drain;

    /// <summary>Whether the fault needs Redis (started by the harness, or given with --redis).</summary>
    public bool TargetsRedis => Kind is FaultKind.RedisRestart or FaultKind.RedisFlush or FaultKind.RedisPause;

    /// <summary>The schedule's name of the kind (what a schedule file writes).</summary>
    public static string Name(FaultKind kind) => kind switch
    {
        FaultKind.Kill => "kill",
        FaultKind.Stop => "stop",
        FaultKind.Cont => "cont",
        FaultKind.Term => "term",
        FaultKind.Join => "join",
        FaultKind.RedisRestart => "redis-restart",
        FaultKind.RedisFlush => "redis-flush",
        FaultKind.RedisPause => "redis-pause",
        FaultKind.Delay => "delay",
        FaultKind.Drain => "drain",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
