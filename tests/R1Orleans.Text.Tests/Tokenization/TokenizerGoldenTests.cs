using R1Orleans.Text.Tokenization;

namespace R1Orleans.Text.Tests.Tokenization;

/// <summary>Every probe of the golden tokenizer cases (Hugging Face <c>tokenizers</c> 0.23.2 running each tokenizer.json).</summary>
public class TokenizerGoldenTests
{
    public static TheoryData<string, int> Probes => TokenizerGoldenCases.AllEncodeProbes();

    public static TheoryData<string> Cases => [.. TokenizerGoldenCases.Names];

    [Theory]
    [MemberData(nameof(Probes))]
    public void EncodeMatchesGolden(string caseName, int index)
    {
        EncodeProbe probe = TokenizerGoldenCases.EncodeProbes(caseName)[index];
        R1Tokenizer tokenizer = TokenizerGoldenCases.Tokenizer(caseName);

        Assert.Equal(probe.Ids, tokenizer.Encode(probe.Text, addSpecialTokens: false));
        Assert.Equal(probe.IdsWithBos, tokenizer.Encode(probe.Text, addSpecialTokens: true));
    }

    [Theory]
    [MemberData(nameof(Probes))]
    public void DecodeMatchesGolden(string caseName, int index)
    {
        EncodeProbe probe = TokenizerGoldenCases.EncodeProbes(caseName)[index];
        R1Tokenizer tokenizer = TokenizerGoldenCases.Tokenizer(caseName);

        Assert.Equal(probe.Decoded, tokenizer.Decode(probe.Ids, skipSpecialTokens: false));
        Assert.Equal(probe.DecodedSkipSpecial, tokenizer.Decode(probe.Ids, skipSpecialTokens: true));
        Assert.Equal(probe.DecodedSkipSpecial, tokenizer.Decode(probe.IdsWithBos, skipSpecialTokens: true));
    }

    [Theory]
    [MemberData(nameof(Probes))]
    public void PiecesMatchGolden(string caseName, int index)
    {
        EncodeProbe probe = TokenizerGoldenCases.EncodeProbes(caseName)[index];
        R1Tokenizer tokenizer = TokenizerGoldenCases.Tokenizer(caseName);
        Assert.NotNull(probe.Pieces);

        Assert.Equal(probe.Pieces, tokenizer.Tokenize(probe.Text));
        Assert.Equal(probe.Pieces, probe.Ids.Select(id => tokenizer.TokenText(id)));
        for (int i = 0; i < probe.Ids.Length; i++)
        {
            Assert.Equal(probe.Ids[i], tokenizer.TokenId(probe.Pieces![i]));
        }
    }

    /// <summary>The rendered chat prompts of the golden cases, encoded without added special tokens (as apply_chat_template does).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ChatRenderingsEncodeToGoldenIds(string caseName)
    {
        R1Tokenizer tokenizer = TokenizerGoldenCases.Tokenizer(caseName);
        ChatProbe[] chats = TokenizerGoldenCases.ChatProbes(caseName);
        Assert.NotEmpty(chats);
        foreach (ChatProbe chat in chats)
        {
            Assert.Equal(chat.Ids, tokenizer.Encode(chat.Text, addSpecialTokens: false));
            Assert.Equal(chat.Text, tokenizer.Decode(chat.Ids));
        }
    }

    [Fact]
    public void BpeCaseMetadata()
    {
        R1Tokenizer t = TokenizerGoldenCases.Tokenizer(TokenizerGoldenCases.Bpe);
        Assert.Equal(4013, t.VocabSize);
        Assert.Equal(0, t.BosId);
        Assert.Equal(1, t.EosId);
        Assert.True(t.AddsSpecialTokens);
        Assert.True(t.IsSpecial(0));
        Assert.True(t.IsSpecial(2));
        Assert.False(t.IsSpecial(67));
        int think = t.TokenId("<think>")!.Value;
        Assert.Equal(4002, think);
        Assert.True(t.IsAddedToken(think));
        Assert.False(t.IsSpecial(think));
        Assert.Null(t.TokenText(-1));
        Assert.Null(t.TokenText(t.VocabSize));
        Assert.Null(t.TokenId("no such token"));
    }

    [Fact]
    public void DeepSeekV3CaseMetadata()
    {
        R1Tokenizer t = TokenizerGoldenCases.Tokenizer(TokenizerGoldenCases.DeepSeekV3);
        Assert.Equal(128_815, t.VocabSize);
        Assert.Equal(0, t.BosId);
        Assert.Equal(1, t.EosId);
        Assert.False(t.AddsSpecialTokens); // its post_processor is ByteLevel: no BOS, whatever add_bos_token says
        Assert.Equal("<｜begin▁of▁sentence｜>", t.TokenText(0));
        Assert.Equal(128_803, t.TokenId("<｜User｜>"));
        Assert.False(t.IsSpecial(128_803));
        Assert.True(t.IsSpecial(128_000));

        // The model's padded ids (vocab_size 129,280) decode to nothing, as in tokenizers.
        Assert.Equal("ab", t.Decode([67, 129_000, 68, -5]));
    }

    /// <summary>
    /// Loading does only the work every request needs: the long-piece BPE (a merge table over all 127,741 merges) is
    /// built on the first piece longer than R1Tokenizer.LongPieceChars characters, not at load. How long a
    /// load takes is a benchmark, not a test (a loaded 2-core machine decides timings).
    /// </summary>
    [Fact]
    public void DeepSeekV3LoadDefersTheLongPieceBpeToFirstUse()
    {
        R1Tokenizer t = R1Tokenizer.Load(TokenizerGoldenCases.TokenizerPath(TokenizerGoldenCases.DeepSeekV3));
        Assert.Equal(128_815, t.VocabSize);
        Assert.False(t.LongPieceBpeBuilt);

        t.Encode("What is 47 + 385?", addSpecialTokens: false);
        Assert.False(t.LongPieceBpeBuilt);

        string longPiece = new('a', R1Tokenizer.LongPieceChars + 8);
        Assert.NotEmpty(t.Encode(longPiece, addSpecialTokens: false));
        Assert.True(t.LongPieceBpeBuilt);
    }
}
