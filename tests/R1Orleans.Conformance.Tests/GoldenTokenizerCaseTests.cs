using R1Orleans.Conformance;
using R1Orleans.TestSupport;

namespace R1Orleans.Conformance.Tests;

/// <summary>The tokenizer cases through GoldenTokenizerChecker, the code the `golden` command runs.</summary>
public sealed class GoldenTokenizerCaseTests
{
    [Theory]
    [InlineData("tokenizer-bpe", 54, 4)]
    [InlineData("tokenizer-deepseek-v3", 66, 10)]
    public void Tokenizer_case_matches_hugging_face_exactly(string name, int probes, int chats)
    {
        string dir = GoldenDirectory.Case(name);
        Assert.True(GoldenTokenizerChecker.IsTokenizerCase(dir));
        GoldenTokenizerReport report = GoldenTokenizerChecker.Check(dir);
        Assert.True(report.Passed, string.Join("\n", report.Mismatches));
        Assert.Equal(probes, report.Probes);
        Assert.Equal(chats, report.Chats);
    }
}
