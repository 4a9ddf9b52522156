using R1Orleans.Backend;
using R1Orleans.Conformance;

namespace R1Orleans.Conformance.Tests;

/// <summary>
/// The golden cases kept in the repository: the trained built-in model (models/r1orleans-tiny, the checkpoint the silo
/// serves by default, with golden.json/golden.safetensors beside it) checked against transformers in float64, and its
/// tokenizer (tests/golden-builtin/r1orleans-tiny-tokenizer) against Hugging Face tokenizers.
/// </summary>
public sealed class RepositoryGoldenCaseTests
{
    [Fact]
    public void Trained_builtin_model_matches_transformers_including_mtp()
    {
        GoldenReport report = GoldenChecker.Check(Path.Combine(RepositoryRoot, "models", "r1orleans-tiny"), new CpuBackend());
        Assert.True(report.Passed, string.Join("\n", report.Prompts.Select(p => p.ToString())));
        Assert.All(report.Prompts, p => Assert.NotNull(p.MtpRelError));
    }

    [Fact]
    public void Trained_builtin_model_passes_with_mtp_speculative_decoding_and_accepts_drafts()
    {
        GoldenReport report = GoldenChecker.Check(Path.Combine(RepositoryRoot, "models", "r1orleans-tiny"), new CpuBackend(), speculativeMtp: true);
        Assert.True(report.Passed);
        Assert.True(report.MtpAcceptanceRate > 0.5, $"a trained MTP head should agree with the model most of the time, got {report.MtpAcceptanceRate:P1}");
    }

    [Fact]
    public void Trained_builtin_tokenizer_matches_hugging_face()
    {
        GoldenTokenizerReport report = GoldenTokenizerChecker.Check(Path.Combine(RepositoryRoot, "tests", "golden-builtin", "r1orleans-tiny-tokenizer"));
        Assert.True(report.Passed, string.Join("\n", report.Mismatches));
    }

    private static string RepositoryRoot
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "R1Orleans.sln")) && Directory.Exists(Path.Combine(d.FullName, "models", "r1orleans-tiny")))
                {
                    return d.FullName;
                }
            }

            throw new DirectoryNotFoundException($"the repository root (R1Orleans.sln, models/r1orleans-tiny) not found above {AppContext.BaseDirectory}");
        }
    }
}
