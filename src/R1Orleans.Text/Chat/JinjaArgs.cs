namespace R1Orleans.Text.Chat;

/// <summary>Arguments of a call, filter or test: positional values then keyword values, bound Python-style.</summary>
internal sealed class JinjaArgs
{
    public static readonly JinjaArgs Empty = new([], []);

    public JinjaArgs(List<object?> positional, List<KeyValuePair<string, object?>> named)
    {
        Positional = positional;
        Named = named;
    }

    public List<object?> Positional { get; }

    public List<KeyValuePair<string, object?>> Named { get; }

    public int Count => Positional.Count;

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index >= 0 && index < Positional.Count)
        {
            return Positional[index];
        }

        foreach (KeyValuePair<string, object?> kv in Named)
        {
            if (kv.Key == name)
            {
                return kv.Value;
            }
        }

        return fallback;
    }

    public bool Has(int index, string name)
    {
        if (index >= 0 && index < Positional.Count)
        {
            return true;
        }

        foreach (KeyValuePair<string, object?> kv in Named)
        {
            if (kv.Key == name)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Rejects more positional arguments than <paramref name="names"/>, and keywords not among them.</summary>
    public void Check(string function, params string[] names)
    {
        if (Positional.Count > names.Length)
        {
            throw new JinjaError($"{function}() takes at most {names.Length} argument(s) ({Positional.Count} given)");
        }

        foreach (KeyValuePair<string, object?> kv in Named)
        {
            int at = Array.IndexOf(names, kv.Key);
            if (at < 0)
            {
                throw new JinjaError($"{function}() got an unexpected keyword argument '{kv.Key}'");
            }

            if (at < Positional.Count)
            {
                throw new JinjaError($"{function}() got multiple values for argument '{kv.Key}'");
            }
        }
    }
}
