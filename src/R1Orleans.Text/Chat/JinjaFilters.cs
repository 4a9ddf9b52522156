using System.Globalization;
using System.Text;

namespace R1Orleans.Text.Chat;

/// <summary>
/// Jinja's built-in filters that chat templates use, with Hugging Face's <c>tojson</c>
/// (<c>json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)</c>: no HTML escaping, keys
/// in insertion order).
/// </summary>
internal static class JinjaFilters
{
    private static readonly Dictionary<string, JinjaFilterFn> s_filters = new(StringComparer.Ordinal)
    {
        ["abs"] = (_, v, a) => Abs(v),
        ["attr"] = (_, v, a) => Attr(v, a),
        ["capitalize"] = (_, v, _) => JinjaStrings.Capitalize(JinjaFormat.ToStr(v)),
        ["center"] = (e, v, a) => JinjaMethods.Call(e, JinjaFormat.ToStr(v), "center", new JinjaArgs([a.Get(0, "width", 80L)], [])),
        ["count"] = (_, v, _) => Length(v),
        ["d"] = (_, v, a) => Default(v, a),
        ["default"] = (_, v, a) => Default(v, a),
        ["dictsort"] = (_, v, a) => DictSort(v, a),
        ["e"] = (_, v, _) => Escape(v),
        ["escape"] = (_, v, _) => Escape(v),
        ["first"] = (_, v, _) => First(v),
        ["float"] = (_, v, a) => ToFloat(v, a),
        ["format"] = (e, v, a) => JinjaStrings.PercentFormat(JinjaFormat.ToStr(v), a.Named.Count > 0 ? Kwargs(a) : a.Positional.ToArray(), e.Options),
        ["indent"] = (_, v, a) => Indent(v, a),
        ["int"] = (_, v, a) => ToInt(v, a),
        ["items"] = (_, v, _) => new JinjaGenerator(() => Items(v)),
        ["join"] = (e, v, a) => Join(e, v, a),
        ["last"] = (_, v, _) => Last(v),
        ["length"] = (_, v, _) => Length(v),
        ["list"] = (_, v, _) => JinjaValue.Iterate(v).ToList(),
        ["lower"] = (_, v, _) => JinjaFormat.ToStr(v).ToLowerInvariant(),
        ["map"] = (e, v, a) => new JinjaGenerator(() => Map(e, v, a)),
        ["max"] = (_, v, a) => MinMax(v, a, max: true),
        ["min"] = (_, v, a) => MinMax(v, a, max: false),
        ["pprint"] = (_, v, _) => JinjaFormat.Repr(v),
        ["reject"] = (e, v, a) => new JinjaGenerator(() => Select(e, v, a, keep: false, byAttribute: false)),
        ["rejectattr"] = (e, v, a) => new JinjaGenerator(() => Select(e, v, a, keep: false, byAttribute: true)),
        ["replace"] = (e, v, a) => JinjaStrings.Replace(
            JinjaFormat.ToStr(v),
            JinjaFormat.ToStr(a.Get(0, "old")),
            JinjaFormat.ToStr(a.Get(1, "new")),
            a.Get(2, "count") is { } c ? JinjaValue.AsLong(c) : -1,
            e.Options),
        ["reverse"] = (_, v, _) => Reverse(v),
        ["round"] = (_, v, a) => Round(v, a),
        ["safe"] = (_, v, _) => v,
        ["select"] = (e, v, a) => new JinjaGenerator(() => Select(e, v, a, keep: true, byAttribute: false)),
        ["selectattr"] = (e, v, a) => new JinjaGenerator(() => Select(e, v, a, keep: true, byAttribute: true)),
        ["sort"] = (_, v, a) => Sort(v, a),
        ["string"] = (_, v, _) => JinjaFormat.ToStr(v),
        ["sum"] = (e, v, a) => Sum(e, v, a),
        ["title"] = (_, v, _) => JinjaStrings.TitleWords(JinjaFormat.ToStr(v)),
        ["tojson"] = (_, v, a) => ToJson(v, a),
        ["trim"] = (_, v, a) => JinjaStrings.Strip(JinjaFormat.ToStr(v), a.Get(0, "chars") as string, left: true, right: true),
        ["unique"] = (_, v, a) => new JinjaGenerator(() => Unique(v, a)),
        ["upper"] = (_, v, _) => JinjaFormat.ToStr(v).ToUpperInvariant(),
        ["wordcount"] = (_, v, _) => WordCount(JinjaFormat.ToStr(v)),
    };

