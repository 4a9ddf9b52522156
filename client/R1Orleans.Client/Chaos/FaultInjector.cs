using System.Diagnostics;
using System.Globalization;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// Injects a schedule's faults at their times: signals to silos the harness started (never another PID), new silos,
/// Redis restarts, flushes and pauses. Each is written to the history when done; one that cannot be done (no running
/// worker left, say) is written with a note and counted as a harness problem.
/// </summary>
public sealed class FaultInjector(LocalCluster? cluster, string? redis, HistoryWriter history, Stopwatch clock)
{
    private readonly List<Task> _pending = [];
    private readonly List<string> _problems = [];

    /// <summary>Faults the harness could not inject.</summary>
    public IReadOnlyList<string> Problems => _problems;

    public async Task RunAsync(FaultSchedule schedule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        try
        {
            foreach (Fault f in schedule.Faults)
            {
                TimeSpan wait = f.At - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }

                try
                {
                    await InjectAsync(f, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is InvalidOperationException or IOException or System.Net.Sockets.SocketException or TimeoutException or HttpRequestException)
                {
                    _problems.Add($"{schedule.Name}:{f.Line}: {Fault.Name(f.Kind)} {f.Target} not injected: {e.Message}");
                    Write(Fault.Name(f.Kind), f.Target ?? "", null, "not injected: " + e.Message);
                }
            }

            await Task.WhenAll(_pending).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task InjectAsync(Fault f, CancellationToken cancellationToken)
    {
        switch (f.Kind)
        {
            case FaultKind.Kill:
                Signal(f, PosixSignals.SigKill, gone: true);
                break;
            case FaultKind.Term:
                Signal(f, PosixSignals.SigTerm, gone: true);
                break;
            case FaultKind.Cont:
                Signal(f, PosixSignals.SigCont, gone: false);
                break;
            case FaultKind.Stop:
                SiloInstance stopped = Signal(f, PosixSignals.SigStop, gone: false);
                if (f.Duration is TimeSpan d)
                {
                    _pending.Add(ContinueLaterAsync(stopped, d, cancellationToken));
                }

                break;
            case FaultKind.Join:
                SiloInstance joined = Cluster.Add(f.Http);
                Write("join", joined.Name, joined.Process.Pid, joined.Http ? "with HTTP" : "worker");
                break;
            case FaultKind.RedisRestart:
                RedisInstance instance = Cluster.Redis ?? throw new InvalidOperationException("no redis-server started by the harness");
                int? pid = instance.Pid;
                TimeSpan down = f.Duration ?? TimeSpan.Zero;
                Write("redis-restart", "redis", pid, string.Create(CultureInfo.InvariantCulture, $"{(f.Wipe ? "data wiped" : "data kept (appendonly)")}, down {down.TotalSeconds:0.###} s"));
                await instance.RestartAsync(f.Wipe, down, cancellationToken).ConfigureAwait(false);
                Write("redis-up", "redis", instance.Pid, null);
                break;
            case FaultKind.RedisFlush:
                await RedisCommands.SendAsync(Redis, ["FLUSHALL"], cancellationToken).ConfigureAwait(false);
                Write("redis-flush", "redis", null, null);
                break;
            case FaultKind.RedisPause:
                long ms = (long)f.Duration!.Value.TotalMilliseconds;
                await RedisCommands.SendAsync(Redis, ["CLIENT", "PAUSE", ms.ToString(CultureInfo.InvariantCulture), "ALL"], cancellationToken).ConfigureAwait(false);
                Write("redis-pause", "redis", null, string.Create(CultureInfo.InvariantCulture, $"{ms} ms"));
                break;
            case FaultKind.Delay:
                await DelayAsync(f, cancellationToken).ConfigureAwait(false);
                break;
            case FaultKind.Drain:
                await DrainAsync(f, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new InvalidOperationException($"unknown fault {f.Kind}");
        }
    }

    /// <summary>Asks a running HTTP silo to slow the target's expert replies (silos run with --fault-injection).</summary>
    private async Task DelayAsync(Fault f, CancellationToken cancellationToken)
    {
        SiloInstance target = Cluster.Resolve(f.Target!);
        TimeSpan amount = f.Amount ?? TimeSpan.Zero;
        TimeSpan duration = f.Duration ?? TimeSpan.FromHours(1);
        await PostAsync(target, string.Create(CultureInfo.InvariantCulture, $"cluster/faults/delay?silo={Uri.EscapeDataString(target.Name)}&ms={amount.TotalMilliseconds:0}&seconds={duration.TotalSeconds:0.###}"), cancellationToken).ConfigureAwait(false);
        Write(Fault.Name(f.Kind), target.Name, target.Process.Pid, string.Create(CultureInfo.InvariantCulture, $"replies {amount.TotalMilliseconds:0} ms late for {duration.TotalSeconds:0.###} s"));
    }

    /// <summary>Drains the target through the control plane, as `r1 cluster drain` does; it exits by itself when drained.</summary>
    private async Task DrainAsync(Fault f, CancellationToken cancellationToken)
    {
        SiloInstance target = Cluster.Resolve(f.Target!);
        target.Gone = true;
        try
        {
            await PostAsync(target, "cluster/drain?silo=" + Uri.EscapeDataString(target.Name), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            target.Gone = false;
            throw;
        }

        Write(Fault.Name(f.Kind), target.Name, target.Process.Pid, "POST /cluster/drain");
    }

    /// <summary>POSTs a control request through a running HTTP silo other than <paramref name="target"/> where there is one.</summary>
    private async Task PostAsync(SiloInstance target, string query, CancellationToken cancellationToken)
    {
        SiloInstance via = Cluster.Silos.Where(s => s.Running && s.Url is not null).OrderBy(s => s == target).FirstOrDefault()
            ?? throw new InvalidOperationException("no HTTP silo is running to pass the request on");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(15) };
        using HttpResponseMessage response = await http.PostAsync(new Uri(via.Url!, query), null, cancellationToken).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{via.Name} answered {(int)response.StatusCode}: {body}");
        }
    }

    private LocalCluster Cluster => cluster ?? throw new InvalidOperationException("silo faults need a cluster the harness started (not --attach)");

    private string Redis => redis ?? cluster?.Redis?.Address ?? throw new InvalidOperationException("no Redis: give --redis HOST:PORT");

    private SiloInstance Signal(Fault f, int signal, bool gone)
    {
        SiloInstance silo = Cluster.Resolve(f.Target!);
        if (!silo.Process.Signal(signal))
        {
            throw new InvalidOperationException($"{silo.Name} has already exited");
        }

        silo.Gone |= gone;
        Write(Fault.Name(f.Kind), silo.Name, silo.Process.Pid, null);
        return silo;
    }

    private async Task ContinueLaterAsync(SiloInstance silo, TimeSpan after, CancellationToken cancellationToken)
    {
        await Task.Delay(after, cancellationToken).ConfigureAwait(false);
        if (silo.Process.Signal(PosixSignals.SigCont))
        {
            Write(Fault.Name(FaultKind.Cont), silo.Name, silo.Process.Pid, "end of the stop's duration");
        }
    }

    private void Write(string kind, string target, int? pid, string? note) => history.Write(new FaultRecord(kind, target, clock.Elapsed.TotalSeconds, pid, note));
}
