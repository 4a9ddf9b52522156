using R1Orleans.Backend;
using R1Orleans.Conformance;

namespace R1Orleans.Conformance.Tests;

/// <summary>
/// The golden cases kept in the repository (tests/golden-builtin): the trained built-in model checked against
/// transformers in float64, and its tokenizer against Hugging Face tokenizers.
/// </summary>
public sealed class RepositoryGoldenCaseTests
{
    [Fact]
    public void Trained_builtin_model_matches_transformers_including_mtp()
    {
        GoldenReport report = GoldenChecker.Check(Path.Combine(Root, "r1orleans-tiny"), new CpuBackend());
        Assert.True(report.Passed, string.Join("\n", report.Prompts.Select(p => p.ToString())));
        Assert.All(report.Prompts, p => Assert.NotNull(p.MtpRelError));
    }

    [Fact]
    public void Trained_builtin_model_passes_with_mtp_speculative_decoding_and_accepts_drafts()
    {
        GoldenReport report = GoldenChecker.Check(Path.Combine(Root, "r1orleans-tiny"), new CpuBackend(), speculativeMtp: true);
        Assert.True(report.Passed);
        Assert.True(report.MtpAcceptanceRate > 0.5, $"a trained MTP head should agree with the model most of the time, got {report.MtpAcceptanceRate:P1}");
    }

    [Fact]
    public void Trained_builtin_tokenizer_matches_hugging_face()
    {
        GoldenTokenizerReport report = GoldenTokenizerChecker.Check(Path.Combine(Root, "r1orleans-tiny-tokenizer"));
        Assert.True(report.Passed, string.Join("\n", report.Mismatches));
    }

    private static string Root
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, "tests", "golden-builtin");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }

            throw new DirectoryNotFoundException($"tests/golden-builtin not found above {AppContext.BaseDirectory}");
        }
    }
}
