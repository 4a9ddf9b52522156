namespace R1Orleans.Text.Chat;

/// <summary>A tool call made by the assistant; <paramref name="Arguments"/> is the JSON text of the arguments.</summary>
public sealed record ToolCall(string? Id, string Type, string FunctionName, string Arguments)
{
    public static ToolCall Function(string name, string arguments, string? id = null) => new(id, "function", name, arguments);
}
