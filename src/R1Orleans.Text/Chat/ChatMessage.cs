namespace R1Orleans.Text.Chat;

/// <summary>
/// One message of a conversation as the chat template sees it (the OpenAI shape): <c>role</c> is system, user,
/// assistant or tool; <c>content</c> is null for an assistant turn that only calls tools. An assistant's earlier
/// <c>&lt;think&gt;</c> text may stay in <paramref name="Content"/>: R1's template strips it.
/// </summary>
public sealed record ChatMessage(
    string Role,
    string? Content,
    string? ReasoningContent = null,
    IReadOnlyList<ToolCall>? ToolCalls = null,
    string? ToolCallId = null)
{
    public static ChatMessage System(string content) => new("system", content);

    public static ChatMessage User(string content) => new("user", content);

    public static ChatMessage Assistant(string? content, IReadOnlyList<ToolCall>? toolCalls = null) => new("assistant", content, ToolCalls: toolCalls);

    public static ChatMessage Tool(string content, string? toolCallId = null) => new("tool", content, ToolCallId: toolCallId);
}
