namespace R1Orleans.Text.Chat;

/// <summary>
/// The value model the evaluator works on, with Python's semantics: <c>null</c> is None, <see cref="JinjaUndefined"/>,
/// <see cref="bool"/>, <see cref="long"/> (int), <see cref="double"/> (float), <see cref="string"/>,
/// <c>List&lt;object?&gt;</c> (list), <c>object?[]</c> (tuple), <c>OrderedDictionary&lt;object, object?&gt;</c> (dict,
/// insertion-ordered, keys compared as Python does), <see cref="JinjaNamespace"/>, <see cref="JinjaLoop"/>,
/// <see cref="JinjaGenerator"/>, <see cref="JinjaCallable"/>.
/// </summary>
internal static class JinjaValue
{
    public static OrderedDictionary<object, object?> NewDict() => new(PyKeyComparer.Instance);

    public static bool IsUndefined(object? v) => v is JinjaUndefined;

    public static bool IsNumber(object? v) => v is bool or long or double;

    public static bool IsInteger(object? v) => v is bool or long;

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        object?[] tuple => tuple.Length > 0,
        OrderedDictionary<object, object?> dict => dict.Count > 0,
        _ => true,
    };

    public static long AsLong(object? v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        _ => throw new JinjaError($"expected an integer, got '{JinjaFormat.TypeName(v)}'"),
    };

    public static double AsDouble(object? v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        double d => d,
        _ => throw new JinjaError($"expected a number, got '{JinjaFormat.TypeName(v)}'"),
    };

    /// <summary>Python's <c>==</c>.</summary>
    public static bool Equal(object? a, object? b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        switch (a)
        {
            case null:
                return b is null;
            case JinjaUndefined:
                return b is JinjaUndefined;
            case string sa:
                return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case bool or long or double:
                if (!IsNumber(b))
                {
                    return false;
                }

                if (IsInteger(a) && IsInteger(b))
                {
                    return AsLong(a) == AsLong(b);
                }

                return AsDouble(a) == AsDouble(b);
            case List<object?> la:
                return b is List<object?> lb && SequenceEqual(la, lb);
            case object?[] ta:
                return b is object?[] tb && SequenceEqual(ta, tb);
            case OrderedDictionary<object, object?> da:
                if (b is not OrderedDictionary<object, object?> db || da.Count != db.Count)
                {
                    return false;
                }

                foreach (KeyValuePair<object, object?> kv in da)
                {
                    if (!db.TryGetValue(kv.Key, out object? other) || !Equal(kv.Value, other))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return false;
        }
    }

    private static bool SequenceEqual(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            if (!Equal(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Python's ordering (<c>&lt;</c> and friends): numbers, strings by code point, sequences lexicographically.</summary>
    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (IsInteger(a) && IsInteger(b))
            {
                return AsLong(a).CompareTo(AsLong(b));
            }

            double x = AsDouble(a);
            double y = AsDouble(b);
            return x < y ? -1 : x > y ? 1 : 0;
        }

        if (a is string sa && b is string sb)
        {
            return CompareCodePoints(sa, sb);
        }

        if ((a is List<object?> && b is List<object?>) || (a is object?[] && b is object?[]))
        {
            var la = (IReadOnlyList<object?>)a;
            var lb = (IReadOnlyList<object?>)b;
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!Equal(la[i], lb[i]))
                {
                    return Compare(la[i], lb[i]);
                }
            }

            return la.Count.CompareTo(lb.Count);
        }

        if (a is JinjaUndefined ua)
        {
            throw ua.Fail();
        }

        if (b is JinjaUndefined ub)
        {
            throw ub.Fail();
        }

        throw new JinjaError(
            $"'<' not supported between instances of '{JinjaFormat.TypeName(a)}' and '{JinjaFormat.TypeName(b)}'");
    }

    public static int CompareCodePoints(string a, string b)
    {
        int i = 0;
        int j = 0;
        while (i < a.Length && j < b.Length)
        {
            int ca = CodePointAt(a, i, out int na);
            int cb = CodePointAt(b, j, out int nb);
            if (ca != cb)
            {
                return ca < cb ? -1 : 1;
            }

            i += na;
            j += nb;
        }

        return (a.Length - i).CompareTo(b.Length - j);
    }

    private static int CodePointAt(string s, int index, out int width)
    {
        if (char.IsHighSurrogate(s[index]) && index + 1 < s.Length && char.IsLowSurrogate(s[index + 1]))
        {
            width = 2;
            return char.ConvertToUtf32(s[index], s[index + 1]);
        }

        width = 1;
        return s[index];
    }

    /// <summary>Python's <c>in</c>: substring, list membership, dict key.</summary>
    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string sub
            ? s.Contains(sub, StringComparison.Ordinal)
            : throw new JinjaError($"'in <string>' requires string as left operand, not {JinjaFormat.TypeName(item)}"),
        List<object?> list => list.Exists(x => Equal(x, item)),
        object?[] tuple => Array.Exists(tuple, x => Equal(x, item)),
        OrderedDictionary<object, object?> dict => IsHashable(item)
            ? item is not null && dict.ContainsKey(item)
            : throw new JinjaError($"unhashable type: '{JinjaFormat.TypeName(item)}'"),
        JinjaGenerator g => Array.Exists(g.TakeAll(), x => Equal(x, item)),
        JinjaUndefined => false,
        _ => throw new JinjaError($"argument of type '{JinjaFormat.TypeName(container)}' is not iterable"),
    };

    public static bool IsHashable(object? v) => v switch
    {
        null or bool or long or double or string or JinjaUndefined => true,
        object?[] tuple => Array.TrueForAll(tuple, IsHashable),
        List<object?> or OrderedDictionary<object, object?> => false,
        _ => true,
    };

    /// <summary>What <c>for x in v</c> walks: list/tuple items, dict keys, string characters; undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? v) => v switch
    {
        List<object?> list => list.ToArray(),
        object?[] tuple => tuple,
        OrderedDictionary<object, object?> dict => dict.Keys.ToArray<object?>(),
        string s => Characters(s),
        JinjaGenerator g => g.TakeAll(),
        JinjaUndefined => [],
        _ => throw new JinjaError($"'{JinjaFormat.TypeName(v)}' object is not iterable"),
    };

    /// <summary>The characters of a string as Python sees them: one per code point.</summary>
    public static object?[] Characters(string s) => [.. CodePoints(s)];

    /// <summary>Python's <c>len</c> of a string: code points, not UTF-16 units.</summary>
    public static int StringLength(string s)
    {
        int n = s.Length;
        for (int i = 0; i + 1 < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && char.IsLowSurrogate(s[i + 1]))
            {
                n--;
                i++;
            }
        }

        return n;
    }

    /// <summary>Splits a string into code points, keeping lone surrogates as single elements.</summary>
    public static string[] CodePoints(string s)
    {
        var result = new List<string>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result.Add(s.Substring(i, 2));
                i++;
            }
            else
            {
                result.Add(s[i].ToString());
            }
        }

        return [.. result];
    }
}

/// <summary>Dictionary keys compared as Python compares them: <c>1 == 1.0 == True</c>, tuples by value.</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => JinjaValue.Equal(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d => d == Math.Floor(d) && Math.Abs(d) < 9.2e18 ? ((long)d).GetHashCode() : d.GetHashCode(),
        string s => StringComparer.Ordinal.GetHashCode(s),
        object?[] tuple => tuple.Aggregate(17, (h, x) => (h * 31) + (x is null ? 0 : GetHashCode(x))),
        JinjaUndefined => 0,
        List<object?> or OrderedDictionary<object, object?> =>
            throw new JinjaError($"unhashable type: '{JinjaFormat.TypeName(obj)}'"),
        _ => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj),
    };
}
