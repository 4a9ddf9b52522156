using System.Text.Json;
using R1Orleans.TestSupport;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Text.Tests.Tokenization;

/// <summary>One "encode" probe of a golden tokenizer case.</summary>
public sealed record EncodeProbe(string Text, int[] Ids, int[] IdsWithBos, string Decoded, string DecodedSkipSpecial, string[]? Pieces);

/// <summary>One chat rendering of a golden tokenizer case (only its text and ids matter here).</summary>
public sealed record ChatProbe(string Text, int[] Ids);

/// <summary>The golden tokenizer cases, each loaded once per test run.</summary>
internal static class TokenizerGoldenCases
{
    public const string Bpe = "tokenizer-bpe";
    public const string DeepSeekV3 = "tokenizer-deepseek-v3";

    public static readonly string[] Names = [Bpe, DeepSeekV3];

    private static readonly Dictionary<string, Lazy<R1Tokenizer>> s_tokenizers = Names.ToDictionary(
        n => n, n => new Lazy<R1Tokenizer>(() => R1Tokenizer.Load(TokenizerPath(n))));

    private static readonly Dictionary<string, Lazy<(EncodeProbe[] Encode, ChatProbe[] Chat)>> s_golden = Names.ToDictionary(
        n => n, n => new Lazy<(EncodeProbe[], ChatProbe[])>(() => ReadGolden(n)));

    public static string TokenizerPath(string caseName) => Path.Combine(GoldenDirectory.Case(caseName), "tokenizer.json");

    public static R1Tokenizer Tokenizer(string caseName) => s_tokenizers[caseName].Value;

    public static EncodeProbe[] EncodeProbes(string caseName) => s_golden[caseName].Value.Encode;

    public static ChatProbe[] ChatProbes(string caseName) => s_golden[caseName].Value.Chat;

    /// <summary>(case, probe index) for every encode probe of every case.</summary>
    public static TheoryData<string, int> AllEncodeProbes()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in Names)
        {
            for (int i = 0; i < EncodeProbes(name).Length; i++)
            {
                data.Add(name, i);
            }
        }

        return data;
    }

    private static (EncodeProbe[], ChatProbe[]) ReadGolden(string caseName)
    {
        string path = Path.Combine(GoldenDirectory.Case(caseName), "golden.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var encode = new List<EncodeProbe>();
        foreach (JsonElement p in doc.RootElement.GetProperty("encode").EnumerateArray())
        {
            encode.Add(new EncodeProbe(
                p.GetProperty("text").GetString()!,
                Ints(p.GetProperty("ids")),
                Ints(p.GetProperty("ids_with_bos")),
                p.GetProperty("decoded").GetString()!,
                p.GetProperty("decoded_skip_special").GetString()!,
                p.TryGetProperty("pieces", out JsonElement pieces) ? [.. pieces.EnumerateArray().Select(x => x.GetString()!)] : null));
        }

        var chat = new List<ChatProbe>();
        if (doc.RootElement.TryGetProperty("chat", out JsonElement chatJson))
        {
            foreach (JsonElement c in chatJson.EnumerateArray())
            {
                if (c.TryGetProperty("text", out JsonElement text) && c.TryGetProperty("ids", out JsonElement ids))
                {
                    chat.Add(new ChatProbe(text.GetString()!, Ints(ids)));
                }
            }
        }

        return ([.. encode], [.. chat]);
    }

    private static int[] Ints(JsonElement array) => [.. array.EnumerateArray().Select(x => x.GetInt32())];
}
