namespace R1Orleans.Text.Chat;

/// <summary>The object made by <c>namespace(...)</c>: the one value a template may change after creating it.</summary>
internal sealed class JinjaNamespace
{
    public OrderedDictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);

    public object? Get(string name) =>
        Attributes.TryGetValue(name, out object? value) ? value : JinjaUndefined.Attribute(this, name);
}
