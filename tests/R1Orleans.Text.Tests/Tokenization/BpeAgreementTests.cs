using CsCheck;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Text.Tests.Tokenization;

/// <summary>
/// Long pieces go through <c>LongPieceBpe</c> (Microsoft.ML.Tokenizers' merge loop is quadratic in the piece length);
/// every other piece through ML's <c>BpeTokenizer</c>. Both must give the same ids for any piece.
/// </summary>
public class BpeAgreementTests
{
    public static TheoryData<string> Cases => [.. TokenizerGoldenCases.Names];

    private static readonly string[] s_fragments =
    [
        "a", "b", "e", "t", "th", "the", "ing", "hello", " ", "  ", "\n", "\t", "1", "23", "深", "度", "求索", "🚀", "🙂",
        "é", "\u0301", "ひ", "カ", "𠀀", "!", "?", ".", "'", "\"", "-", "Ā", "\u00A0", "\u200B", "ａ",
    ];

    private static void CheckAgreement(R1Tokenizer t, string text)
    {
        foreach (string piece in t.PreTokenize(text))
        {
            if (t.TokenId(piece) is { } id && t.IsAddedToken(id))
            {
                continue;
            }

            Assert.Equal(t.EncodePieceWith(piece, longPieceBpe: false), t.EncodePieceWith(piece, longPieceBpe: true));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BothBpeImplementationsAgreeOnGoldenTexts(string caseName)
    {
        R1Tokenizer t = TokenizerGoldenCases.Tokenizer(caseName);
        foreach (EncodeProbe probe in TokenizerGoldenCases.EncodeProbes(caseName))
        {
            CheckAgreement(t, probe.Text);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BothBpeImplementationsAgreeOnRandomPieces(string caseName)
    {
        R1Tokenizer t = TokenizerGoldenCases.Tokenizer(caseName);
        Gen<string> fromFragments = Gen.Int[0, s_fragments.Length - 1].Array[1, 60].Select(ix => string.Concat(ix.Select(i => s_fragments[i])));
        Gen<string> anyText = Gen.String[Gen.Char, 1, 80];
        Gen.OneOf(fromFragments, anyText).Sample(text => CheckAgreement(t, text), iter: 300);
    }
}
