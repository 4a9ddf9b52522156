using System.Text.Json;
using R1Orleans.TestSupport;
using R1Orleans.Text.Chat;

namespace R1Orleans.Text.Tests.Chat;

/// <summary>The <c>chat</c> entries of a golden tokenizer case: messages, add_generation_prompt and the expected text.</summary>
internal static class GoldenChat
{
    public static readonly string[] Cases = ["tokenizer-bpe", "tokenizer-deepseek-v3"];

    public static string ConfigPath(string caseName) => Path.Combine(GoldenDirectory.Case(caseName), "tokenizer_config.json");

    /// <summary>The chat entries of a case, each cloned out of its document.</summary>
    public static IReadOnlyList<JsonElement> Entries(string caseName)
    {
        string path = Path.Combine(GoldenDirectory.Case(caseName), "golden.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("chat").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    /// <summary>Converts golden JSON messages into the C# records (the path an HTTP request takes).</summary>
    public static List<ChatMessage> ToRecords(JsonElement messages) =>
        messages.EnumerateArray().Select(m => new ChatMessage(
            m.GetProperty("role").GetString()!,
            m.TryGetProperty("content", out JsonElement c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null,
            m.TryGetProperty("reasoning_content", out JsonElement r) ? r.GetString() : null,
            m.TryGetProperty("tool_calls", out JsonElement calls)
                ? calls.EnumerateArray().Select(t => new ToolCall(
                    t.TryGetProperty("id", out JsonElement id) ? id.GetString() : null,
                    t.GetProperty("type").GetString()!,
                    t.GetProperty("function").GetProperty("name").GetString()!,
                    t.GetProperty("function").GetProperty("arguments").GetString()!)).ToList()
                : null,
            m.TryGetProperty("tool_call_id", out JsonElement tid) ? tid.GetString() : null)).ToList();
}