    private static readonly HashSet<string> s_withoutArguments =
        ["capitalize", "count", "e", "escape", "first", "items", "last", "length", "list", "lower", "pprint", "reverse", "safe", "string", "title", "upper", "wordcount"];

    /// <summary>The filter of that name, checking that filters without parameters get no arguments.</summary>
    public static JinjaFilterFn? Find(string name)
    {
        if (!s_filters.TryGetValue(name, out JinjaFilterFn? function))
        {
            return null;
        }

        return s_withoutArguments.Contains(name)
            ? (e, v, a) => a.Count == 0 && a.Named.Count == 0 ? function(e, v, a) : throw new JinjaError($"filter '{name}' takes no arguments")
            : function;
    }

    private static OrderedDictionary<object, object?> Kwargs(JinjaArgs args)
    {
        var dict = JinjaValue.NewDict();
        foreach (KeyValuePair<string, object?> kv in args.Named)
        {
            dict[kv.Key] = kv.Value;
        }

        return dict;
    }

    private static object Abs(object? v) => v switch
    {
        bool or long => (object)checked(Math.Abs(JinjaValue.AsLong(v))),
        double d => (object)Math.Abs(d),
        JinjaUndefined u => throw u.Fail(),
        _ => throw new JinjaError($"bad operand type for abs(): '{JinjaFormat.TypeName(v)}'"),
    };

    private static object? Attr(object? v, JinjaArgs args)
    {
        string name = JinjaFormat.ToStr(args.Get(0, "name"));
        return v switch
        {
            JinjaNamespace ns => ns.Get(name),
            JinjaLoop loop => loop.GetAttribute(name),
            JinjaUndefined u => throw u.Fail(),
            not null when JinjaMethods.Has(v, name) => new JinjaBoundMethod(v, name),
            _ => JinjaUndefined.Attribute(v, name),
        };
    }

    private static object? Default(object? v, JinjaArgs args)
    {
        args.Check("default", "default_value", "boolean");
        bool boolean = JinjaValue.Truthy(args.Get(1, "boolean", false));
        return v is JinjaUndefined || (boolean && !JinjaValue.Truthy(v)) ? args.Get(0, "default_value", string.Empty) : v;
    }

    private static object Length(object? v) => v switch
    {
        string s => (long)JinjaValue.StringLength(s),
        List<object?> list => (long)list.Count,
        object?[] tuple => (long)tuple.Length,
        OrderedDictionary<object, object?> dict => (long)dict.Count,
        JinjaNamespace ns => (long)ns.Attributes.Count,
        JinjaUndefined => 0L,
        _ => throw new JinjaError($"object of type '{JinjaFormat.TypeName(v)}' has no len()"),
    };

    private static object? First(object? v)
    {
        if (v is JinjaGenerator g)
        {
            return g.TryTakeNext(out object? next) ? next : JinjaUndefined.WithDescription("No first item, sequence was empty.");
        }

        IReadOnlyList<object?> items = JinjaValue.Iterate(v);
        return items.Count > 0 ? items[0] : JinjaUndefined.WithDescription("No first item, sequence was empty.");
    }

    private static object? Last(object? v)
    {
        if (v is JinjaGenerator)
        {
            throw new JinjaError("'generator' object is not reversible");
        }

        IReadOnlyList<object?> items = JinjaValue.Iterate(v);
        return items.Count > 0 ? items[^1] : JinjaUndefined.WithDescription("No last item, sequence was empty.");
    }

    private static List<object?> Items(object? v) => v switch
    {
        OrderedDictionary<object, object?> dict => dict.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList(),
        JinjaUndefined => [],
        _ => throw new JinjaError("Can only get item pairs from a mapping."),
    };

    private static string Escape(object? v)
    {
        string s = JinjaFormat.ToStr(v);
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            sb.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&#34;",
                '\'' => "&#39;",
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }

