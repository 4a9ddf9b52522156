using System.Text;
using CsCheck;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Text.Tests.Tokenization;

/// <summary>Streaming detokenization: the pieces add up to <see cref="R1Tokenizer.Decode"/> and never split a character.</summary>
public class IncrementalDetokenizerTests
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static TheoryData<string> Cases => [.. TokenizerGoldenCases.Names];

    /// <summary>Ids grouped by what their bytes are, to steer random sequences towards split characters.</summary>
    private sealed record IdPools(int[] Partial, int[] Multibyte, int[] Added, int VocabSize);

    private static readonly Dictionary<string, Lazy<IdPools>> s_pools = TokenizerGoldenCases.Names.ToDictionary(
        n => n, n => new Lazy<IdPools>(() => BuildPools(TokenizerGoldenCases.Tokenizer(n))));

    private static IdPools BuildPools(R1Tokenizer t)
    {
        var partial = new List<int>();
        var multibyte = new List<int>();
        var added = new List<int>();
        for (int id = 0; id < t.VocabSize; id++)
        {
            if (t.IsAddedToken(id))
            {
                added.Add(id);
                continue;
            }

            if (t.TokenBytes(id) is not { } bytes || bytes.Span.IndexOfAnyInRange((byte)0x80, (byte)0xFF) < 0)
            {
                continue;
            }

            if (IsValidUtf8(bytes.Span))
            {
                multibyte.Add(id);
            }
            else
            {
                partial.Add(id); // a fragment of a character (e.g. the first bytes of an emoji or a CJK ideograph)
            }
        }

        return new IdPools([.. partial], [.. multibyte], [.. added], t.VocabSize);
    }

    private static bool IsValidUtf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            s_strictUtf8.GetCharCount(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static Gen<int> Pick(int[] pool) => Gen.Int[0, pool.Length - 1].Select(i => pool[i]);

    private static Gen<int[]> IdSequences(IdPools pools) =>
        Gen.Frequency(
            (5, (IGen<int>)Pick(pools.Partial)),
            (2, (IGen<int>)Pick(pools.Multibyte)),
            (1, (IGen<int>)Pick(pools.Added)),
            (2, (IGen<int>)Gen.Int[-2, pools.VocabSize + 50]))
        .Array[0, 40];

    /// <summary>Pushes every id, checking after each that the text so far is a prefix of the full decode.</summary>
    private static void CheckStreaming(R1Tokenizer t, int[] ids, bool skipSpecial)
    {
        string expected = t.Decode(ids, skipSpecial);
        IncrementalDetokenizer detokenizer = t.CreateDetokenizer(skipSpecial);
        var streamed = new StringBuilder();
        foreach (int id in ids)
        {
            string piece = detokenizer.Push(id);
            Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), "a piece ends inside a surrogate pair");
            streamed.Append(piece);
            Assert.StartsWith(streamed.ToString(), expected, StringComparison.Ordinal);
        }

        streamed.Append(detokenizer.Flush());
        Assert.Equal(expected, streamed.ToString());
        Assert.False(detokenizer.HasPendingBytes);
        Assert.Equal(string.Empty, detokenizer.Flush());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PiecesConcatenateToDecodeForRandomIds(string caseName)
    {
        R1Tokenizer t = TokenizerGoldenCases.Tokenizer(caseName);
        IdPools pools = s_pools[caseName].Value;
        Assert.NotEmpty(pools.Partial);
        Assert.NotEmpty(pools.Multibyte);
        Assert.NotEmpty(pools.Added);

        Gen.Select(IdSequences(pools), Gen.Bool).Sample((ids, skipSpecial) => CheckStreaming(t, ids, skipSpecial), iter: 400);
    }

    private static readonly string[] s_fragments =
    [
        "深", "度求索", "🚀", "🙂", "👨‍👩‍👧‍👦", "é", "é", "a", " ", "  ", "\n", "中文", "😀😃", "ひらがな", "タワー", "𠀀", "𝐀",
        "123", "ＡＢＣ", "—", "…", "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<think>", "\u00A0", "\u200B",
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncodedTextStreamsBackWithoutReplacementCharacters(string caseName)
    {
        R1Tokenizer t = TokenizerGoldenCases.Tokenizer(caseName);
        Gen<string> texts = Gen.Int[0, s_fragments.Length - 1].Array[0, 30].Select(ix => string.Concat(ix.Select(i => s_fragments[i])));
        texts.Sample(text =>
        {
            IReadOnlyList<int> ids = t.Encode(text, addSpecialTokens: false);
            IncrementalDetokenizer detokenizer = t.CreateDetokenizer(skipSpecialTokens: false);
            var streamed = new StringBuilder();
            foreach (int id in ids)
            {
                string piece = detokenizer.Push(id);
                Assert.DoesNotContain('\uFFFD', piece);
                streamed.Append(piece);
            }

            Assert.False(detokenizer.HasPendingBytes);
            Assert.Equal(text, streamed.ToString());
        }, iter: 300);
    }

    [Fact]
    public void SplitEmojiIsHeldBackUntilComplete()
    {
        R1Tokenizer t = TokenizerGoldenCases.Tokenizer(TokenizerGoldenCases.DeepSeekV3);
        IReadOnlyList<int> ids = t.Encode("a🚀b", addSpecialTokens: false);
        IncrementalDetokenizer d = t.CreateDetokenizer(skipSpecialTokens: true);
        var pieces = ids.Select(d.Push).ToList();
        pieces.Add(d.Flush());
        Assert.Equal("a🚀b", string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD', StringComparison.Ordinal));
        Assert.Contains(string.Empty, pieces); // the emoji's first token completed nothing
        Assert.Contains("🚀", pieces.Select(p => p.Replace("a", string.Empty, StringComparison.Ordinal).Replace("b", string.Empty, StringComparison.Ordinal)));
    }

    [Fact]
    public void IncompleteCharacterAtTheEndBecomesReplacementCharacterOnFlush()
    {
        R1Tokenizer t = TokenizerGoldenCases.Tokenizer(TokenizerGoldenCases.DeepSeekV3);
        IReadOnlyList<int> rocket = t.Encode("🚀", addSpecialTokens: false);
        IncrementalDetokenizer d = t.CreateDetokenizer(skipSpecialTokens: false);
        Assert.Equal(string.Empty, d.Push(rocket[0]));
        Assert.True(d.HasPendingBytes);
        Assert.Equal("\uFFFD", d.Flush());
        Assert.Equal("\uFFFD", t.Decode([rocket[0]]));
    }

    [Fact]
    public void SkippedSpecialTokensProduceNothing()
    {
        R1Tokenizer t = TokenizerGoldenCases.Tokenizer(TokenizerGoldenCases.Bpe);
        IncrementalDetokenizer skip = t.CreateDetokenizer(skipSpecialTokens: true);
        IncrementalDetokenizer keep = t.CreateDetokenizer(skipSpecialTokens: false);
        Assert.Equal(string.Empty, skip.Push(1));
        Assert.Equal("<｜end▁of▁sentence｜>", keep.Push(1));
        Assert.Equal("<think>", skip.Push(4002)); // added but not special: kept
        Assert.Equal("ab", skip.Push([67, 2, 68]));
    }
}
