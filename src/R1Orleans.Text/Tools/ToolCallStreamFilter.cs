namespace R1Orleans.Text.Tools;

/// <summary>
/// Streams an answer's content while holding back its tool-call markup: text is passed on until the opening marker
/// (<see cref="ToolCallMarkup.CallsBegin"/>) appears; a piece ending in what could be the start of that marker is held
/// until the next piece decides. From the marker on everything is kept, and <see cref="Finish"/> parses it.
/// </summary>
public sealed class ToolCallStreamFilter
{
    private readonly System.Text.StringBuilder _markup = new();
    private string _held = "";
    private bool _inMarkup;

    /// <summary>The content of this piece that can be sent now.</summary>
    public string Push(string piece)
    {
        ArgumentNullException.ThrowIfNull(piece);
        if (_inMarkup)
        {
            _markup.Append(piece);
            return "";
        }

        string text = _held + piece;
        _held = "";
        int begin = text.IndexOf(ToolCallMarkup.CallsBegin, StringComparison.Ordinal);
        if (begin >= 0)
        {
            _inMarkup = true;
            _markup.Append(text, begin, text.Length - begin);
            return text[..begin];
        }

        int keep = PartialMarkerLength(text);
        _held = text[(text.Length - keep)..];
        return text[..(text.Length - keep)];
    }

    /// <summary>
    /// At the end of the answer: the content still held back and the tool calls. Markup that holds no well-formed call is
    /// returned as content, so no text is lost.
    /// </summary>
    public (string Content, IReadOnlyList<ToolCallText> Calls) Finish()
    {
        string held = _held;
        _held = "";
        if (!_inMarkup)
        {
            return (held, []);
        }

        string markup = _markup.ToString();
        (string content, IReadOnlyList<ToolCallText> calls) = ToolCallMarkup.Parse(markup);
        return calls.Count == 0 ? (held + markup, []) : (held + content, calls);
    }

    /// <summary>Characters at the end of text that are a proper prefix of the opening marker.</summary>
    private static int PartialMarkerLength(string text)
    {
        string marker = ToolCallMarkup.CallsBegin;
        for (int n = Math.Min(marker.Length - 1, text.Length); n > 0; n--)
        {
            if (string.CompareOrdinal(text, text.Length - n, marker, 0, n) == 0)
            {
                return n;
            }
        }

        return 0;
    }
}