    /// <summary>Jinja's attribute getter: a dotted path of items (<c>"function.name"</c>, <c>"0"</c>).</summary>
    private static Func<object?, object?> AttributeGetter(object? attribute, object? fallback = null, bool hasFallback = false)
    {
        object?[] parts = attribute switch
        {
            string s => s.Split('.').Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? (object?)n : p).ToArray(),
            _ => [attribute],
        };
        return item =>
        {
            object? value = item;
            foreach (object? part in parts)
            {
                value = JinjaAccess.GetItem(value, part);
                if (value is JinjaUndefined && hasFallback)
                {
                    return fallback;
                }
            }

            return value;
        };
    }

    private static string Join(JinjaEvaluator evaluator, object? v, JinjaArgs args)
    {
        args.Check("join", "d", "attribute");
        IEnumerable<object?> items = JinjaValue.Iterate(v);
        if (args.Get(1, "attribute") is { } attribute)
        {
            items = items.Select(AttributeGetter(attribute));
        }

        string joined = string.Join(JinjaFormat.ToStr(args.Get(0, "d", string.Empty)), items.Select(JinjaFormat.ToStr));
        JinjaOperators.CheckLength(joined.Length, evaluator.Options);
        return joined;
    }

    private static List<object?> Map(JinjaEvaluator evaluator, object? v, JinjaArgs args)
    {
        if (!JinjaValue.Truthy(v))
        {
            return [];
        }

        IReadOnlyList<object?> items = JinjaValue.Iterate(v);
        if (args.Count == 0 && args.Has(-1, "attribute"))
        {
            Func<object?, object?> getter = AttributeGetter(args.Get(-1, "attribute"), args.Get(-1, "default"), args.Has(-1, "default"));
            return items.Select(getter).ToList();
        }

        if (args.Count == 0)
        {
            throw new JinjaError("map requires a filter argument");
        }

        string filter = JinjaFormat.ToStr(args.Positional[0]);
        var rest = new JinjaArgs(args.Positional.Skip(1).ToList(), args.Named);
        return items.Select(item => evaluator.CallFilter(filter, item, rest)).ToList();
    }

    private static List<object?> Select(JinjaEvaluator evaluator, object? v, JinjaArgs args, bool keep, bool byAttribute)
    {
        if (!JinjaValue.Truthy(v))
        {
            return [];
        }

        IReadOnlyList<object?> items = JinjaValue.Iterate(v);
        int at = 0;
        Func<object?, object?> get = x => x;
        if (byAttribute)
        {
            if (args.Count == 0)
            {
                throw new JinjaError("Missing parameter for attribute name");
            }

            get = AttributeGetter(args.Positional[0]);
            at = 1;
        }

        Func<object?, bool> test;
        if (args.Count > at)
        {
            string name = JinjaFormat.ToStr(args.Positional[at]);
            var rest = new JinjaArgs(args.Positional.Skip(at + 1).ToList(), args.Named);
            test = x => evaluator.CallTest(name, x, rest);
        }
        else
        {
            test = JinjaValue.Truthy;
        }

        return items.Where(x => test(get(x)) == keep).ToList();
    }

    private static Func<object?, object?> SortKey(JinjaArgs args, int caseSensitiveAt, int attributeAt)
    {
        bool caseSensitive = JinjaValue.Truthy(args.Get(caseSensitiveAt, "case_sensitive", false));
        Func<object?, object?> get = args.Get(attributeAt, "attribute") is { } attribute ? AttributeGetter(attribute) : x => x;
        return caseSensitive ? get : x => get(x) is string s ? s.ToLowerInvariant() : get(x);
    }

    private static List<object?> Sort(object? v, JinjaArgs args)
    {
        args.Check("sort", "reverse", "case_sensitive", "attribute");
        bool reverse = JinjaValue.Truthy(args.Get(0, "reverse", false));
        Func<object?, object?> key = SortKey(args, 1, 2);
        return StableSort(JinjaValue.Iterate(v), key, reverse);
    }

    /// <summary>Python's stable <c>sorted</c>; a comparison that fails is the template's error, not the sort's.</summary>
    private static List<T> StableSort<T>(IEnumerable<T> items, Func<T, object?> key, bool reverse)
    {
        Comparer<object?> comparer = Comparer<object?>.Create(JinjaValue.Compare);
        try
        {
            return (reverse ? items.OrderByDescending(key, comparer) : items.OrderBy(key, comparer)).ToList();
        }
        catch (InvalidOperationException e) when (e.InnerException is JinjaError inner)
        {
            throw new JinjaError(inner.Message);
        }
    }

    private static List<object?> DictSort(object? v, JinjaArgs args)
    {
        args.Check("dictsort", "case_sensitive", "by", "reverse");
        if (v is not OrderedDictionary<object, object?> dict)
        {
            throw new JinjaError("dictsort expects a mapping");
        }

        bool caseSensitive = JinjaValue.Truthy(args.Get(0, "case_sensitive", false));
        string by = JinjaFormat.ToStr(args.Get(1, "by", "key"));
        bool reverse = JinjaValue.Truthy(args.Get(2, "reverse", false));
        Func<object?[], object?> key = by switch
        {
            "key" => pair => pair[0],
            "value" => pair => pair[1],
            _ => throw new JinjaError("You can only sort by either \"key\" or \"value\""),
        };
        Func<object?[], object?> folded = caseSensitive ? key : pair => key(pair) is string s ? s.ToLowerInvariant() : key(pair);
        IEnumerable<object?[]> pairs = dict.Select(kv => new object?[] { kv.Key, kv.Value });
        return StableSort(pairs, folded, reverse).Cast<object?>().ToList();
    }

    private static List<object?> Unique(object? v, JinjaArgs args)
    {
        args.Check("unique", "case_sensitive", "attribute");
        Func<object?, object?> key = SortKey(args, 0, 1);
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (object? item in JinjaValue.Iterate(v))
        {
            object? k = key(item);
            if (!seen.Exists(s => JinjaValue.Equal(s, k)))
            {
                seen.Add(k);
                result.Add(item);
            }
        }

        return result;
    }

    private static object? MinMax(object? v, JinjaArgs args, bool max)
    {
        args.Check(max ? "max" : "min", "case_sensitive", "attribute");
        Func<object?, object?> key = SortKey(args, 0, 1);
        IReadOnlyList<object?> items = JinjaValue.Iterate(v);
        if (items.Count == 0)
        {
            return JinjaUndefined.WithDescription($"No aggregated item, sequence was empty.");
        }

        object? best = items[0];
        foreach (object? item in items.Skip(1))
        {
            int c = JinjaValue.Compare(key(item), key(best));
            if (max ? c > 0 : c < 0)
            {
                best = item;
            }
        }

        return best;
    }

    private static object? Sum(JinjaEvaluator evaluator, object? v, JinjaArgs args)
    {
        args.Check("sum", "attribute", "start");
        IEnumerable<object?> items = JinjaValue.Iterate(v);
        if (args.Get(0, "attribute") is { } attribute)
        {
            items = items.Select(AttributeGetter(attribute));
        }

        object? total = args.Get(1, "start", 0L);
        foreach (object? item in items)
        {
            total = JinjaOperators.Binary("+", total, item, evaluator.Options);
        }

        return total;
    }

    /// <summary>A string reversed; a list, tuple or dict as a reverse iterator; a generator as a reversed list.</summary>
    private static object Reverse(object? v) => v switch
    {
        string s => string.Concat(JinjaValue.CodePoints(s).Reverse()),
        JinjaGenerator or JinjaUndefined => JinjaValue.Iterate(v).Reverse().ToList(),
        _ => new JinjaGenerator(JinjaValue.Iterate(v).Reverse().ToArray),
    };

    private static object Round(object? v, JinjaArgs args)
    {
        args.Check("round", "precision", "method");
        int precision = (int)JinjaValue.AsLong(args.Get(0, "precision", 0L));
        string method = JinjaFormat.ToStr(args.Get(1, "method", "common"));
        if (method == "common" && v is bool or long)
        {
            long whole = JinjaValue.AsLong(v);
            if (precision >= 0)
            {
                return whole;
            }

            decimal factor = (decimal)Math.Pow(10, Math.Min(-precision, 18));
            return (long)(Math.Round(whole / factor, MidpointRounding.ToEven) * factor);
        }

        double value = JinjaValue.AsDouble(v);
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => precision is >= 0 and <= 15 ? Math.Round(value, precision, MidpointRounding.ToEven) : Math.Round(value * scale, MidpointRounding.ToEven) / scale,
            "ceil" => Math.Ceiling(value * scale) / scale,
            "floor" => Math.Floor(value * scale) / scale,
            _ => throw new JinjaError("method must be common, ceil or floor"),
        };
    }

    private static object? ToInt(object? v, JinjaArgs args)
    {
        args.Check("int", "default", "base");
        object? fallback = args.Get(0, "default", 0L);
        int radix = (int)JinjaValue.AsLong(args.Get(1, "base", 10L));
        switch (v)
        {
            case JinjaUndefined u:
                throw u.Fail();
            case bool or long:
                return JinjaValue.AsLong(v);
            case double d:
                return double.IsFinite(d) && Math.Abs(d) < 9.2e18 ? (long)Math.Truncate(d) : fallback;
            case string s:
                string t = s.Trim().Replace("_", string.Empty, StringComparison.Ordinal);
                if (TryParseInteger(t, radix, out long parsed))
                {
                    return parsed;
                }

                return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f) && Math.Abs(f) < 9.2e18
                    ? (long)Math.Truncate(f)
                    : fallback;
            default:
                return fallback;
        }
    }

    private static bool TryParseInteger(string s, int radix, out long value)
    {
        value = 0;
        bool negative = s.StartsWith('-');
        string digits = s.TrimStart('+', '-');
        if (digits.Length == 0 || s.Length - digits.Length > 1)
        {
            return false;
        }

        string lowered = digits.ToLowerInvariant();
        if ((radix == 16 && lowered.StartsWith("0x", StringComparison.Ordinal)) || (radix == 8 && lowered.StartsWith("0o", StringComparison.Ordinal))
            || (radix == 2 && lowered.StartsWith("0b", StringComparison.Ordinal)))
        {
            digits = digits[2..];
        }

        try
        {
            if (radix == 10)
            {
                if (!digits.All(char.IsAsciiDigit))
                {
                    return false;
                }

                value = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
            }
            else if (radix is 2 or 8 or 16)
            {
                value = Convert.ToInt64(digits, radix);
            }
            else
            {
                return false;
            }
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            return false;
        }

        value = negative ? -value : value;
        return true;
    }

    private static object? ToFloat(object? v, JinjaArgs args)
    {
        args.Check("float", "default");
        object? fallback = args.Get(0, "default", 0.0);
        return v switch
        {
            JinjaUndefined u => throw u.Fail(),
            bool or long or double => JinjaValue.AsDouble(v),
            string s when double.TryParse(s.Trim().Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
            string s when s.Trim().ToLowerInvariant() is "inf" or "+inf" or "infinity" => double.PositiveInfinity,
            string s when s.Trim().ToLowerInvariant() is "-inf" or "-infinity" => double.NegativeInfinity,
            string s when s.Trim().ToLowerInvariant() is "nan" => double.NaN,
            _ => fallback,
        };
    }

    private static string Indent(object? v, JinjaArgs args)
    {
        args.Check("indent", "width", "first", "blank");
        object? width = args.Get(0, "width", 4L);
        string indentation = width is string w ? w : new string(' ', (int)Math.Clamp(JinjaValue.AsLong(width), 0, 1000));
        bool first = JinjaValue.Truthy(args.Get(1, "first", false));
        bool blank = JinjaValue.Truthy(args.Get(2, "blank", false));
        List<string> lines = JinjaStrings.SplitLines(JinjaFormat.ToStr(v) + "\n", keepEnds: false).Cast<string>().ToList();
        string result;
        if (blank)
        {
            result = string.Join("\n" + indentation, lines);
        }
        else
        {
            result = lines[0];
            if (lines.Count > 1)
            {
                result += "\n" + string.Join("\n", lines.Skip(1).Select(line => line.Length > 0 ? indentation + line : line));
            }
        }

        return first ? indentation + result : result;
    }

    private static long WordCount(string s)
    {
        long count = 0;
        bool inWord = false;
        foreach (char c in s)
        {
            bool word = char.IsLetterOrDigit(c) || c == '_';
            if (word && !inWord)
            {
                count++;
            }

            inWord = word;
        }

        return count;
    }

    /// <summary>Hugging Face's tojson: <c>(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)</c>.</summary>
    private static string ToJson(object? v, JinjaArgs args)
    {
        args.Check("tojson", "ensure_ascii", "indent", "separators", "sort_keys");
        bool ensureAscii = JinjaValue.Truthy(args.Get(0, "ensure_ascii", false));
        string? indent = args.Get(1, "indent") switch
        {
            null => null,
            string s => s,
            object n => new string(' ', (int)Math.Clamp(JinjaValue.AsLong(n), 0, 1000)),
        };
        string? itemSeparator = null;
        string? keySeparator = null;
        if (args.Get(2, "separators") is { } separators)
        {
            IReadOnlyList<object?> pair = JinjaValue.Iterate(separators);
            if (pair.Count != 2 || pair[0] is not string item || pair[1] is not string key)
            {
                throw new JinjaError("separators must be a pair of strings");
            }

            itemSeparator = item;
            keySeparator = key;
        }

        bool sortKeys = JinjaValue.Truthy(args.Get(3, "sort_keys", false));
        return JinjaFormat.ToJson(v, indent, itemSeparator, keySeparator, sortKeys, ensureAscii);
    }
}
