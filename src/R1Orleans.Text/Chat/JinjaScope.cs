namespace R1Orleans.Text.Chat;

/// <summary>
/// Variables of one Jinja frame. The template body runs in one scope, each for-loop iteration and each macro call in
/// a child scope, so <c>{% set %}</c> inside a loop does not leak out of it (which is why templates use namespaces).
/// </summary>
internal sealed class JinjaScope
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);
    private readonly JinjaScope? _parent;

    public JinjaScope(JinjaScope? parent)
    {
        _parent = parent;
    }

    public bool TryGet(string name, out object? value)
    {
        for (JinjaScope? s = this; s is not null; s = s._parent)
        {
            if (s._variables.TryGetValue(name, out value))
            {
                return true;
            }
        }

        value = null;
        return false;
    }

    public object? Get(string name) => TryGet(name, out object? value) ? value : JinjaUndefined.Variable(name);

    public void Set(string name, object? value) => _variables[name] = value;
}
