using System.Globalization;

namespace R1Orleans.Text.Chat;

/// <summary>
/// The Python methods a template may call on values: the non-mutating <c>str</c>, <c>dict</c> and <c>list</c> methods.
/// Mutating ones (<c>append</c>, <c>pop</c>, <c>update</c>, ...) are unsafe as in Hugging Face's immutable sandbox.
/// </summary>
internal static class JinjaMethods
{
    private static readonly HashSet<string> s_stringMethods =
    [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "replace", "upper",
        "lower", "title", "capitalize", "swapcase", "find", "rfind", "index", "rindex", "count", "join", "format",
        "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum", "isspace", "isupper", "islower", "istitle",
        "removeprefix", "removesuffix", "center", "ljust", "rjust", "zfill", "partition", "rpartition",
    ];

    private static readonly HashSet<string> s_dictMethods = ["keys", "values", "items", "get", "copy"];

    private static readonly HashSet<string> s_listMethods = ["count", "index", "copy"];

    private static readonly HashSet<string> s_unsafeDictMethods = ["clear", "pop", "popitem", "setdefault", "update"];

    private static readonly HashSet<string> s_unsafeListMethods =
        ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"];

    public static bool Has(object target, string name) => target switch
    {
        string => s_stringMethods.Contains(name),
        OrderedDictionary<object, object?> => s_dictMethods.Contains(name),
        List<object?> => s_listMethods.Contains(name),
        object?[] => name is "count" or "index",
        _ => false,
    };

    public static bool IsUnsafe(object target, string name) => target switch
    {
        OrderedDictionary<object, object?> => s_unsafeDictMethods.Contains(name),
        List<object?> => s_unsafeListMethods.Contains(name),
        _ => false,
    };

    public static object? Call(JinjaEvaluator evaluator, object target, string name, JinjaArgs args) => target switch
    {
        string s => CallString(evaluator, s, name, args),
        OrderedDictionary<object, object?> dict => CallDict(dict, name, args),
        IReadOnlyList<object?> list => CallList(list, target is object?[], name, args),
        _ => throw new JinjaError($"'{JinjaFormat.TypeName(target)}' object has no attribute '{name}'"),
    };

    private static string Str(object? v, string function) => v switch
    {
        string s => s,
        JinjaUndefined u => throw u.Fail(),
        _ => throw new JinjaError($"{function}() argument must be str, not {JinjaFormat.TypeName(v)}"),
    };

    private static string? OptionalStr(object? v, string function) => v is null ? null : Str(v, function);

    private static long OptionalLong(object? v, long fallback) => v is null ? fallback : JinjaValue.AsLong(v);

