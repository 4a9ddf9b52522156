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

/// <summary>The tokenizer gate: at most its slots run at once, the rest wait.</summary>
public sealed class TokenizerGateTests
{
    [Fact]
    public async Task At_most_the_slots_run_at_once_and_the_rest_wait_their_turn()
    {
        using var gate = new TokenizerGate(Microsoft.Extensions.Options.Options.Create(new GatewayOptions { TokenizerConcurrency = 2 }));
        using var release = new ManualResetEventSlim();
        int running = 0;
        int most = 0;
        Task<int>[] jobs = [.. Enumerable.Range(0, 10).Select(i => gate.RunAsync(() =>
        {
            int now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            release.Wait(TimeSpan.FromSeconds(30));
            Interlocked.Decrement(ref running);
            return i;
        }, CancellationToken.None))];

        // Two run and block; eight wait for a slot.
        for (int i = 0; i < 3000 && !(Volatile.Read(ref running) == 2 && gate.Queued == 8); i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal((2, 8), (Volatile.Read(ref running), gate.Queued));
        release.Set();
        Assert.Equal(Enumerable.Range(0, 10), await Task.WhenAll(jobs).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, most);
        Assert.Equal(0, gate.Queued);
    }

    [Fact]
    public async Task A_waiter_whose_client_left_gives_up_its_turn()
    {
        using var gate = new TokenizerGate(Microsoft.Extensions.Options.Options.Create(new GatewayOptions { TokenizerConcurrency = 1 }));
        using var release = new ManualResetEventSlim();
        Task<int> busy = gate.RunAsync(() => release.Wait(TimeSpan.FromSeconds(30)) ? 1 : 0, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        bool ran = false;
        Task<int> waiting = gate.RunAsync(() => { ran = true; return 2; }, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        release.Set();
        Assert.Equal(1, await busy);
        Assert.False(ran);
        Assert.Equal(3, await gate.RunAsync(() => 3, CancellationToken.None));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
