using System.Globalization;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// A chaos schedule: faults in time order, from a small text format (one fault a line) or a built-in name
/// (<see cref="NamedSchedules"/>). The format, with <c>#</c> comments and blank lines ignored:
/// <code>
/// TIME kill|term|cont TARGET
/// TIME stop TARGET [for DURATION]        # SIGCONT after DURATION
/// TIME join [http]                       # a new worker silo (or one with the HTTP gateway)
/// TIME redis-restart [wipe] [for DURATION]
/// TIME redis-flush
/// TIME redis-pause for DURATION
/// TIME delay TARGET AMOUNT [for DURATION]
/// </code>
/// TIME and DURATION are a number with a unit (<c>500ms</c>, <c>2s</c>, <c>1.5m</c>), TIME from the start of the workload;
/// TARGET is a silo: <c>s0</c>, <c>s1</c>, … (started order, joins continue the count), <c>worker</c> (the running silo without
/// HTTP of lowest number) or <c>gateway</c> (the running silo with HTTP of lowest number).
/// </summary>
public sealed class FaultSchedule
{
    /// <summary>The longest time or duration a schedule may name.</summary>
    public static readonly TimeSpan Longest = TimeSpan.FromHours(1);

    public FaultSchedule(string name, IReadOnlyList<Fault> faults)
    {
        Name = name;
        Faults = [.. faults.OrderBy(f => f.At).ThenBy(f => f.Line)];
    }

    /// <summary>The built-in name or the file it came from.</summary>
    public string Name { get; }

    public IReadOnlyList<Fault> Faults { get; }

    /// <summary>When the last fault (or the end of its duration) happens; zero without faults.</summary>
    public TimeSpan End => Faults.Count == 0 ? TimeSpan.Zero : Faults.Max(f => f.At + (f.Duration ?? TimeSpan.Zero));

    /// <summary>A built-in schedule by name, else the schedule in the file at <paramref name="nameOrPath"/>.</summary>
    public static FaultSchedule Load(string nameOrPath)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        if (NamedSchedules.TryGet(nameOrPath, out string? text))
        {
            return Parse(text, nameOrPath);
        }

        if (!File.Exists(nameOrPath))
        {
            throw new FormatException($"schedule '{nameOrPath}' is neither a built-in schedule ({string.Join(", ", NamedSchedules.Names)}) nor a file");
        }

