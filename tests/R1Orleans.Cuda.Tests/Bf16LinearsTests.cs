using System.Text.RegularExpressions;

namespace R1Orleans.Cuda.Tests;

public class Bf16LinearsTests
{
    /// <summary>DeepSeek-V3's BF16 matrices in the device forward's fast mode: lm_head, W_UK and W_UV per head.</summary>
    public static TheoryData<int, int, int> V3Matrices => new()
    {
        { 129280, 7168, 1 },
        { 512, 128, 128 },
        { 128, 512, 128 },
    };

    [Theory]
    [MemberData(nameof(V3Matrices))]
    public void Every_token_count_of_a_v3_matrix_gets_a_compiled_kernel_whose_ring_fits_shared_memory(int rows, int cols, int batches)
    {
        Assert.True(Bf16Linears.Supports(rows, cols));
        string source = KernelSources.Read("linear_bf16.cu");
        for (int tokens = 1; tokens <= Bf16Linears.MaxTokensPerPass; tokens++)
        {
            (int nt, int mt) = Bf16Linears.ConfigFor(tokens, rows, batches, multiprocessors: 132);
            Assert.Matches($@"(?m)^LINEAR_BF16\({nt}, {mt}\)", source);
            Assert.True(8 * nt >= tokens, $"{nt} token tiles hold {8 * nt} of {tokens} tokens");
            Assert.True(Bf16Linears.SharedBytes(nt, mt) <= MoeLaunchConfig.MaxSharedBytes, $"nt {nt} mt {mt}: {Bf16Linears.SharedBytes(nt, mt)} bytes");
        }
    }

    [Fact]
    public void A_pass_takes_the_fewest_token_tiles_that_hold_its_tokens()
    {
        Assert.Equal(1, Bf16Linears.ConfigFor(1, 129280, 1, 132).TokenTiles);
        Assert.Equal(1, Bf16Linears.ConfigFor(8, 129280, 1, 132).TokenTiles);
        Assert.Equal(2, Bf16Linears.ConfigFor(9, 129280, 1, 132).TokenTiles);
        Assert.Equal(8, Bf16Linears.ConfigFor(64, 129280, 1, 132).TokenTiles);
        Assert.Equal(8, Bf16Linears.ConfigFor(500, 129280, 1, 132).TokenTiles);
    }

    [Fact]
    public void Warps_take_two_row_tiles_only_when_that_still_leaves_two_waves_of_ctas()
    {
        // lm_head: 8,080 tiles of 16 rows — two per warp still gives 505 CTAs for 132 SMs.
        Assert.Equal(2, Bf16Linears.ConfigFor(64, 129280, 1, 132).RowTiles);

        // W_UV: 8 tiles per head × 128 heads — one per warp, for more CTAs.
        Assert.Equal(1, Bf16Linears.ConfigFor(64, 128, 128, 132).RowTiles);
    }

    [Theory]
    [InlineData(100, 7168)]
    [InlineData(129280, 7100)]
    [InlineData(0, 64)]
    public void Matrices_the_kernel_cannot_tile_are_refused(int rows, int cols) => Assert.False(Bf16Linears.Supports(rows, cols));

    [Fact]
    public void The_kernel_source_defines_each_variant_once_and_to_bf16()
    {
        string source = KernelSources.Read("linear_bf16.cu");
        Assert.Equal(8, Regex.Matches(source, @"(?m)^LINEAR_BF16\(").Count);
        Assert.Contains("to_bf16(", source, StringComparison.Ordinal);
        Assert.Contains($"#define BF16_DEPTH {Bf16Linears.Depth}", source, StringComparison.Ordinal);
        Assert.Contains($"#define BF16_WARPS {Bf16Linears.Warps}", source, StringComparison.Ordinal);
    }
}
