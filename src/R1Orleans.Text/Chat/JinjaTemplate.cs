namespace R1Orleans.Text.Chat;

/// <summary>
/// A parsed Jinja template (the subset that Hugging Face chat templates use), rendered by a tree-walking interpreter
/// with Python semantics. Parse once, render many times; a parsed template is immutable and thread-safe.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly List<JinjaStmt> _body;

    private JinjaTemplate(string source, JinjaOptions options, List<JinjaStmt> body)
    {
        Source = source;
        Options = options;
        _body = body;
    }

    public string Source { get; }

    public JinjaOptions Options { get; }

    /// <summary>Parses <paramref name="source"/>; syntax errors, unknown tags, filters and tests throw <see cref="TemplateException"/>.</summary>
    public static JinjaTemplate Parse(string source, JinjaOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        options ??= JinjaOptions.Default;
        string normalized = JinjaLexer.Normalize(source, options.KeepTrailingNewline);
        List<JinjaToken> tokens = JinjaLexer.Tokenize(normalized, options);
        return new JinjaTemplate(source, options, JinjaParser.Parse(tokens, options));
    }

    /// <summary>
    /// Renders with the given variables. Values may be null, bool, integers, floating-point numbers, strings,
    /// <see cref="System.Text.Json.JsonElement"/>, dictionaries with string keys, enumerables, and the chat records
    /// (<see cref="ChatMessage"/>, <see cref="ToolCall"/>, <see cref="ToolDefinition"/>); see <see cref="TemplateValues"/>.
    /// </summary>
    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var scope = new JinjaScope(JinjaGlobals.CreateScope(Options));
        foreach (KeyValuePair<string, object?> kv in variables)
        {
            scope.Set(kv.Key, TemplateValues.FromObject(kv.Value));
        }

        return JinjaEvaluator.Render(_body, scope, Options);
    }
}
