namespace R1Orleans.Client.Chaos;

/// <summary>Everything one `r1 chaos` run is told (the command's options).</summary>
public sealed record ChaosSettings
{
    /// <summary>A built-in schedule name or a schedule file.</summary>
    public string Schedule { get; init; } = "none";

    public int Silos { get; init; } = 3;

    /// <summary>How many of the started silos serve HTTP (the first ones); the workload spreads over them.</summary>
    public int Gateways { get; init; } = 1;

    /// <summary>The silo dll or executable; null: <see cref="SiloLocator"/>'s default.</summary>
    public string? Silo { get; init; }

    /// <summary>Arguments added to every silo's command line (after <c>--</c> on the command line).</summary>
    public IReadOnlyList<string> SiloArgs { get; init; } = [];

    /// <summary>Gateways of a running cluster to drive instead of starting one.</summary>
    public IReadOnlyList<string> Attach { get; init; } = [];

    /// <summary>HOST:PORT of the attached cluster's Redis, for Redis faults.</summary>
    public string? Redis { get; init; }

    public string Model { get; init; } = "r1orleans-tiny";

    public string? Questions { get; init; }

    public int Concurrency { get; init; } = 4;

    /// <summary>How long requests are started; null: the schedule's end plus <see cref="Settle"/>, at least <see cref="MinDuration"/>.</summary>
    public TimeSpan? Duration { get; init; }

    public int MaxRequests { get; init; } = 1000;

    public int MaxTokens { get; init; } = 200;

    public double SamplingTemperature { get; init; } = 0.8;

    /// <summary>The most a request may take; one still running then is a violation.</summary>
    public TimeSpan Bound { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long after each fault its token gaps are counted.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long after a join the joined silo has to show in the gateway's cluster status (judged when the run watched that long).</summary>
    public TimeSpan JoinGrace { get; init; } = HistoryChecker.DefaultJoinGrace;

    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(180);

    /// <summary>A references file to read (keys it lacks are computed and added).</summary>
    public string? References { get; init; }

    /// <summary>Where the history, references and logs go; null: a new directory under the system's temp directory.</summary>
    public string? Output { get; init; }

    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan MinDuration = TimeSpan.FromSeconds(15);

    public TimeSpan DurationFor(FaultSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        return Duration ?? TimeSpan.FromTicks(Math.Max(MinDuration.Ticks, (schedule.End + Settle).Ticks));
    }
}
