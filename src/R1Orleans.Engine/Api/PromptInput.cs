using R1Orleans.Text.Chat;

namespace R1Orleans.Engine.Api;

/// <summary>What a request starts from: raw text (a completion), chat messages (rendered by the chat template), or token ids.</summary>
public sealed record PromptInput
{
    private PromptInput()
    {
    }

    public string? Text { get; private init; }

    public IReadOnlyList<ChatMessage>? Messages { get; private init; }

    public IReadOnlyList<ToolDefinition>? Tools { get; private init; }

    public int[]? Tokens { get; private init; }

    public static PromptInput FromText(string text) => new() { Text = text };

    public static PromptInput FromMessages(IReadOnlyList<ChatMessage> messages, IReadOnlyList<ToolDefinition>? tools = null) =>
        new() { Messages = messages, Tools = tools };

    public static PromptInput FromTokens(int[] tokens) => new() { Tokens = tokens };
}

/// <summary>
/// A prompt after encoding: its token ids, whether the rendered chat prompt opened a think block (so the output starts
/// as reasoning), and whether the output is split into reasoning and content (chat requests).
/// </summary>
public sealed record EncodedPrompt(int[] Tokens, bool OpensThink, bool SplitsReasoning);