        return Parse(File.ReadAllText(nameOrPath), nameOrPath);
    }

    /// <summary>Parses the text format; every bad line is reported (as <c>SOURCE:LINE: message</c>) in one <see cref="FormatException"/>.</summary>
    public static FaultSchedule Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var faults = new List<Fault>();
        var errors = new List<string>();
        string[] lines = text.ReplaceLineEndings("\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            int hash = line.IndexOf('#', StringComparison.Ordinal);
            string[] words = (hash >= 0 ? line[..hash] : line).Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0)
            {
                continue;
            }

            try
            {
                faults.Add(ParseLine(words, i + 1));
            }
            catch (FormatException e)
            {
                errors.Add($"{source}:{i + 1}: {e.Message} (in \"{line.Trim()}\")");
            }
        }

        return errors.Count == 0 ? new FaultSchedule(source, faults) : throw new FormatException(string.Join(Environment.NewLine, errors));
    }

    /// <summary>
    /// What keeps this schedule from running on a setup: a silo fault or join while attached, a Redis fault without a
    /// Redis to act on, a silo number that will not exist yet. Empty when it can run.
    /// </summary>
    public IReadOnlyList<string> Problems(int initialSilos, bool attached, bool redisStarted, bool redisKnown)
    {
        var problems = new List<string>();
        int silos = initialSilos;
        foreach (Fault f in Faults)
        {
            string where = $"{Name}:{f.Line}: {Fault.Name(f.Kind)}";
            if (attached && (f.TargetsSilo || f.Kind == FaultKind.Join))
            {
                problems.Add($"{where} acts on a silo process; with --attach the harness started none, so only Redis faults (with --redis) can run");
                continue;
            }

            if (f.Kind == FaultKind.RedisRestart && !redisStarted)
            {
                problems.Add($"{where} needs the redis-server the harness starts (not one given with --redis); redis-flush and redis-pause work on any");
            }
            else if (f.TargetsRedis && !redisKnown)
            {
                problems.Add($"{where} needs Redis: give --redis HOST:PORT");
            }

            if (f.Target is { } t && SiloNumber(t) is int n && n >= silos)
            {
                problems.Add($"{where} names {t}, but only s0..s{silos - 1} exist by {Format(f.At)}");
            }

            if (f.Kind == FaultKind.Join)
            {
                silos++;
            }
        }

        return problems;
    }

    /// <summary>The silo number of a target <c>sN</c>, else null (<c>worker</c>, <c>gateway</c>).</summary>
    public static int? SiloNumber(string target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return target.Length > 1 && target[0] == 's' && int.TryParse(target.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;
    }

    /// <summary>A time as a schedule writes it (<c>1.5s</c>).</summary>
    public static string Format(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.###}s");

    /// <summary>Reads <c>500ms</c>, <c>2s</c>, <c>1.5m</c>: a non-negative number and a unit, at most an hour.</summary>
    public static TimeSpan ParseTime(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        (string number, double scale) = word.EndsWith("ms", StringComparison.Ordinal) ? (word[..^2], 0.001)
            : word.EndsWith('s') ? (word[..^1], 1)
            : word.EndsWith('m') ? (word[..^1], 60)
            : throw new FormatException($"'{word}' is not a time: write a number and a unit, e.g. 500ms, 2s, 1.5m");
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
        {
            throw new FormatException($"'{word}' is not a time: write a number and a unit, e.g. 500ms, 2s, 1.5m");
        }

        TimeSpan t = TimeSpan.FromSeconds(value * scale);
        return t <= Longest ? t : throw new FormatException($"'{word}' is longer than {Longest.TotalMinutes:0} minutes");
    }

    private static Fault ParseLine(string[] words, int line)
    {
        TimeSpan at = ParseTime(words[0]);
        if (words.Length < 2)
        {
            throw new FormatException("a time needs a fault after it: kill, stop, cont, term, join, redis-restart, redis-flush, redis-pause, delay or drain");
        }

        var rest = new Queue<string>(words[2..]);
        Fault fault = words[1] switch
        {
            "kill" => new Fault(at, FaultKind.Kill, Target(rest)),
            "stop" => new Fault(at, FaultKind.Stop, Target(rest), For(rest)),
            "cont" => new Fault(at, FaultKind.Cont, Target(rest)),
            "term" => new Fault(at, FaultKind.Term, Target(rest)),
            "join" => new Fault(at, FaultKind.Join, Http: Flag(rest, "http")),
            "redis-restart" => RedisRestart(at, rest),
            "redis-flush" => new Fault(at, FaultKind.RedisFlush),
            "redis-pause" => new Fault(at, FaultKind.RedisPause, Duration: For(rest) ?? throw new FormatException("redis-pause needs 'for DURATION'")),
            "delay" => Delay(at, rest),
            "drain" => new Fault(at, FaultKind.Drain, Target(rest)),
            string other => throw new FormatException(
                $"unknown fault '{other}': expected kill, stop, cont, term, join, redis-restart, redis-flush, redis-pause, delay or drain"),
        };
        if (rest.Count > 0)
        {
            throw new FormatException($"unexpected '{string.Join(' ', rest)}' after {words[1]}");
        }

        return fault with { Line = line };
    }

    private static Fault RedisRestart(TimeSpan at, Queue<string> rest)
    {
        bool wipe = Flag(rest, "wipe");
        TimeSpan? down = For(rest);
        wipe |= Flag(rest, "wipe");
        return new Fault(at, FaultKind.RedisRestart, Duration: down, Wipe: wipe);
    }

    private static Fault Delay(TimeSpan at, Queue<string> rest)
    {
        string target = Target(rest);
        TimeSpan amount = rest.Count > 0 && rest.Peek() != "for" ? ParseTime(rest.Dequeue()) : throw new FormatException("delay needs an amount: delay TARGET 200ms [for 5s]");
        return new Fault(at, FaultKind.Delay, target, For(rest), Amount: amount);
    }

    private static string Target(Queue<string> rest)
    {
        if (rest.Count == 0 || rest.Peek() == "for")
        {
            throw new FormatException("a silo fault needs a target: s0, s1, ..., worker or gateway");
        }

        string target = rest.Dequeue();
        return target is "worker" or "gateway" || SiloNumber(target) is not null
            ? target
            : throw new FormatException($"'{target}' is not a target: write s0, s1, ..., worker or gateway");
    }

    private static TimeSpan? For(Queue<string> rest)
    {
        if (rest.Count == 0 || rest.Peek() != "for")
        {
            return null;
        }

        rest.Dequeue();
        TimeSpan d = rest.Count > 0 ? ParseTime(rest.Dequeue()) : throw new FormatException("'for' needs a duration, e.g. for 3s");
        return d > TimeSpan.Zero ? d : throw new FormatException("a duration must be above zero");
    }

    private static bool Flag(Queue<string> rest, string flag)
    {
        if (rest.Count > 0 && rest.Peek() == flag)
        {
            rest.Dequeue();
            return true;
        }

        return false;
    }
}
