using System.Globalization;
using System.Text;

namespace R1Orleans.Text.Chat;

/// <summary>Python <c>str</c> behaviour that chat templates lean on: split, strip, title, find, % and format.</summary>
internal static class JinjaStrings
{
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is '\x1c' or '\x1d' or '\x1e' or '\x1f';

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        Func<char, bool> drop = chars is null ? IsSpace : c => chars.Contains(c, StringComparison.Ordinal);
        int start = 0;
        int end = s.Length;
        if (left)
        {
            while (start < end && drop(s[start]))
            {
                start++;
            }
        }

        if (right)
        {
            while (end > start && drop(s[end - 1]))
            {
                end--;
            }
        }

        return s[start..end];
    }

    public static List<object?> Split(string s, string? separator, long maxSplit)
    {
        var parts = new List<object?>();
        if (separator is null)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i]))
                {
                    i++;
                }

                if (i >= s.Length)
                {
                    break;
                }

                if (maxSplit >= 0 && parts.Count >= maxSplit)
                {
                    parts.Add(Strip(s[i..], null, left: false, right: true));
                    break;
                }

                int start = i;
                while (i < s.Length && !IsSpace(s[i]))
                {
                    i++;
                }

                parts.Add(s[start..i]);
            }

            return parts;
        }

        if (separator.Length == 0)
        {
            throw new JinjaError("empty separator");
        }

        int from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            int at = s.IndexOf(separator, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }

            parts.Add(s[from..at]);
            from = at + separator.Length;
        }

        parts.Add(s[from..]);
        return parts;
    }

    public static List<object?> RSplit(string s, string? separator, long maxSplit)
    {
        if (maxSplit < 0)
        {
            return Split(s, separator, maxSplit);
        }

        var parts = new List<object?>();
        if (separator is null)
        {
            int i = s.Length;
            while (true)
            {
                while (i > 0 && IsSpace(s[i - 1]))
                {
                    i--;
                }

                if (i <= 0)
                {
                    break;
                }

                if (parts.Count >= maxSplit)
                {
                    parts.Add(Strip(s[..i], null, left: true, right: false));
                    break;
                }

                int end = i;
                while (i > 0 && !IsSpace(s[i - 1]))
                {
                    i--;
                }

                parts.Add(s[i..end]);
            }

            parts.Reverse();
            return parts;
        }

        if (separator.Length == 0)
        {
            throw new JinjaError("empty separator");
        }

        int to = s.Length;
        while (parts.Count < maxSplit)
        {
            int at = to - separator.Length < 0 ? -1 : s.LastIndexOf(separator, to - 1, to, StringComparison.Ordinal);
            if (at < 0 || at + separator.Length > to)
            {
                break;
            }

            parts.Add(s[(at + separator.Length)..to]);
            to = at;
        }

        parts.Add(s[..to]);
        parts.Reverse();
        return parts;
    }

    public static List<object?> SplitLines(string s, bool keepEnds)
    {
        var lines = new List<object?>();
        int start = 0;
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            int eol = c == '\r' && i + 1 < s.Length && s[i + 1] == '\n' ? 2
                : c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029' ? 1
                : 0;
            if (eol == 0)
            {
                i++;
                continue;
            }

            lines.Add(keepEnds ? s[start..(i + eol)] : s[start..i]);
            i += eol;
            start = i;
        }

        if (start < s.Length)
        {
            lines.Add(s[start..]);
        }

        return lines;
    }

    public static string Replace(string s, string old, string replacement, long count, JinjaOptions options)
    {
        if (count == 0)
        {
            return s;
        }

        var sb = new StringBuilder();
        if (old.Length == 0)
        {
            string[] chars = JinjaValue.CodePoints(s);
            long done = 0;
            for (int i = 0; i <= chars.Length; i++)
            {
                if (count < 0 || done < count)
                {
                    sb.Append(replacement);
                    done++;
                }

                if (i < chars.Length)
                {
                    sb.Append(chars[i]);
                }

                JinjaOperators.CheckLength(sb.Length, options);
            }

            return sb.ToString();
        }

        int from = 0;
        long replaced = 0;
        while (count < 0 || replaced < count)
        {
            int at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }

            sb.Append(s, from, at - from).Append(replacement);
            JinjaOperators.CheckLength(sb.Length, options);
            from = at + old.Length;
            replaced++;
        }

        sb.Append(s, from, s.Length - from);
        JinjaOperators.CheckLength(sb.Length, options);
        return sb.ToString();
    }

    /// <summary>Python's <c>str.title()</c>: a cased letter after an uncased character is upper-cased, others lowered.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsUpper(c) || char.IsLower(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;
            sb.Append(cased ? (previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            previousCased = cased;
        }

        return sb.ToString();
    }

    /// <summary>
    /// Jinja's <c>|title</c> filter (not <c>str.title</c>): words start after whitespace, <c>-</c>, <c>(</c>,
    /// <c>{</c>, <c>[</c> or <c>&lt;</c>; each word's first character is upper-cased and the rest lower-cased.
    /// </summary>
    public static string TitleWords(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            bool separator = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            sb.Append(separator ? c : wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = separator;
        }

        return sb.ToString();
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>Index in code points (Python's) of a UTF-16 index.</summary>
    public static long CodePointIndex(string s, int utf16Index)
    {
        long n = utf16Index;
        for (int i = 0; i + 1 < utf16Index; i++)
        {
            if (char.IsHighSurrogate(s[i]) && char.IsLowSurrogate(s[i + 1]))
            {
                n--;
                i++;
            }
        }

        return n;
    }

    public static long Count(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return JinjaValue.StringLength(s) + 1;
        }

        long n = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }

    /// <summary>Python's <c>format % values</c> for the conversions <c>s r d i f F x X o e E g G c %</c>.</summary>
    public static string PercentFormat(string format, object? values, JinjaOptions options)
    {
        IReadOnlyList<object?> args = values is object?[] tuple ? tuple : [values];
        OrderedDictionary<object, object?>? mapping = values as OrderedDictionary<object, object?>;
        var sb = new StringBuilder();
        int next = 0;
        int i = 0;
        while (i < format.Length)
        {
            char c = format[i++];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }

            if (i >= format.Length)
            {
                throw new JinjaError("incomplete format");
            }

            object? value = null;
            bool haveValue = false;
            if (format[i] == '(')
            {
                int close = format.IndexOf(')', i);
                if (close < 0 || mapping is null)
                {
                    throw new JinjaError("format requires a mapping");
                }

                string key = format[(i + 1)..close];
                value = mapping.TryGetValue(key, out object? found) ? found : throw new JinjaError($"KeyError: '{key}'");
                haveValue = true;
                i = close + 1;
            }

            bool leftAlign = false;
            bool zeroPad = false;
            bool plus = false;
            bool space = false;
            while (i < format.Length && format[i] is '-' or '0' or '+' or ' ' or '#')
            {
                leftAlign |= format[i] == '-';
                zeroPad |= format[i] == '0';
                plus |= format[i] == '+';
                space |= format[i] == ' ';
                i++;
            }

            int width = ReadNumber(format, ref i);
            int precision = -1;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                precision = Math.Max(0, ReadNumber(format, ref i));
            }

            if (i >= format.Length)
            {
                throw new JinjaError("incomplete format");
            }

            char type = format[i++];
            if (type == '%')
            {
                sb.Append('%');
                continue;
            }

            if (!haveValue)
            {
                if (mapping is not null && values is OrderedDictionary<object, object?>)
                {
                    value = values;
                }
                else
                {
                    if (next >= args.Count)
                    {
                        throw new JinjaError("not enough arguments for format string");
                    }

                    value = args[next++];
                }
            }

            string text = type switch
            {
                's' => JinjaFormat.ToStr(value),
                'r' or 'a' => JinjaFormat.Repr(value),
                'd' or 'i' or 'u' => FormatInteger(value),
                'x' => Convert.ToString(JinjaValue.AsLong(Truncate(value)), 16),
                'X' => Convert.ToString(JinjaValue.AsLong(Truncate(value)), 16).ToUpperInvariant(),
                'o' => Convert.ToString(JinjaValue.AsLong(Truncate(value)), 8),
                'f' or 'F' => JinjaValue.AsDouble(value).ToString("F" + (precision < 0 ? 6 : precision).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                'e' or 'E' => FormatExponent(JinjaValue.AsDouble(value), precision < 0 ? 6 : precision, type),
                'g' or 'G' => JinjaValue.AsDouble(value).ToString("G" + (precision < 0 ? 6 : Math.Max(precision, 1)).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                'c' => value is string ch ? ch : char.ConvertFromUtf32((int)JinjaValue.AsLong(value)),
                _ => throw new JinjaError($"unsupported format character '{type}'"),
            };
            if (type is 's' or 'r' or 'a' && precision >= 0 && text.Length > precision)
            {
                text = text[..precision];
            }

            if (type is not ('s' or 'r' or 'a' or 'c') && !text.StartsWith('-') && (plus || space))
            {
                text = (plus ? "+" : " ") + text;
            }

            if (text.Length < width)
            {
                if (leftAlign)
                {
                    text = text.PadRight(width);
                }
                else if (zeroPad && type is not ('s' or 'r' or 'a' or 'c'))
                {
                    bool sign = text.Length > 0 && text[0] is '-' or '+' or ' ';
                    text = sign ? text[0] + text[1..].PadLeft(width - 1, '0') : text.PadLeft(width, '0');
                }
                else
                {
                    text = text.PadLeft(width);
                }
            }

            sb.Append(text);
            JinjaOperators.CheckLength(sb.Length, options);
        }

        // Python lets a lone list or dict argument go unconverted (both are subscriptable), nothing else.
        if (next < args.Count && values is not (List<object?> or OrderedDictionary<object, object?> or JinjaUndefined))
        {
            throw new JinjaError("not all arguments converted during string formatting");
        }

        return sb.ToString();
    }

    private static object? Truncate(object? value) => value is double d ? (long)Math.Truncate(d) : value;

    private static string FormatInteger(object? value) => value switch
    {
        double d => ((long)Math.Truncate(d)).ToString(CultureInfo.InvariantCulture),
        _ => JinjaValue.AsLong(value).ToString(CultureInfo.InvariantCulture),
    };

    private static string FormatExponent(double value, int precision, char type)
    {
        string s = value.ToString((type == 'E' ? "E" : "e") + precision.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        int e = s.IndexOfAny(['e', 'E']);
        string exp = s[(e + 2)..].TrimStart('0').PadLeft(2, '0');
        return s[..(e + 2)] + exp;
    }

    private static int ReadNumber(string s, ref int i)
    {
        int start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            i++;
        }

        return i == start ? 0 : int.Parse(s.AsSpan(start, i - start), CultureInfo.InvariantCulture);
    }

    /// <summary>Python's <c>str.format</c> with <c>{}</c>, <c>{0}</c>, <c>{name}</c>, <c>{x.attr}</c>/<c>{x[key]}</c> fields and no format specs.</summary>
    public static string Format(string format, JinjaArgs args, JinjaOptions options)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c == '}' )
            {
                if (i + 1 < format.Length && format[i + 1] == '}')
                {
                    sb.Append('}');
                    i++;
                    continue;
                }

                throw new JinjaError("Single '}' encountered in format string");
            }

            if (c != '{')
            {
                sb.Append(c);
                continue;
            }

            if (i + 1 < format.Length && format[i + 1] == '{')
            {
                sb.Append('{');
                i++;
                continue;
            }

            int close = format.IndexOf('}', i + 1);
            if (close < 0)
            {
                throw new JinjaError("Single '{' encountered in format string");
            }

            string field = format[(i + 1)..close];
            i = close;
            string conversion = string.Empty;
            int bang = field.IndexOf('!', StringComparison.Ordinal);
            if (bang >= 0)
            {
                conversion = field[(bang + 1)..];
                field = field[..bang];
            }

            if (field.Contains(':', StringComparison.Ordinal))
            {
                throw new JinjaError("format specs in str.format are not supported");
            }

            int end = field.IndexOfAny(['.', '[']);
            string head = end < 0 ? field : field[..end];
            object? value;
            if (head.Length == 0)
            {
                value = args.Get(auto, "\0", JinjaUndefined.Anonymous);
                if (auto >= args.Count)
                {
                    throw new JinjaError($"Replacement index {auto} out of range for positional args tuple");
                }

                auto++;
            }
            else if (int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                if (index >= args.Count)
                {
                    throw new JinjaError($"Replacement index {index} out of range for positional args tuple");
                }

                value = args.Positional[index];
            }
            else
            {
                value = args.Has(-1, head) ? args.Get(-1, head) : throw new JinjaError($"KeyError: '{head}'");
            }

            string rest = end < 0 ? string.Empty : field[end..];
            while (rest.Length > 0)
            {
                if (rest[0] == '.')
                {
                    int stop = rest.IndexOfAny(['.', '['], 1);
                    string name = stop < 0 ? rest[1..] : rest[1..stop];
                    value = JinjaAccess.GetAttr(value, name);
                    rest = stop < 0 ? string.Empty : rest[stop..];
                }
                else
                {
                    int stop = rest.IndexOf(']', StringComparison.Ordinal);
                    if (stop < 0)
                    {
                        throw new JinjaError("Missing ']' in format string");
                    }

                    string key = rest[1..stop];
                    value = JinjaAccess.GetItem(value, long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : key);
                    rest = rest[(stop + 1)..];
                }
            }

            sb.Append(conversion is "r" or "a" ? JinjaFormat.Repr(value) : JinjaFormat.ToStr(value is JinjaUndefined u ? throw u.Fail() : value));
            JinjaOperators.CheckLength(sb.Length, options);
        }

        return sb.ToString();
    }
}
