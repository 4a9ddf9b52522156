using System.Globalization;
using System.Text;

namespace R1Orleans.Text.Chat;

/// <summary>
/// Functions every template sees: Jinja's <c>range</c>, <c>namespace</c>, <c>dict</c>, and Hugging Face's
/// <c>raise_exception(message)</c> and <c>strftime_now(format)</c>.
/// </summary>
internal static class JinjaGlobals
{
    /// <summary>Jinja's sandbox refuses ranges longer than this (<c>MAX_RANGE</c>).</summary>
    public const int MaxRange = 100_000;

    public static JinjaScope CreateScope(JinjaOptions options)
    {
        var scope = new JinjaScope(null);
        scope.Set("range", new JinjaFunction("range", (_, a) => Range(a, options)));
        scope.Set("namespace", new JinjaFunction("namespace", (_, a) => Namespace(a)));
        scope.Set("dict", new JinjaFunction("dict", (_, a) => Dict(a)));
        scope.Set("raise_exception", new JinjaFunction("raise_exception", (_, a) =>
            throw new JinjaError(JinjaFormat.ToStr(a.Get(0, "message", "template raised an exception")), raisedByTemplate: true)));
        scope.Set("strftime_now", new JinjaFunction("strftime_now", (_, a) =>
            Strftime(options.TimeProvider.GetLocalNow().DateTime, JinjaFormat.ToStr(a.Get(0, "format")))));
        return scope;
    }

    private static List<object?> Range(JinjaArgs args, JinjaOptions options)
    {
        args.Check("range", "start", "stop", "step");
        long start = 0;
        long stop;
        long step = 1;
        switch (args.Count)
        {
            case 1:
                stop = JinjaValue.AsLong(args.Positional[0]);
                break;
            case 2 or 3:
                start = JinjaValue.AsLong(args.Positional[0]);
                stop = JinjaValue.AsLong(args.Positional[1]);
                step = args.Count == 3 ? JinjaValue.AsLong(args.Positional[2]) : 1;
                break;
            default:
                throw new JinjaError("range expected 1 to 3 integer arguments");
        }

        if (step == 0)
        {
            throw new JinjaError("range() arg 3 must not be zero");
        }

        long count = step > 0
            ? (stop > start ? ((stop - start - 1) / step) + 1 : 0)
            : (start > stop ? ((start - stop - 1) / -step) + 1 : 0);
        if (count > Math.Min(MaxRange, options.MaxSequenceLength))
        {
            throw new JinjaError($"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
        }

        var result = new List<object?>((int)count);
        for (long i = 0, v = start; i < count; i++, v += step)
        {
            result.Add(v);
        }

        return result;
    }

    private static JinjaNamespace Namespace(JinjaArgs args)
    {
        var ns = new JinjaNamespace();
        foreach (object? initial in args.Positional)
        {
            if (initial is not OrderedDictionary<object, object?> dict)
            {
                throw new JinjaError("namespace() takes a mapping and keyword arguments");
            }

            foreach (KeyValuePair<object, object?> kv in dict)
            {
                ns.Attributes[JinjaFormat.ToStr(kv.Key)] = kv.Value;
            }
        }

        foreach (KeyValuePair<string, object?> kv in args.Named)
        {
            ns.Attributes[kv.Key] = kv.Value;
        }

        return ns;
    }

    private static OrderedDictionary<object, object?> Dict(JinjaArgs args)
    {
        var dict = JinjaValue.NewDict();
        foreach (object? initial in args.Positional)
        {
            if (initial is OrderedDictionary<object, object?> source)
            {
                foreach (KeyValuePair<object, object?> kv in source)
                {
                    dict[kv.Key] = kv.Value;
                }
            }
            else
            {
                foreach (object? pair in JinjaValue.Iterate(initial))
                {
                    IReadOnlyList<object?> kv = JinjaValue.Iterate(pair);
                    if (kv.Count != 2 || kv[0] is null || !JinjaValue.IsHashable(kv[0]))
                    {
                        throw new JinjaError("dict() needs pairs of a hashable key and a value");
                    }

                    dict[kv[0]!] = kv[1];
                }
            }
        }

        foreach (KeyValuePair<string, object?> kv in args.Named)
        {
            dict[kv.Key] = kv.Value;
        }

        return dict;
    }

    /// <summary>Python's <c>datetime.strftime</c> for the common directives (C locale).</summary>
    public static string Strftime(DateTime t, string format)
    {
        var sb = new StringBuilder();
        CultureInfo c = CultureInfo.InvariantCulture;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }

            char d = format[++i];
            sb.Append(d switch
            {
                'Y' => t.Year.ToString("0000", c),
                'y' => (t.Year % 100).ToString("00", c),
                'm' => t.Month.ToString("00", c),
                'd' => t.Day.ToString("00", c),
                'e' => t.Day.ToString(c).PadLeft(2),
                'H' => t.Hour.ToString("00", c),
                'I' => (((t.Hour + 11) % 12) + 1).ToString("00", c),
                'M' => t.Minute.ToString("00", c),
                'S' => t.Second.ToString("00", c),
                'f' => (t.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", c),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'b' or 'h' => t.ToString("MMM", c),
                'B' => t.ToString("MMMM", c),
                'a' => t.ToString("ddd", c),
                'A' => t.ToString("dddd", c),
                'j' => t.DayOfYear.ToString("000", c),
                'w' => ((int)t.DayOfWeek).ToString(c),
                'u' => (t.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)t.DayOfWeek).ToString(c),
                'F' => t.ToString("yyyy-MM-dd", c),
                'T' => t.ToString("HH:mm:ss", c),
                'D' => t.ToString("MM/dd/yy", c),
                'z' or 'Z' => string.Empty,
                '%' => "%",
                _ => "%" + d,
            });
        }

        return sb.ToString();
    }
}
