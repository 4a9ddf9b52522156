namespace R1Orleans.Text.Reasoning;

/// <summary>A piece of streamed output, split into reasoning (inside &lt;think&gt;…&lt;/think&gt;) and answer text.</summary>
public readonly record struct ReasoningDelta(string Reasoning, string Content);

/// <summary>
/// Separates a &lt;think&gt; model's reasoning from its answer while streaming. When the generation prompt already
/// opened &lt;think&gt; (R1's template ends in "&lt;think&gt;\n"), the output starts inside the reasoning; otherwise a
/// leading &lt;think&gt; opens it. The first &lt;/think&gt; ends it. Tags split across pieces are held back until they
/// are decided; the tags themselves never appear in either part.
/// </summary>
public sealed class ReasoningSplitter
{
    public const string Open = "<think>";
    public const string Close = "</think>";

    private string _held = "";
    private State _state;

    public ReasoningSplitter(bool promptOpenedThink)
    {
        _state = promptOpenedThink ? State.Reasoning : State.Start;
    }

    private enum State
    {
        /// <summary>Nothing seen yet: the output may open with &lt;think&gt; (leading whitespace allowed).</summary>
        Start,
        Reasoning,
        Content,
    }

    /// <summary>True when a generation prompt ends by opening a think block.</summary>
    public static bool PromptOpensThink(string prompt) => prompt.TrimEnd().EndsWith(Open, StringComparison.Ordinal);

    public ReasoningDelta Push(string piece)
    {
        string text = _held + piece;
        _held = "";
        string reasoning = "", content = "";
        while (text.Length > 0)
        {
            switch (_state)
            {
                case State.Start:
                {
                    string trimmed = text.TrimStart();
                    if (trimmed.StartsWith(Open, StringComparison.Ordinal))
                    {
                        _state = State.Reasoning;
                        text = trimmed[Open.Length..];
                    }
                    else if (Open.StartsWith(trimmed, StringComparison.Ordinal))
                    {
                        _held = text; // "", " ", "<th": undecided
                        return new(reasoning, content);
                    }
                    else
                    {
                        _state = State.Content;
                    }

                    break;
                }

                case State.Reasoning:
                {
                    int at = text.IndexOf(Close, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        reasoning += text[..at];
                        text = text[(at + Close.Length)..];
                        _state = State.Content;
                        break;
                    }

                    int hold = PartialSuffix(text, Close);
                    reasoning += text[..^hold];
                    _held = text[^hold..];
                    return new(reasoning, content);
                }

                default:
                    content += text;
                    text = "";
                    break;
            }
        }

        return new(reasoning, content);
    }

    /// <summary>Releases held text at the end of the stream (an unfinished tag is plain text).</summary>
    public ReasoningDelta Flush()
    {
        string h = _held;
        _held = "";
        return _state == State.Reasoning ? new(h, "") : new("", h);
    }

    /// <summary>Splits a complete output in one call.</summary>
    public static ReasoningDelta SplitAll(string output, bool promptOpenedThink)
    {
        var s = new ReasoningSplitter(promptOpenedThink);
        ReasoningDelta a = s.Push(output);
        ReasoningDelta b = s.Flush();
        return new(a.Reasoning + b.Reasoning, a.Content + b.Content);
    }

    private static int PartialSuffix(string text, string tag)
    {
        for (int len = Math.Min(tag.Length - 1, text.Length); len > 0; len--)
        {
            if (text.AsSpan(text.Length - len).SequenceEqual(tag.AsSpan(0, len)))
            {
                return len;
            }
        }

        return 0;
    }
}
