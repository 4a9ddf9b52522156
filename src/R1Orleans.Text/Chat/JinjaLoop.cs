namespace R1Orleans.Text.Chat;

/// <summary>The <c>loop</c> variable inside <c>{% for %}</c>: index, index0, revindex, first, last, length, cycle, ...</summary>
internal sealed class JinjaLoop
{
    private readonly IReadOnlyList<object?> _items;

    public JinjaLoop(IReadOnlyList<object?> items, int depth0)
    {
        _items = items;
        Depth0 = depth0;
    }

    public int Index0 { get; set; }

    public int Length => _items.Count;

    public int Depth0 { get; }

    public object? GetAttribute(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(Length - Index0),
        "revindex0" => (long)(Length - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Length - 1,
        "length" => (long)Length,
        "depth" => (long)(Depth0 + 1),
        "depth0" => (long)Depth0,
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : JinjaUndefined.WithDescription("there is no previous item"),
        "nextitem" => Index0 + 1 < Length ? _items[Index0 + 1] : JinjaUndefined.WithDescription("there is no next item"),
        "cycle" => new JinjaFunction("cycle", (_, args) =>
            args.Count == 0
                ? throw new JinjaError("no items for cycling given")
                : args.Positional[Index0 % args.Count]),
        _ => JinjaUndefined.Attribute(this, name),
    };
}
