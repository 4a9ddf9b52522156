using System.Runtime.CompilerServices;
using System.Text.Json;
using R1Orleans.Engine.Api;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Gateway;

/// <summary>
/// The fewest tokens a prompt can encode to, from its UTF-8 length alone, so that a prompt that cannot fit the context
/// is refused before it is tokenized (tokenizing a 1 MiB prompt costs about a second of CPU).
/// <para>
/// Why it is safe. <see cref="R1Tokenizer"/> splits the text at added tokens (matched literally: one token for exactly
/// its content's bytes), pre-tokenizes the rest into pieces that cover it, and runs byte-level BPE on each piece, whose
/// tokens are vocabulary entries whose bytes concatenate to the piece's UTF-8 bytes; the post-processor only adds tokens
/// (BOS). So the tokens partition the input's bytes, provided nothing is dropped: no normalizer, no added token with
/// lstrip/rstrip/single_word, no Split pre-tokenizer with behavior "Removed", and every one of the 256 bytes is a
/// vocabulary token of its own (else an unknown byte could vanish or a run of them fuse into one unknown token). Then a
/// text of B bytes needs at least ⌈B / L⌉ tokens, L being the longest token in bytes (added tokens' UTF-8 content
/// included); L is 128 for DeepSeek-V3's tokenizer (a run of 128 spaces or dots is one token). Where any proviso fails
/// (checked from the tokenizer and its tokenizer.json once per engine), there is no bound and every prompt is tokenized.
/// A lone surrogate is encoded as U+FFFD, 3 bytes, as <see cref="System.Text.Encoding.UTF8"/> counts it.
/// </para>
/// </summary>
internal sealed class PromptLengthBound
{
    private static readonly ConditionalWeakTable<InferenceEngine, PromptLengthBound> s_byEngine = [];

    private PromptLengthBound(int? maxBytesPerToken, string? unboundedBecause)
    {
        MaxBytesPerToken = maxBytesPerToken;
        UnboundedBecause = unboundedBecause;
    }

    /// <summary>The most input bytes one token can stand for; null: no safe bound for this tokenizer.</summary>
    public int? MaxBytesPerToken { get; }

    /// <summary>Why there is no bound (null when there is one).</summary>
    public string? UnboundedBecause { get; }

    /// <summary>The bound of an engine's tokenizer, computed on first use and kept as long as the engine lives.</summary>
    public static PromptLengthBound Of(InferenceEngine engine) =>
        s_byEngine.GetValue(engine, e => For(e.Tokenizer, Path.Combine(e.Directory, "tokenizer.json")));

    public static PromptLengthBound For(R1Tokenizer tokenizer, string tokenizerJsonPath)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        string? pipeline = PipelineProblem(tokenizerJsonPath);
        if (pipeline is not null)
        {
            return new PromptLengthBound(null, pipeline);
        }

        int longest = 0;
        var singleBytes = new bool[256];
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            if (tokenizer.IsAddedToken(id))
            {
                longest = Math.Max(longest, System.Text.Encoding.UTF8.GetByteCount(tokenizer.TokenText(id) ?? ""));
            }
            else if (tokenizer.TokenBytes(id) is ReadOnlyMemory<byte> bytes)
            {
                longest = Math.Max(longest, bytes.Length);
                if (bytes.Length == 1)
                {
                    singleBytes[bytes.Span[0]] = true;
                }
            }
        }

        int missing = Array.IndexOf(singleBytes, false);
        if (missing >= 0)
        {
            return new PromptLengthBound(null, $"byte 0x{missing:X2} is not a vocabulary token of its own");
        }

        return longest > 0 ? new PromptLengthBound(longest, null) : new PromptLengthBound(null, "the vocabulary is empty");
    }

    /// <summary>⌈bytes / MaxBytesPerToken⌉: no text of that many UTF-8 bytes encodes to fewer tokens (0 without a bound).</summary>
    public long MinTokens(long utf8Bytes) => MaxBytesPerToken is int l ? (utf8Bytes + l - 1) / l : 0;

    /// <summary>What in tokenizer.json could drop input bytes or fold several into one token, or null when nothing can.</summary>
    private static string? PipelineProblem(string path)
    {
        if (!File.Exists(path))
        {
            return $"{path} is missing";
        }

        using FileStream stream = File.OpenRead(path);
        using JsonDocument doc = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
        JsonElement root = doc.RootElement;
        if (root.TryGetProperty("normalizer", out JsonElement normalizer) && normalizer.ValueKind != JsonValueKind.Null
            && !(normalizer.TryGetProperty("normalizers", out JsonElement list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() == 0))
        {
            return "the tokenizer has a normalizer";
        }

        if (root.TryGetProperty("added_tokens", out JsonElement added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement a in added.EnumerateArray())
            {
                foreach (string flag in (ReadOnlySpan<string>)["lstrip", "rstrip", "single_word"])
                {
                    if (a.ValueKind == JsonValueKind.Object && a.TryGetProperty(flag, out JsonElement f) && f.ValueKind == JsonValueKind.True)
                    {
                        return $"an added token sets {flag}";
                    }
                }
            }
        }

        return root.TryGetProperty("pre_tokenizer", out JsonElement pre) && RemovesText(pre) ? "a Split pre-tokenizer removes text" : null;
    }

    private static bool RemovesText(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().Any(p =>
            (p.Name == "behavior" && p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == "Removed") || RemovesText(p.Value)),
        JsonValueKind.Array => e.EnumerateArray().Any(RemovesText),
        _ => false,
    };
}
