namespace R1Orleans.Text.Chat;

/// <summary>
/// What Jinja's <c>map</c>, <c>select</c>, <c>reject</c>, <c>selectattr</c>, <c>rejectattr</c>, <c>items</c> and
/// <c>unique</c> filters return: a lazy, one-shot Python generator. It is always truthy, has no length and no index,
/// runs (and fails, if it fails) only when walked, and is empty once walked; templates pass it through <c>|list</c>.
/// </summary>
internal sealed class JinjaGenerator
{
    private Func<IEnumerable<object?>>? _source;
    private object?[] _items = [];
    private int _position;

    public JinjaGenerator(Func<IEnumerable<object?>> source)
    {
        _source = source;
    }

    /// <summary>The items not yet consumed; the generator is exhausted afterwards.</summary>
    public object?[] TakeAll()
    {
        Materialize();
        object?[] rest = _items[_position..];
        _position = _items.Length;
        return rest;
    }

    /// <summary>The next item, or false when exhausted.</summary>
    public bool TryTakeNext(out object? item)
    {
        Materialize();
        if (_position < _items.Length)
        {
            item = _items[_position++];
            return true;
        }

        item = null;
        return false;
    }

    private void Materialize()
    {
        if (_source is not null)
        {
            Func<IEnumerable<object?>> source = _source;
            _source = null;
            _items = source().ToArray();
        }
    }
}