    private static object? CallString(JinjaEvaluator evaluator, string s, string name, JinjaArgs args)
    {
        JinjaOptions options = evaluator.Options;
        switch (name)
        {
            case "strip" or "lstrip" or "rstrip":
                args.Check(name, "chars");
                return JinjaStrings.Strip(s, OptionalStr(args.Get(0, "chars"), name), name != "rstrip", name != "lstrip");
            case "split" or "rsplit":
                args.Check(name, "sep", "maxsplit");
                string? sep = OptionalStr(args.Get(0, "sep"), name);
                long maxSplit = OptionalLong(args.Get(1, "maxsplit"), -1);
                return name == "split" ? JinjaStrings.Split(s, sep, maxSplit) : JinjaStrings.RSplit(s, sep, maxSplit);
            case "splitlines":
                args.Check(name, "keepends");
                return JinjaStrings.SplitLines(s, JinjaValue.Truthy(args.Get(0, "keepends", false)));
            case "startswith" or "endswith":
                args.Check(name, "prefix", "start", "end");
                string window = Window(s, args.Get(1, "start"), args.Get(2, "end"));
                object? affix = args.Get(0, "prefix");
                IEnumerable<object?> candidates = affix is object?[] tuple ? tuple : [affix];
                return candidates.Any(c => name == "startswith"
                    ? window.StartsWith(Str(c, name), StringComparison.Ordinal)
                    : window.EndsWith(Str(c, name), StringComparison.Ordinal));
            case "replace":
                args.Check(name, "old", "new", "count");
                return JinjaStrings.Replace(s, Str(args.Get(0, "old"), name), Str(args.Get(1, "new"), name), OptionalLong(args.Get(2, "count"), -1), options);
            case "upper":
                return s.ToUpperInvariant();
            case "lower":
                return s.ToLowerInvariant();
            case "title":
                return JinjaStrings.Title(s);
            case "capitalize":
                return JinjaStrings.Capitalize(s);
            case "swapcase":
                return string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)));
            case "find" or "rfind" or "index" or "rindex":
                args.Check(name, "sub", "start", "end");
                string sub = Str(args.Get(0, "sub"), name);
                string[] chars = JinjaValue.CodePoints(s);
                List<int> range = JinjaAccess.SliceIndices(chars.Length, args.Get(1, "start"), args.Get(2, "end"), null);
                int offset = range.Count > 0 ? range[0] : 0;
                string hay = string.Concat(range.Select(i => chars[i]));
                int at = name is "find" or "index" ? hay.IndexOf(sub, StringComparison.Ordinal) : hay.LastIndexOf(sub, StringComparison.Ordinal);
                if (at < 0 && name is "index" or "rindex")
                {
                    throw new JinjaError("substring not found");
                }

                return at < 0 ? -1L : offset + JinjaStrings.CodePointIndex(hay, at);
            case "count":
                args.Check(name, "sub");
                return JinjaStrings.Count(s, Str(args.Get(0, "sub"), name));
            case "join":
                args.Check(name, "iterable");
                IReadOnlyList<object?> items = JinjaValue.Iterate(args.Get(0, "iterable"));
                string joined = string.Join(s, items.Select(i => Str(i, "join")));
                JinjaOperators.CheckLength(joined.Length, options);
                return joined;
            case "format":
                return JinjaStrings.Format(s, args, options);
            case "isdigit" or "isdecimal" or "isnumeric":
                return s.Length > 0 && s.All(char.IsDigit);
            case "isalpha":
                return s.Length > 0 && s.All(char.IsLetter);
            case "isalnum":
                return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "isspace":
                return s.Length > 0 && s.All(JinjaStrings.IsSpace);
            case "isupper":
                return s.Any(char.IsUpper) && !s.Any(char.IsLower);
            case "islower":
                return s.Any(char.IsLower) && !s.Any(char.IsUpper);
            case "istitle":
                return s.Any(char.IsLetter) && JinjaStrings.Title(s) == s;
            case "removeprefix":
                string prefix = Str(args.Get(0, "prefix"), name);
                return s.StartsWith(prefix, StringComparison.Ordinal) ? s[prefix.Length..] : s;
            case "removesuffix":
                string suffix = Str(args.Get(0, "suffix"), name);
                return suffix.Length > 0 && s.EndsWith(suffix, StringComparison.Ordinal) ? s[..^suffix.Length] : s;
            case "center" or "ljust" or "rjust":
                args.Check(name, "width", "fillchar");
                int width = (int)Math.Min(JinjaValue.AsLong(args.Get(0, "width")), options.MaxOutputLength);
                char fill = Str(args.Get(1, "fillchar", " "), name) is { Length: 1 } f ? f[0] : throw new JinjaError("The fill character must be exactly one character long");
                return Pad(s, width, fill, name);
            case "zfill":
                int zwidth = (int)Math.Min(JinjaValue.AsLong(args.Get(0, "width")), options.MaxOutputLength);
                bool signed = s.Length > 0 && s[0] is '-' or '+';
                return s.Length >= zwidth ? s : signed ? s[0] + s[1..].PadLeft(zwidth - 1, '0') : s.PadLeft(zwidth, '0');
            case "partition" or "rpartition":
                string separator = Str(args.Get(0, "sep"), name);
                if (separator.Length == 0)
                {
                    throw new JinjaError("empty separator");
                }

                int where = name == "partition" ? s.IndexOf(separator, StringComparison.Ordinal) : s.LastIndexOf(separator, StringComparison.Ordinal);
                if (where < 0)
                {
                    return name == "partition" ? new object?[] { s, string.Empty, string.Empty } : new object?[] { string.Empty, string.Empty, s };
                }

                return new object?[] { s[..where], separator, s[(where + separator.Length)..] };
            default:
                throw new JinjaError($"'str' object has no attribute '{name}'");
        }
    }

    private static string Window(string s, object? start, object? end)
    {
        if (start is null && end is null)
        {
            return s;
        }

        string[] chars = JinjaValue.CodePoints(s);
        return string.Concat(JinjaAccess.SliceIndices(chars.Length, start, end, null).Select(i => chars[i]));
    }

    private static string Pad(string s, int width, char fill, string how)
    {
        int length = JinjaValue.StringLength(s);
        if (length >= width)
        {
            return s;
        }

        int total = width - length;
        int left = how switch
        {
            "ljust" => 0,
            "rjust" => total,
            _ => (total / 2) + (total & width & 1),
        };
        return new string(fill, left) + s + new string(fill, total - left);
    }

    private static object? CallDict(OrderedDictionary<object, object?> dict, string name, JinjaArgs args)
    {
        switch (name)
        {
            case "keys":
                return dict.Keys.ToList<object?>();
            case "values":
                return dict.Values.ToList();
            case "items":
                return dict.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList();
            case "get":
                args.Check(name, "key", "default");
                object? key = args.Get(0, "key");
                return key is not null && JinjaValue.IsHashable(key) && dict.TryGetValue(key, out object? value)
                    ? value
                    : args.Get(1, "default");
            case "copy":
                var copy = JinjaValue.NewDict();
                foreach (KeyValuePair<object, object?> kv in dict)
                {
                    copy[kv.Key] = kv.Value;
                }

                return copy;
            default:
                throw new JinjaError($"'dict' object has no attribute '{name}'");
        }
    }

    private static object? CallList(IReadOnlyList<object?> list, bool isTuple, string name, JinjaArgs args)
    {
        switch (name)
        {
            case "count":
                object? needle = args.Get(0, "value");
                return (long)list.Count(x => JinjaValue.Equal(x, needle));
            case "index":
                object? item = args.Get(0, "value");
                for (int i = 0; i < list.Count; i++)
                {
                    if (JinjaValue.Equal(list[i], item))
                    {
                        return (long)i;
                    }
                }

                throw new JinjaError($"{JinjaFormat.Repr(item)} is not in {(isTuple ? "tuple" : "list")}");
            case "copy":
                return list.ToList();
            default:
                throw new JinjaError(string.Format(CultureInfo.InvariantCulture, "'{0}' object has no attribute '{1}'", isTuple ? "tuple" : "list", name));
        }
    }
}
