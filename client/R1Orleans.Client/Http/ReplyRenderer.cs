namespace R1Orleans.Client.Http;

/// <summary>
/// Writes a streamed reply. On a terminal (<paramref name="ansi"/>) the reasoning goes to the same output, dimmed, and the answer
/// follows after a blank line; otherwise the answer alone goes to the output and the reasoning, plain, to
/// <paramref name="reasoningOutput"/> (stderr, so a script's stdout is just the answer), or nowhere when that is null.
/// </summary>
public sealed class ReplyRenderer(TextWriter output, TextWriter? reasoningOutput, bool ansi)
{
    public const string Dim = "\u001b[2m";
    public const string Reset = "\u001b[0m";

    private bool _inReasoning;
    private bool _sawReasoning;
    private char _lastReasoningChar = '\n';
    private char _lastContentChar = '\n';
    private bool _sawContent;

    /// <summary>Whether stdout is a terminal that accepts ANSI styles (and NO_COLOR is unset, TERM is not dumb).</summary>
    public static bool ConsoleSupportsAnsi() =>
        !Console.IsOutputRedirected
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
        && !string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal);

    public bool Ansi => ansi;

    public void Reasoning(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        TextWriter? w = ansi ? output : reasoningOutput;
        if (w is null)
        {
            return;
        }

        if (ansi && !_inReasoning)
        {
            w.Write(Dim);
            _inReasoning = true;
        }

        _sawReasoning = true;
        w.Write(text);
        _lastReasoningChar = text[^1];
    }

    public void Content(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        EndReasoning();
        if (!_sawContent && _sawReasoning && ansi)
        {
            output.Write('\n');
        }

        _sawContent = true;
        output.Write(text);
        _lastContentChar = text[^1];
    }

    /// <summary>Ends the reply: resets styles and ends the last line.</summary>
    public void End()
    {
        EndReasoning();
        if (_sawContent && _lastContentChar != '\n')
        {
            output.Write('\n');
        }

        output.Flush();
    }

    /// <summary>A side note (stats, notices): dimmed on a terminal.</summary>
    public void Note(string text) => output.WriteLine(ansi ? Dim + text + Reset : text);

    private void EndReasoning()
    {
        TextWriter? w = ansi ? output : reasoningOutput;
        if (!_sawReasoning || w is null)
        {
            return;
        }

        if (_inReasoning)
        {
            w.Write(Reset);
            _inReasoning = false;
        }

        if (_lastReasoningChar != '\n')
        {
            w.Write('\n');
            _lastReasoningChar = '\n';
        }

        w.Flush();
    }
}
