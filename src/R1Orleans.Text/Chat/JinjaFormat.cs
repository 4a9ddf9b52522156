using System.Globalization;
using System.Text;

namespace R1Orleans.Text.Chat;

/// <summary>Turning values into text the way Python does: <c>str()</c>, <c>repr()</c>, float repr, and <c>json.dumps</c>.</summary>
internal static class JinjaFormat
{
    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        JinjaUndefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        OrderedDictionary<object, object?> => "dict",
        JinjaNamespace => "Namespace",
        JinjaLoop => "LoopContext",
        JinjaCallable => "function",
        JinjaGenerator => "generator",
        _ => v.GetType().Name,
    };

    /// <summary>Python's <c>str(v)</c>, except that undefined is the empty string (Jinja's rule for output).</summary>
    public static string ToStr(object? v) => v switch
    {
        string s => s,
        JinjaUndefined => string.Empty,
        _ => Repr(v),
    };

    /// <summary>Python's <c>repr(v)</c>, as used for items inside printed lists and dicts.</summary>
    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v, int depth)
    {
        if (depth > 200)
        {
            throw new JinjaError("value nested too deeply to print");
        }

        switch (v)
        {
            case null:
                sb.Append("None");
                break;
            case JinjaUndefined:
                sb.Append("Undefined");
                break;
            case bool b:
                sb.Append(b ? "True" : "False");
                break;
            case long l:
                sb.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                sb.Append(FormatFloat(d));
                break;
            case string s:
                AppendStringRepr(sb, s);
                break;
            case List<object?> list:
                sb.Append('[');
                AppendItems(sb, list, depth);
                sb.Append(']');
                break;
            case object?[] tuple:
                sb.Append('(');
                AppendItems(sb, tuple, depth);
                if (tuple.Length == 1)
                {
                    sb.Append(',');
                }

                sb.Append(')');
                break;
            case OrderedDictionary<object, object?> dict:
                sb.Append('{');
                bool first = true;
                foreach (KeyValuePair<object, object?> kv in dict)
                {
                    if (!first)
                    {
                        sb.Append(", ");
                    }

                    first = false;
                    AppendRepr(sb, kv.Key, depth + 1);
                    sb.Append(": ");
                    AppendRepr(sb, kv.Value, depth + 1);
                }

                sb.Append('}');
                break;
            case JinjaNamespace ns:
                sb.Append("<Namespace {");
                bool firstAttr = true;
                foreach (KeyValuePair<string, object?> kv in ns.Attributes)
                {
                    if (!firstAttr)
                    {
                        sb.Append(", ");
                    }

                    firstAttr = false;
                    AppendStringRepr(sb, kv.Key);
                    sb.Append(": ");
                    AppendRepr(sb, kv.Value, depth + 1);
                }

                sb.Append("}>");
                break;
            case JinjaLoop loop:
                sb.Append(CultureInfo.InvariantCulture, $"<LoopContext {loop.Index0 + 1}/{loop.Length}>");
                break;
            case JinjaGenerator:
                sb.Append("<generator object>");
                break;
            case JinjaCallable c:
                sb.Append(CultureInfo.InvariantCulture, $"<function {c.Name}>");
                break;
            default:
                sb.Append(v);
                break;
        }
    }

    private static void AppendItems(StringBuilder sb, IReadOnlyList<object?> items, int depth)
    {
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            AppendRepr(sb, items[i], depth + 1);
        }
    }

    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        sb.Append(quote);
        foreach (string cp in JinjaValue.CodePoints(s))
        {
            char c = cp[0];
            if (c == quote || c == '\\')
            {
                sb.Append('\\').Append(c);
            }
            else if (c == '\n')
            {
                sb.Append("\\n");
            }
            else if (c == '\r')
            {
                sb.Append("\\r");
            }
            else if (c == '\t')
            {
                sb.Append("\\t");
            }
            else if (IsPrintable(cp))
            {
                sb.Append(cp);
            }
            else
            {
                int code = char.IsHighSurrogate(c) && cp.Length == 2 ? char.ConvertToUtf32(cp[0], cp[1]) : c;
                sb.Append(code switch
                {
                    <= 0xFF => "\\x" + code.ToString("x2", CultureInfo.InvariantCulture),
                    <= 0xFFFF => "\\u" + code.ToString("x4", CultureInfo.InvariantCulture),
                    _ => "\\U" + code.ToString("x8", CultureInfo.InvariantCulture),
                });
            }
        }

        sb.Append(quote);
    }

    private static bool IsPrintable(string codePoint)
    {
        if (codePoint == " ")
        {
            return true;
        }

        UnicodeCategory cat = CharUnicodeInfo.GetUnicodeCategory(codePoint, 0);
        return cat is not (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator);
    }

    /// <summary>Python's <c>repr(float)</c>: the shortest round-trip digits, exponent form below 1e-4 and from 1e16.</summary>
    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }

        string r = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r.StartsWith('-');
        if (negative)
        {
            r = r[1..];
        }

        int exp = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exp = int.Parse(r.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }

        int dot = r.IndexOf('.', StringComparison.Ordinal);
        string digits = dot >= 0 ? r.Remove(dot, 1) : r;
        int point = (dot >= 0 ? dot : r.Length) + exp;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
        {
            lead++;
        }

        digits = digits[lead..];
        point -= lead;
        digits = digits.TrimEnd('0');
        string sign = negative ? "-" : string.Empty;
        if (digits.Length == 0)
        {
            return sign + "0.0";
        }

        int sci = point - 1;
        if (sci is >= -4 and < 16)
        {
            if (point <= 0)
            {
                return sign + "0." + new string('0', -point) + digits;
            }

            if (point >= digits.Length)
            {
                return sign + digits + new string('0', point - digits.Length) + ".0";
            }

            return sign + digits[..point] + "." + digits[point..];
        }

        string mantissa = digits.Length == 1 ? digits : digits[..1] + "." + digits[1..];
        string expText = Math.Abs(sci).ToString("00", CultureInfo.InvariantCulture);
        return sign + mantissa + "e" + (sci < 0 ? "-" : "+") + expText;
    }

    /// <summary>
    /// Python's <c>json.dumps(v, ensure_ascii, indent, separators, sort_keys)</c>, the <c>tojson</c> filter of
    /// Hugging Face chat templates (no HTML escaping, keys in insertion order unless sorted).
    /// </summary>
    public static string ToJson(object? v, string? indent, string? itemSeparator, string? keySeparator, bool sortKeys, bool ensureAscii)
    {
        var writer = new JsonWriter(
            indent,
            itemSeparator ?? (indent is null ? ", " : ","),
            keySeparator ?? ": ",
            sortKeys,
            ensureAscii);
        writer.Write(v, 0);
        return writer.ToString();
    }

    private sealed class JsonWriter(string? indent, string itemSeparator, string keySeparator, bool sortKeys, bool ensureAscii)
    {
        private readonly StringBuilder _sb = new();

        public override string ToString() => _sb.ToString();

        public void Write(object? v, int depth)
        {
            if (depth > 200)
            {
                throw new JinjaError("value nested too deeply for tojson");
            }

            switch (v)
            {
                case null:
                    _sb.Append("null");
                    break;
                case bool b:
                    _sb.Append(b ? "true" : "false");
                    break;
                case long l:
                    _sb.Append(l.ToString(CultureInfo.InvariantCulture));
                    break;
                case double d:
                    _sb.Append(JsonFloat(d));
                    break;
                case string s:
                    WriteString(s);
                    break;
                case IReadOnlyList<object?> list when (v is List<object?> or object?[]):
                    if (list.Count == 0)
                    {
                        _sb.Append("[]");
                        break;
                    }

                    _sb.Append('[');
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (i > 0)
                        {
                            _sb.Append(itemSeparator);
                        }

                        NewLine(depth + 1);
                        Write(list[i], depth + 1);
                    }

                    NewLine(depth);
                    _sb.Append(']');
                    break;
                case OrderedDictionary<object, object?> dict:
                    WriteObject(dict.Select(kv => new KeyValuePair<string, object?>(JsonKey(kv.Key), kv.Value)), dict.Count, depth);
                    break;
                default:
                    throw new JinjaError($"Object of type {TypeName(v)} is not JSON serializable");
            }
        }

        private void WriteObject(IEnumerable<KeyValuePair<string, object?>> members, int count, int depth)
        {
            if (count == 0)
            {
                _sb.Append("{}");
                return;
            }

            if (sortKeys)
            {
                members = members.OrderBy(kv => kv.Key, Comparer<string>.Create(JinjaValue.CompareCodePoints));
            }

            _sb.Append('{');
            bool first = true;
            foreach (KeyValuePair<string, object?> kv in members)
            {
                if (!first)
                {
                    _sb.Append(itemSeparator);
                }

                first = false;
                NewLine(depth + 1);
                WriteString(kv.Key);
                _sb.Append(keySeparator);
                Write(kv.Value, depth + 1);
            }

            NewLine(depth);
            _sb.Append('}');
        }

        private static string JsonKey(object key) => key switch
        {
            string s => s,
            bool b => b ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => JsonFloat(d),
            _ => throw new JinjaError($"keys must be str, int, float, bool or None, not {TypeName(key)}"),
        };

        private static string JsonFloat(double d) =>
            double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : FormatFloat(d);

        private void NewLine(int depth)
        {
            if (indent is null)
            {
                return;
            }

            _sb.Append('\n');
            for (int i = 0; i < depth; i++)
            {
                _sb.Append(indent);
            }
        }

        private void WriteString(string s)
        {
            _sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"':
                        _sb.Append("\\\"");
                        break;
                    case '\\':
                        _sb.Append("\\\\");
                        break;
                    case '\n':
                        _sb.Append("\\n");
                        break;
                    case '\r':
                        _sb.Append("\\r");
                        break;
                    case '\t':
                        _sb.Append("\\t");
                        break;
                    case '\b':
                        _sb.Append("\\b");
                        break;
                    case '\f':
                        _sb.Append("\\f");
                        break;
                    default:
                        if (c < 0x20 || (ensureAscii && c > 0x7E))
                        {
                            _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            _sb.Append(c);
                        }

                        break;
                }
            }

            _sb.Append('"');
        }
    }
}
