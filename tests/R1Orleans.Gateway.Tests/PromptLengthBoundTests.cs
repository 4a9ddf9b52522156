using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Orleans.TestSupport;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Gateway.Tests;

/// <summary>The bytes-per-token ceiling: what it is for the golden tokenizers, that no text beats it, and when there is none.</summary>
public sealed class PromptLengthBoundTests
{
    [Theory]
    [InlineData("tokenizer-bpe")]
    [InlineData("tokenizer-deepseek-v3")]
    public void The_ceiling_is_the_longest_token_in_bytes(string name)
    {
        string path = Path.Combine(GoldenDirectory.Case(name), "tokenizer.json");
        PromptLengthBound bound = PromptLengthBound.For(R1Tokenizer.Load(path), path);

        // Independently, from the file: a byte-level vocabulary entry is one character per byte; an added token is its UTF-8 content.
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
        int vocab = doc.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject().Max(p => p.Name.Length);
        int added = doc.RootElement.GetProperty("added_tokens").EnumerateArray().Max(a => Encoding.UTF8.GetByteCount(a.GetProperty("content").GetString()!));
        Assert.Equal(Math.Max(vocab, added), bound.MaxBytesPerToken);
        Assert.Null(bound.UnboundedBecause);
    }

    [Theory]
    [InlineData("tokenizer-bpe")]
    [InlineData("tokenizer-deepseek-v3")]
    public void No_text_encodes_to_fewer_tokens_than_the_bound(string name)
    {
        string dir = GoldenDirectory.Case(name);
        string path = Path.Combine(dir, "tokenizer.json");
        R1Tokenizer tokenizer = R1Tokenizer.Load(path);
        PromptLengthBound bound = PromptLengthBound.For(tokenizer, path);

        // Hugging Face's own encodings of the golden probes, then adversarial texts through ours: runs of the characters
        // of the longest tokens, special tokens back to back, emoji, CJK, digits, invalid surrogates.
        using JsonDocument golden = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "golden.json")));
        foreach (JsonElement probe in golden.RootElement.GetProperty("encode").EnumerateArray())
        {
            string text = probe.GetProperty("text").GetString()!;
            Assert.True(probe.GetProperty("ids").GetArrayLength() >= bound.MinTokens(Encoding.UTF8.GetByteCount(text)), text);
        }

        string[] texts =
        [
            new string(' ', 5000), new string('.', 4097), new string('-', 1000), new string('\n', 300), string.Concat(Enumerable.Repeat("<｜User｜><｜Assistant｜>", 200)),
            string.Concat(Enumerable.Repeat("<｜tool▁calls▁begin｜>", 100)), string.Concat(Enumerable.Repeat("🚨", 900)), string.Concat(Enumerable.Repeat("中文字符", 500)),
            new string('7', 999), "a\ud800b" + new string(' ', 300), string.Concat(Enumerable.Repeat("    return x;\n", 300)),
        ];
        foreach (string text in texts)
        {
            Assert.True(tokenizer.Encode(text).Count >= bound.MinTokens(Encoding.UTF8.GetByteCount(text)), text[..Math.Min(40, text.Length)]);
        }
    }

    [Theory]
    [InlineData("removed-split")]
    [InlineData("missing-byte")]
    [InlineData("rstrip")]
    public void Pipelines_that_can_drop_or_fold_bytes_have_no_bound(string change)
    {
        string source = Path.Combine(GoldenDirectory.Case("tokenizer-bpe"), "tokenizer.json");
        JsonObject json = JsonNode.Parse(File.ReadAllText(source))!.AsObject();
        switch (change)
        {
            case "removed-split":
                json["pre_tokenizer"]!["pretokenizers"]![0]!["behavior"] = "Removed";
                break;
            case "missing-byte":
                // Byte 0x00 is 'Ā' in the byte-level alphabet; drop it (and any merge that uses it).
                json["model"]!["vocab"]!.AsObject().Remove("Ā");
                JsonArray merges = json["model"]!["merges"]!.AsArray();
                foreach (JsonNode? m in merges.Where(m => m!.ToJsonString().Contains('Ā', StringComparison.Ordinal)).ToList())
                {
                    merges.Remove(m);
                }

                break;
            default:
                json["added_tokens"]![0]!["rstrip"] = true;
                break;
        }

        string path = Path.Combine(Directory.CreateTempSubdirectory("r1-bound-").FullName, "tokenizer.json");
        try
        {
            File.WriteAllText(path, json.ToJsonString());
            R1Tokenizer tokenizer = change == "rstrip" ? R1Tokenizer.Load(source) : R1Tokenizer.Load(path);
            PromptLengthBound bound = PromptLengthBound.For(tokenizer, path);
            Assert.Null(bound.MaxBytesPerToken);
            Assert.False(string.IsNullOrEmpty(bound.UnboundedBecause));
            Assert.Equal(0, bound.MinTokens(1_000_000));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, true);
        }
    }
}
