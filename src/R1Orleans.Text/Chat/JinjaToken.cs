namespace R1Orleans.Text.Chat;

internal enum JinjaTokenKind
{
    /// <summary>Template text outside tags.</summary>
    Data,

    /// <summary><c>{{</c></summary>
    VariableBegin,

    /// <summary><c>}}</c></summary>
    VariableEnd,

    /// <summary><c>{%</c></summary>
    BlockBegin,

    /// <summary><c>%}</c></summary>
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    Eof,
}

/// <summary>One lexed token with its 1-based position; <see cref="Literal"/> holds the value of numbers.</summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Line, int Column, object? Literal = null)
{
    public bool Is(JinjaTokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsName(string value) => Kind == JinjaTokenKind.Name && Value == value;

    public bool IsOperator(string value) => Kind == JinjaTokenKind.Operator && Value == value;

    public string Describe() => Kind switch
    {
        JinjaTokenKind.Eof => "end of template",
        JinjaTokenKind.VariableEnd => "end of print statement",
        JinjaTokenKind.BlockEnd => "end of statement block",
        JinjaTokenKind.VariableBegin => "begin of print statement",
        JinjaTokenKind.BlockBegin => "begin of statement block",
        JinjaTokenKind.Data => "template data",
        JinjaTokenKind.String => "string",
        _ => $"'{Value}'",
    };
}
