namespace R1Orleans.Text.Chat;

/// <summary>
/// Attribute, subscript and slice access with Jinja's rules: <c>x.name</c> tries a method of the value first and then
/// the item <c>name</c>; <c>x[key]</c> tries the item first and then a method. A missing key, attribute or index
/// yields undefined; reaching into undefined itself is an error.
/// </summary>
internal static class JinjaAccess
{
    public static object? GetAttr(object? target, string name)
    {
        switch (target)
        {
            case JinjaUndefined u:
                throw u.Fail();
            case OrderedDictionary<object, object?> dict:
                if (JinjaMethods.Has(dict, name))
                {
                    return new JinjaBoundMethod(dict, name);
                }

                return dict.TryGetValue(name, out object? value) ? value : Missing(target, name);
            case JinjaNamespace ns:
                return ns.Get(name);
            case JinjaLoop loop:
                return loop.GetAttribute(name);
            default:
                return Method(target, name) ?? Missing(target, name);
        }
    }

    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case JinjaUndefined u:
                throw u.Fail();
            case OrderedDictionary<object, object?> dict:
                if (key is not null && JinjaValue.IsHashable(key) && dict.TryGetValue(key, out object? value))
                {
                    return value;
                }

                break;
            case IReadOnlyList<object?> list when (target is List<object?> or object?[]):
                if (JinjaValue.IsInteger(key))
                {
                    long index = JinjaValue.AsLong(key);
                    if (index < 0)
                    {
                        index += list.Count;
                    }

                    if (index >= 0 && index < list.Count)
                    {
                        return list[(int)index];
                    }
                }

                break;
            case string s:
                if (JinjaValue.IsInteger(key))
                {
                    string[] chars = JinjaValue.CodePoints(s);
                    long index = JinjaValue.AsLong(key);
                    if (index < 0)
                    {
                        index += chars.Length;
                    }

                    if (index >= 0 && index < chars.Length)
                    {
                        return chars[index];
                    }
                }

                break;
            case JinjaNamespace ns when key is string name:
                return ns.Get(name);
            case JinjaLoop loop when key is string name:
                return loop.GetAttribute(name);
        }

        if (key is string methodName && Method(target, methodName) is { } method)
        {
            return method;
        }

        return Missing(target, key);
    }

    private static object? Method(object? target, string name)
    {
        if (target is null or JinjaCallable)
        {
            return null;
        }

        if (JinjaMethods.Has(target, name))
        {
            return new JinjaBoundMethod(target, name);
        }

        return JinjaMethods.IsUnsafe(target, name) ? JinjaUndefined.Unsafe(target, name) : null;
    }

    private static JinjaUndefined Missing(object? target, object? key) => JinjaUndefined.Attribute(target, key);

    /// <summary>Python slicing <c>x[start:stop:step]</c> of a list, tuple or string; anything else gives undefined.</summary>
    public static object? GetSlice(object? target, object? start, object? stop, object? step)
    {
        if (target is JinjaUndefined u)
        {
            throw u.Fail();
        }

        IReadOnlyList<object?> items;
        string[]? chars = null;
        switch (target)
        {
            case List<object?> list:
                items = list;
                break;
            case object?[] tuple:
                items = tuple;
                break;
            case string s:
                chars = JinjaValue.CodePoints(s);
                items = chars;
                break;
            default:
                return JinjaUndefined.WithDescription($"'{JinjaFormat.TypeName(target)}' object is not subscriptable");
        }

        List<int> indices = SliceIndices(items.Count, start, stop, step);
        if (chars is not null)
        {
            return string.Concat(indices.Select(i => chars[i]));
        }

        List<object?> picked = indices.ConvertAll(i => items[i]);
        return target is object?[] ? picked.ToArray() : picked;
    }

    public static List<int> SliceIndices(int length, object? start, object? stop, object? step)
    {
        long s = step is null ? 1 : SliceBound(step);
        if (s == 0)
        {
            throw new JinjaError("slice step cannot be zero");
        }

        long lower = s > 0 ? 0 : -1;
        long upper = s > 0 ? length : length - 1;
        long from = start is null ? (s < 0 ? upper : lower) : Clamp(SliceBound(start), length, lower, upper);
        long to = stop is null ? (s < 0 ? lower : upper) : Clamp(SliceBound(stop), length, lower, upper);
        var result = new List<int>();
        for (long i = from; s > 0 ? i < to : i > to; i += s)
        {
            result.Add((int)i);
        }

        return result;
    }

    private static long SliceBound(object? v) => JinjaValue.IsInteger(v)
        ? JinjaValue.AsLong(v)
        : throw new JinjaError("slice indices must be integers or None");

    private static long Clamp(long index, int length, long lower, long upper)
    {
        if (index < 0)
        {
            index += length;
            return index < lower ? lower : index;
        }

        return index > upper ? upper : index;
    }
}
