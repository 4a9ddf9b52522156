namespace R1Orleans.Text.Chat;

/// <summary>
/// A render-time error without a position; the evaluator catches it at the innermost node and rethrows it as a
/// <see cref="TemplateException"/> carrying that node's line and column.
/// </summary>
internal sealed class JinjaError : Exception
{
    public JinjaError(string message, bool raisedByTemplate = false)
        : base(message)
    {
        RaisedByTemplate = raisedByTemplate;
    }

    public bool RaisedByTemplate { get; }
}
