using R1Orleans.Backend;
using R1Orleans.Conformance;
using R1Orleans.TestSupport;
using Xunit.Abstractions;

namespace R1Orleans.Conformance.Tests;

/// <summary>
/// Every golden model case passes through GoldenChecker, the same code the `golden` command runs: full-prefill logits,
/// routing and combine weights, greedy decode through the paged cache, MTP logits.
/// </summary>
public sealed class GoldenCaseTests(ITestOutputHelper output)
{
    private static readonly CpuBackend s_backend = new();

    [Theory]
    [InlineData("tiny-bf16-yarn")]
    [InlineData("small-fp8-sharded-mtp")]
    [InlineData("tiny-noqlora-ungrouped")]
    public void Known_case_matches_transformers(string name) => AssertPasses(GoldenDirectory.Case(name));

    [Fact]
    public void Every_model_case_in_the_golden_directory_matches_transformers()
    {
        IReadOnlyList<string> names = GoldenDirectory.ModelCaseNames;
        Assert.True(names.Count >= 3, $"expected at least the three model cases in {GoldenDirectory.Root}, found {names.Count}");
        foreach (string name in names.Except(["tiny-bf16-yarn", "small-fp8-sharded-mtp", "tiny-noqlora-ungrouped"]))
        {
            AssertPasses(GoldenDirectory.Case(name));
        }
    }

    [Fact]
    public void Mtp_case_checks_mtp_logits()
    {
        GoldenReport report = GoldenChecker.Check(GoldenDirectory.Case("small-fp8-sharded-mtp"), s_backend);
        Assert.All(report.Prompts, p => Assert.NotNull(p.MtpRelError));
    }

    [Fact]
    public void Checker_fails_when_the_reference_disagrees()
    {
        // Copy a case and corrupt one greedy token and one logit: the checker must notice both.
        string dir = Directory.CreateTempSubdirectory("r1-golden-").FullName;
        try
        {
            string source = GoldenDirectory.Case("tiny-noqlora-ungrouped");
            foreach (string f in Directory.GetFiles(source))
            {
                File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            }

            GoldenFileMutator.AddToFirstElement(Path.Combine(dir, GoldenCase.FileName), "greedy_0", 1);
            GoldenFileMutator.AddToFirstElement(Path.Combine(dir, GoldenCase.FileName), "logits_1", 1.0f);
            GoldenReport report = GoldenChecker.Check(dir, s_backend);
            Assert.False(report.Passed);
            Assert.Equal(1, report.Prompts[0].GreedyMismatches);
            Assert.True(report.Prompts[1].LogitRelError > GoldenTolerance.Logits);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private void AssertPasses(string dir)
    {
        GoldenReport report = GoldenChecker.Check(dir, s_backend);
        foreach (GoldenPromptResult p in report.Prompts)
        {
            output.WriteLine($"{report.Case} prompt {p.Prompt}: logits {p.LogitRelError:e2}, routing {p.RoutingMismatches}/{p.RoutedDecisions}, weights {p.RoutingWeightError:e2}, greedy {p.GreedyMismatches}/{p.GreedyTokens}, mtp {p.MtpRelError:e2}");
        }

        Assert.True(report.Passed, $"{report.Case} failed its golden check (see output)");
    }
}
