using System.Diagnostics;
using System.Text.Json;
using R1Orleans.Text.Chat;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Conformance;

/// <summary>A tokenizer case's result: probes and chat renderings checked, and every mismatch described.</summary>
public sealed record GoldenTokenizerReport(string Case, int Probes, int Chats, IReadOnlyList<string> Mismatches, TimeSpan Elapsed)
{
    public bool Passed => Probes + Chats > 0 && Mismatches.Count == 0;
}

/// <summary>
/// Checks a tokenizer case directory (tokenizer.json, tokenizer_config.json, golden.json from Hugging Face
/// tokenizers/transformers): every encode probe's ids, ids with BOS, decoded text with and without special tokens,
/// and every chat entry's rendered text and token ids. Exact equality throughout.
/// </summary>
public static class GoldenTokenizerChecker
{
    public static bool IsTokenizerCase(string directory) =>
        File.Exists(Path.Combine(directory, "tokenizer.json")) && File.Exists(Path.Combine(directory, "golden.json"))
        && !File.Exists(Path.Combine(directory, "config.json"));

    public static GoldenTokenizerReport Check(string directory)
    {
        var clock = Stopwatch.StartNew();
        R1Tokenizer tokenizer = R1Tokenizer.Load(Path.Combine(directory, "tokenizer.json"));
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        using JsonDocument golden = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, "golden.json")));
        var mismatches = new List<string>();
        int probes = 0, chats = 0;
        if (golden.RootElement.TryGetProperty("encode", out JsonElement encode))
        {
            foreach (JsonElement p in encode.EnumerateArray())
            {
                string text = p.GetProperty("text").GetString()!;
                string label = $"probe {probes} ({Preview(text)})";
                Compare(mismatches, label, "ids", Ints(p.GetProperty("ids")), [.. tokenizer.Encode(text, addSpecialTokens: false)]);
                Compare(mismatches, label, "ids_with_bos", Ints(p.GetProperty("ids_with_bos")), [.. tokenizer.Encode(text, addSpecialTokens: true)]);
                int[] ids = Ints(p.GetProperty("ids"));
                Compare(mismatches, label, "decoded", p.GetProperty("decoded").GetString()!, tokenizer.Decode(ids, skipSpecialTokens: false));
                Compare(mismatches, label, "decoded_skip_special", p.GetProperty("decoded_skip_special").GetString()!, tokenizer.Decode(ids, skipSpecialTokens: true));
                probes++;
            }
        }

        if (golden.RootElement.TryGetProperty("chat", out JsonElement chat))
        {
            ChatTemplate template = ChatTemplate.FromTokenizerConfig(configPath);
            foreach (JsonElement c in chat.EnumerateArray())
            {
                string label = $"chat {chats}";
                JsonElement? tools = c.TryGetProperty("tools", out JsonElement t) && t.ValueKind == JsonValueKind.Array ? t : null;
                string rendered = template.Render(c.GetProperty("messages"), c.GetProperty("add_generation_prompt").GetBoolean(), tools);
                Compare(mismatches, label, "text", c.GetProperty("text").GetString()!, rendered);
                Compare(mismatches, label, "ids", Ints(c.GetProperty("ids")), [.. tokenizer.Encode(rendered, addSpecialTokens: false)]);
                chats++;
            }
        }

        return new GoldenTokenizerReport(Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)), probes, chats, mismatches, clock.Elapsed);
    }

    private static int[] Ints(JsonElement a) => a.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    private static void Compare(List<string> into, string label, string field, int[] expected, int[] actual)
    {
        if (!expected.SequenceEqual(actual))
        {
            into.Add($"{label} {field}: expected [{string.Join(",", expected.Take(12))}{(expected.Length > 12 ? ",…" : "")}] got [{string.Join(",", actual.Take(12))}{(actual.Length > 12 ? ",…" : "")}]");
        }
    }

    private static void Compare(List<string> into, string label, string field, string expected, string actual)
    {
        if (expected != actual)
        {
            into.Add($"{label} {field}: expected '{Preview(expected)}' got '{Preview(actual)}'");
        }
    }

    private static string Preview(string s) => s.Length <= 24 ? s.ReplaceLineEndings("⏎") : s[..24].ReplaceLineEndings("⏎") + "…";
}
