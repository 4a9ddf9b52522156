namespace R1Orleans.Engine.Scheduling;

/// <summary>
/// Finds stop strings across token boundaries. Text that could still be the start of a stop string is held back;
/// when a stop string completes, the text before it is released and the stop string itself never is.
/// </summary>
public sealed class StopStringMatcher(IReadOnlyList<string> stops)
{
    private string _held = "";

    public bool Stopped { get; private set; }

    /// <summary>Feeds a piece; returns the text that is now safe to emit.</summary>
    public string Push(string piece)
    {
        if (Stopped)
        {
            return "";
        }

        string text = _held + piece;
        int first = -1;
        foreach (string s in stops)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
            }
        }

        if (first >= 0)
        {
            Stopped = true;
            _held = "";
            return text[..first];
        }

        int hold = 0;
        foreach (string s in stops)
        {
            for (int len = Math.Min(s.Length - 1, text.Length); len > hold; len--)
            {
                if (text.AsSpan(text.Length - len).SequenceEqual(s.AsSpan(0, len)))
                {
                    hold = len;
                    break;
                }
            }
        }

        _held = text[^hold..];
        return text[..^hold];
    }

    /// <summary>Releases held text at the end of a request that did not stop on a string.</summary>
    public string Flush()
    {
        string h = Stopped ? "" : _held;
        _held = "";
        return h;
    }
}
