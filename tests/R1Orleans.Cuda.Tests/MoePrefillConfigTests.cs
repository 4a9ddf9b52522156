using System.Text.RegularExpressions;

namespace R1Orleans.Cuda.Tests;

public class MoePrefillConfigTests
{
    [Fact]
    public void EveryVariant_CoversOneScaleBlockOfRows_AndStagesItsTokensWithWholeThreads()
    {
        foreach (MoePrefillConfig c in MoePrefillConfig.Variants)
        {
            // The kernel's static_asserts: 128 rows per CTA, threads per token dividing a token's 16 units per chunk.
            Assert.Equal(MoePrefillConfig.RowsPerCta, c.RowTiles * 16 * c.WarpsM);
            Assert.Equal(0, c.Threads % c.TokensPerCta);
            Assert.Equal(0, 16 % (c.Threads / c.TokensPerCta));
            // gate/up: half of a warp's row tiles are gate, half up, for 64 features per CTA.
            Assert.Equal(MoePrefillConfig.FeaturesPerCta, c.RowTiles / 2 * 16 * c.WarpsM);
            Assert.True(c.IsSupported, c.ToString());
        }
    }

    [Fact]
    public void TheDefault_Is128RowsBy64Tokens_InWarpsOf32RowsBy64Tokens_AndTwoCtasFitAnSm()
    {
        MoePrefillConfig d = MoePrefillConfig.Default;
        Assert.Equal(64, d.TokensPerCta);
        Assert.Equal(128, d.Threads);
        Assert.Equal(3 * ((128 * 128) + (64 * 256)), d.SharedBytes); // 3 stages x (16 KB FP8 weights + 16 KB f16 tokens)
        Assert.True(2 * d.SharedBytes <= 228 * 1024, "two CTAs per SM need both rings in the SM's 228 KB");
        Assert.Equal("_m2n8_w4x1_s3", d.KernelSuffix);
    }

    [Fact]
    public void AVariantThatIsNotCompiled_OrOverflowsSharedMemory_IsNotSupported()
    {
        Assert.False(new MoePrefillConfig(4, 4, 2, 2, 5).IsSupported); // not compiled
        Assert.False(new MoePrefillConfig(4, 4, 2, 4, 5).IsSupported); // 240 KB and not compiled
        Assert.Equal(4 * ((128 * 128) + (128 * 256)), new MoePrefillConfig(4, 4, 2, 4, 4).SharedBytes);
    }

    [Fact]
    public void EveryVariant_IsCompiledInTheKernelSource()
    {
        string source = KernelSources.Read("moe_prefill.cu");
        foreach (MoePrefillConfig c in MoePrefillConfig.Variants)
        {
            Assert.Matches($@"MOE_PREFILL_KERNELS\({c.RowTiles}, {c.TokenTiles}, {c.WarpsM}, {c.WarpsN}, {c.Stages}\)", source);
        }

        Assert.Equal(MoePrefillConfig.Variants.Length, Regex.Matches(source, @"^MOE_PREFILL_KERNELS\(", RegexOptions.Multiline).Count);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    public void MaxTiles_BoundsTheScheduleOfAnyRouting(int tokensPerCta)
    {
        var c = MoePrefillConfig.Variants.First(v => v.TokensPerCta == tokensPerCta);
        var rng = new Random(19);
        foreach ((int tokens, int experts, int topK) in new[] { (4096, 256, 8), (777, 16, 4), (37, 8, 8), (1, 256, 8), (3000, 64, 6) })
        {
            for (int trial = 0; trial < 20; trial++)
            {
                // Skewed routings too: trial t sends tokens to the first experts more often.
                var counts = new int[experts];
                for (int t = 0; t < tokens; t++)
                {
                    foreach (int e in Enumerable.Range(0, experts).OrderBy(e => rng.NextDouble() * (1 + (trial * e % 7))).Take(topK))
                    {
                        counts[e]++;
                    }
                }

                int tiles = counts.Sum(n => (n + c.TokensPerCta - 1) / c.TokensPerCta);
                Assert.InRange(tiles, 1, c.MaxTiles(tokens * topK, experts));
            }
        }
    }

    [Fact]
    public void MaxTiles_AtV3PrefillSize_IsSlotsOverTheTilePlusTheExperts() =>
        Assert.Equal((4096 * 8 / 64) + 256, MoePrefillConfig.Default.MaxTiles(4096 * 8, 256));

    [Fact]
    public void Grids_CoverTheFeaturesAndRows_AndRejectWidthsTheTilesDoNotDivide()
    {
        MoePrefillConfig d = MoePrefillConfig.Default;
        Assert.Equal(new Dim3(2048 / 64, 768), d.GateUpGrid(2048, 4096 * 8, 256));
        Assert.Equal(new Dim3(7168 / 128, 768), d.DownGrid(7168, 4096 * 8, 256));
        Assert.Throws<ArgumentException>(() => d.GateUpGrid(96, 8, 8));
        Assert.Throws<ArgumentException>(() => d.DownGrid(7168 + 64, 8, 8));
    }
}
