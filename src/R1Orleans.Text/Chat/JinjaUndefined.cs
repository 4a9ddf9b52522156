namespace R1Orleans.Text.Chat;

/// <summary>
/// Jinja's <c>Undefined</c>: a missing variable, key or attribute. It prints as nothing, is falsy, iterates as empty and
/// has length 0; using it in arithmetic, calling it or reading an attribute of it is an error naming what was missing.
/// </summary>
internal sealed class JinjaUndefined
{
    public static readonly JinjaUndefined Anonymous = new("value is undefined");

    private JinjaUndefined(string description)
    {
        Description = description;
    }

    /// <summary>What went missing, as Jinja says it: <c>'x' is undefined</c>.</summary>
    public string Description { get; }

    public static JinjaUndefined Variable(string name) => new($"'{name}' is undefined");

    public static JinjaUndefined Attribute(object? owner, object? name) =>
        new($"'{JinjaFormat.TypeName(owner)} object' has no attribute {JinjaFormat.Repr(name)}");

    public static JinjaUndefined Unsafe(object? owner, string name) =>
        new($"access to attribute '{name}' of '{JinjaFormat.TypeName(owner)}' object is unsafe");

    public static JinjaUndefined WithDescription(string description) => new(description);

    public JinjaError Fail() => new(Description);

    public override string ToString() => string.Empty;
}
