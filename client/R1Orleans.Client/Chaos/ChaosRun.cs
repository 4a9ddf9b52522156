using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// One `r1 chaos` run: start (or attach to) the cluster, run the workload while the schedule's faults are injected and
/// the cluster's status is watched, stop every process, get the references (file, else a fault-free single silo), check
/// the history and print the summary. Exit code 0: no violation; 1: violations; 2: the harness could not run; 130: cancelled.
/// </summary>
public static class ChaosRun
{
    public const int Passed = 0;
    public const int Violations = 1;
    public const int HarnessError = 2;
    public const int Cancelled = 130;

    public static async Task<int> RunAsync(ChaosSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            return await RunCoreAsync(settings, output, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            error.WriteLine("cancelled; every process the harness started is stopped");
            return Cancelled;
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or TimeoutException or FileNotFoundException or IOException or ArgumentException or OpenAiException)
        {
            error.WriteLine($"error: {e.Message}");
            return HarnessError;
        }
    }

    private static async Task<int> RunCoreAsync(ChaosSettings s, TextWriter output, CancellationToken cancellationToken)
    {
        FaultSchedule schedule = FaultSchedule.Load(s.Schedule);
        bool attached = s.Attach.Count > 0;
        IReadOnlyList<string> problems = schedule.Problems(attached ? 0 : s.Silos, attached, redisStarted: !attached, redisKnown: !attached || s.Redis is not null);
        if (problems.Count > 0)
        {
            throw new FormatException("the schedule cannot run here:" + Environment.NewLine + string.Join(Environment.NewLine, problems));
        }

        IReadOnlyList<Question> questions = QuestionSet.Load(s.Questions);
        string directory = s.Output ?? Path.Combine(Path.GetTempPath(), "r1-chaos-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(directory);
        string? silo = attached && s.References is not null ? null : SiloLocator.Find(s.Silo);
        TimeSpan duration = s.DurationFor(schedule);
        var workload = new WorkloadOptions
        {
            Model = s.Model,
            Questions = questions,
            MaxTokens = s.MaxTokens,
            SamplingTemperature = s.SamplingTemperature,
            Concurrency = s.Concurrency,
            Duration = duration,
            MaxRequests = s.MaxRequests,
            Bound = s.Bound,
        };
        output.WriteLine($"r1 chaos: schedule {schedule.Name} ({schedule.Faults.Count} faults), workload {duration.TotalSeconds:0.#} s at concurrency {s.Concurrency}, bound {s.Bound.TotalSeconds:0.#} s per request; output in {directory}");

        using var history = new HistoryWriter(Path.Combine(directory, "history.jsonl"));
        IReadOnlyList<string> injectorProblems;
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
        {
            var reader = new ClusterStatusReader(http);
            LocalCluster? cluster = null;
            var clients = new ConcurrentDictionary<string, OpenAiClient>();
            try
            {
                Func<IReadOnlyList<(string Name, Uri Url)>> gateways;
                if (attached)
                {
                    Uri[] urls = [.. s.Attach.Select(u => new Uri(u.TrimEnd('/')))];
                    gateways = () => [.. urls.Select(u => (u.ToString(), u))];
                }
                else
                {
                    output.WriteLine($"starting redis-server and {s.Silos} silos ({silo})");
                    var started = Stopwatch.StartNew();
                    cluster = await LocalCluster.StartAsync(silo!, s.Silos, s.Gateways, s.SiloArgs, directory, cancellationToken).ConfigureAwait(false);
                    await cluster.WaitReadyAsync(reader, s.ReadyTimeout, cancellationToken).ConfigureAwait(false);
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cluster ready in {started.Elapsed.TotalSeconds:0.0} s: redis {cluster.Redis!.Address}, silos {string.Join(", ", cluster.Silos.Select(x => $"{x.Name} (pid {x.Process.Pid}{(x.Http ? ", " + x.Url : "")})"))}"));
                    LocalCluster c = cluster;
                    gateways = () => [.. c.Silos.Where(x => x.Http && x.Running && x.Url is not null).Select(x => (x.Name, x.Url!))];
                }

                RunProcess[] processes = cluster is null
                    ? [.. s.Attach.Select(u => new RunProcess(u, null, u))]
                    : [.. cluster.Silos.Select(x => new RunProcess(x.Name, x.Process.Pid, x.Url?.ToString())), new RunProcess("redis", cluster.Redis!.Pid, cluster.Redis.Address)];
                history.Write(new RunRecord(DateTimeOffset.UtcNow, schedule.Name, processes, s.Bound.TotalSeconds, Environment.CommandLine));
                var clock = Stopwatch.StartNew();
                var injector = new FaultInjector(cluster, s.Redis, history, clock);
                using var probeStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                Task probe = StatusProbe.RunAsync(reader, gateways, history, clock, probeStop.Token);
                Task exits = cluster is null ? Task.CompletedTask : ExitWatcher.RunAsync(cluster, history, clock, probeStop.Token);
                Task faults = injector.RunAsync(schedule, cancellationToken);
                await Workload.RunAsync(
                    workload,
                    () => [.. gateways().Select(g => (g.Name, clients.GetOrAdd(g.Url.ToString(), u => new OpenAiClient(u, null))))],
                    history,
                    clock,
                    cancellationToken).ConfigureAwait(false);
                await faults.ConfigureAwait(false);
                await probeStop.CancelAsync().ConfigureAwait(false);
                await probe.ConfigureAwait(false);
                await exits.ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                injectorProblems = injector.Problems;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"workload done in {clock.Elapsed.TotalSeconds:0.0} s{(cluster is null ? "" : "; stopping the cluster")}"));
            }
            finally
            {
                foreach (OpenAiClient c in clients.Values)
                {
                    c.Dispose();
                }

                if (cluster is not null)
                {
                    await cluster.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        IReadOnlyList<HistoryRecord> records = history.Records;
        ReferenceSet references = await ReferencesAsync(s, records, silo, directory, output, cancellationToken).ConfigureAwait(false);
        CheckResult check = HistoryChecker.Check(records, references, s.Bound, s.JoinGrace);
        if (injectorProblems.Count > 0)
        {
            check = check with { Violations = [.. check.Violations, .. injectorProblems.Select(p => new Violation(null, ViolationKind.FaultNotInjected, p))] };
        }

        ChaosSummary.Write(output, schedule.Name, check, records, s.Window);
        output.WriteLine($"history: {history.Path}");
        return check.Passed ? Passed : Violations;
    }

    /// <summary>The references file's answers, plus those its keys lack computed on a single silo; saved beside the history.</summary>
    private static async Task<ReferenceSet> ReferencesAsync(ChaosSettings s, IReadOnlyList<HistoryRecord> records, string? silo, string directory, TextWriter output, CancellationToken cancellationToken)
    {
        ReferenceSet known = s.References is null ? new ReferenceSet([]) : ReferenceSet.Load(s.References);
        ReferenceKey[] missing = [.. records.OfType<RequestRecord>().Where(r => r.Status == RequestStatus.Completed).Select(r => r.Spec.Key).Distinct().Where(k => !known.Contains(k))];
        if (missing.Length > 0 && silo is null)
        {
            output.WriteLine($"{missing.Length} answers have no reference in {s.References}, and no silo is known to compute them (give --silo)");
        }
        else if (missing.Length > 0)
        {
            output.WriteLine($"computing {missing.Length} references on a fault-free single silo");
            IReadOnlyList<ReferenceAnswer> computed = await ReferenceRunner.ComputeAsync(
                missing, silo!, s.SiloArgs, directory, s.Model, s.Concurrency, s.Bound, s.ReadyTimeout, cancellationToken).ConfigureAwait(false);
            known = new ReferenceSet([.. known.Answers, .. computed]);
        }

        known.Save(Path.Combine(directory, "references.json"));
        return known;
    }
}
