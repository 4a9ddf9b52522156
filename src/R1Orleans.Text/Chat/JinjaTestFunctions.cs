namespace R1Orleans.Text.Chat;

/// <summary>Jinja's tests, used as <c>x is name</c> / <c>x is not name(arg)</c> and by <c>select</c>/<c>selectattr</c>.</summary>
internal static class JinjaTestFunctions
{
    private static readonly Dictionary<string, JinjaTestFn> s_tests = new(StringComparer.Ordinal)
    {
        ["defined"] = (_, v, _) => v is not JinjaUndefined,
        ["undefined"] = (_, v, _) => v is JinjaUndefined,
        ["none"] = (_, v, _) => v is null,
        ["boolean"] = (_, v, _) => v is bool,
        ["true"] = (_, v, _) => v is true,
        ["false"] = (_, v, _) => v is false,
        ["integer"] = (_, v, _) => v is long,
        ["float"] = (_, v, _) => v is double,
        ["number"] = (_, v, _) => JinjaValue.IsNumber(v),
        ["string"] = (_, v, _) => v is string,
        ["mapping"] = (_, v, _) => v is OrderedDictionary<object, object?>,
        ["iterable"] = (_, v, _) => v is string or List<object?> or object?[] or OrderedDictionary<object, object?> or JinjaGenerator or JinjaUndefined,
        ["sequence"] = (_, v, _) => v is string or List<object?> or object?[] or OrderedDictionary<object, object?> or JinjaUndefined,
        ["callable"] = (_, v, _) => v is JinjaCallable or JinjaUndefined,
        ["odd"] = (e, v, _) => JinjaValue.Equal(Remainder(e, v, 2L), 1L),
        ["even"] = (e, v, _) => JinjaValue.Equal(Remainder(e, v, 2L), 0L),
        ["divisibleby"] = (e, v, a) => JinjaValue.Equal(Remainder(e, v, Arg(a, "divisibleby")), 0L),
        ["eq"] = (_, v, a) => JinjaValue.Equal(v, Arg(a, "eq")),
        ["equalto"] = (_, v, a) => JinjaValue.Equal(v, Arg(a, "equalto")),
        ["ne"] = (_, v, a) => !JinjaValue.Equal(v, Arg(a, "ne")),
        ["lt"] = (_, v, a) => JinjaValue.Compare(v, Arg(a, "lt")) < 0,
        ["lessthan"] = (_, v, a) => JinjaValue.Compare(v, Arg(a, "lessthan")) < 0,
        ["le"] = (_, v, a) => JinjaValue.Compare(v, Arg(a, "le")) <= 0,
        ["gt"] = (_, v, a) => JinjaValue.Compare(v, Arg(a, "gt")) > 0,
        ["greaterthan"] = (_, v, a) => JinjaValue.Compare(v, Arg(a, "greaterthan")) > 0,
        ["ge"] = (_, v, a) => JinjaValue.Compare(v, Arg(a, "ge")) >= 0,
        ["in"] = (_, v, a) => JinjaValue.Contains(Arg(a, "in"), v),
        ["sameas"] = (_, v, a) => SameAs(v, Arg(a, "sameas")),
        ["lower"] = (_, v, _) => JinjaFormat.ToStr(v) is var s && s.Any(char.IsLower) && !s.Any(char.IsUpper),
        ["upper"] = (_, v, _) => JinjaFormat.ToStr(v) is var s && s.Any(char.IsUpper) && !s.Any(char.IsLower),
        ["escaped"] = (_, _, _) => false,
        ["filter"] = (_, v, _) => v is string name && JinjaFilters.Find(name) is not null,
        ["test"] = (_, v, _) => v is string name && Find(name) is not null,
    };

    private static readonly HashSet<string> s_withOneArgument =
        ["divisibleby", "eq", "equalto", "ne", "lt", "lessthan", "le", "gt", "greaterthan", "ge", "in", "sameas"];

    /// <summary>The test of that name, checking the number of arguments (none, or one for comparisons).</summary>
    public static JinjaTestFn? Find(string name)
    {
        if (!s_tests.TryGetValue(name, out JinjaTestFn? function))
        {
            return null;
        }

        int allowed = s_withOneArgument.Contains(name) ? 1 : 0;
        return (e, v, a) => a.Count + a.Named.Count <= allowed
            ? function(e, v, a)
            : throw new JinjaError($"test '{name}' takes {(allowed == 0 ? "no arguments" : "one argument")}");
    }

    private static object? Arg(JinjaArgs args, string test) =>
        args.Count >= 1 ? args.Positional[0] : args.Named.Count >= 1 ? args.Named[0].Value
            : throw new JinjaError($"test '{test}' needs an argument");

    /// <summary><c>value % divisor</c> with Python's semantics (Jinja's odd, even and divisibleby tests).</summary>
    private static object? Remainder(JinjaEvaluator evaluator, object? value, object? divisor) =>
        JinjaOperators.Binary("%", value, divisor, evaluator.Options);

    private static bool SameAs(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (bool x, bool y) => x == y,
        (JinjaUndefined, JinjaUndefined) => ReferenceEquals(a, b),
        (long or double or string, _) => JinjaValue.Equal(a, b) && a!.GetType() == b?.GetType(),
        _ => ReferenceEquals(a, b),
    };
}
