namespace R1Orleans.Text.Chat;

/// <summary>
/// A chat template failed to parse or to render: a syntax error, an unknown filter, a type error, a limit exceeded,
/// or the template's own <c>raise_exception(...)</c>. <see cref="Line"/> and <see cref="Column"/> are 1-based positions
/// in the template source (after newline normalization); 0 when no position applies.
/// </summary>
public sealed class TemplateException : Exception
{
    public TemplateException(string message)
        : base(message)
    {
        Reason = message;
    }

    public TemplateException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = message;
    }

    public TemplateException(string reason, int line, int column, bool raisedByTemplate = false)
        : base(line > 0 ? $"{reason} (line {line}, column {column})" : reason)
    {
        Reason = reason;
        Line = line;
        Column = column;
        RaisedByTemplate = raisedByTemplate;
    }

    public TemplateException()
        : this("template error")
    {
    }

    /// <summary>The error without its position.</summary>
    public string Reason { get; }

    /// <summary>1-based line of the template where the error was found; 0 if unknown.</summary>
    public int Line { get; }

    /// <summary>1-based column (UTF-16 code units) of the template where the error was found; 0 if unknown.</summary>
    public int Column { get; }

    /// <summary>True when the template itself called <c>raise_exception(message)</c>; <see cref="Reason"/> is its message.</summary>
    public bool RaisedByTemplate { get; }
}
