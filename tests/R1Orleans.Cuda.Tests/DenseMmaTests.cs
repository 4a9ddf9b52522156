using System.Text.RegularExpressions;

namespace R1Orleans.Cuda.Tests;

public class DenseMmaTests
{
    /// <summary>DeepSeek-V3's matrices in the device forward's fast mode: (rows, cols, batches, FP8).</summary>
    public static TheoryData<int, int, int, bool> V3Matrices => new()
    {
        { 129280, 7168, 1, false },  // lm_head
        { 512, 128, 128, false },    // W_UK per head
        { 128, 512, 128, false },    // W_UV per head
        { 1536, 7168, 1, true },     // q_a_proj
        { 24576, 1536, 1, true },    // q_b_proj
        { 576, 7168, 1, true },      // kv_a_proj_with_mqa
        { 7168, 16384, 1, true },    // o_proj
        { 18432, 7168, 1, true },    // dense gate / up
        { 7168, 18432, 1, true },    // dense down
        { 2048, 7168, 1, true },     // shared expert gate / up
        { 7168, 2048, 1, true },     // shared expert down
        { 2112, 7168, 1, true },     // fused q_a + kv_a
        { 36864, 7168, 1, true },    // fused dense gate + up
        { 4096, 7168, 1, true },     // fused shared expert gate + up
    };

    [Theory]
    [MemberData(nameof(V3Matrices))]
    public void Every_token_count_of_a_v3_matrix_gets_a_compiled_kernel_whose_ring_fits_and_whose_splits_cover_k_once(int rows, int cols, int batches, bool fp8)
    {
        Assert.True(fp8 ? rows % 16 == 0 && cols % 128 == 0 : DenseMma.SupportsBf16(rows, cols));
        string source = KernelSources.Read("dense_mma.cu");
        int chunks = cols / DenseMma.ChunkOf(fp8);
        for (int tokens = 1; tokens <= DenseMma.MaxTokensPerPass; tokens++)
        {
            DenseMmaConfig c = DenseMma.ConfigFor(tokens, rows, cols, batches, fp8, multiprocessors: 132);
            Assert.Matches($@"(?m)^DENSE_MMA\({c.TokenTiles}, {c.RowTiles}\)", source);
            Assert.True(8 * c.TokenTiles >= tokens, $"{c.TokenTiles} token tiles hold {8 * c.TokenTiles} of {tokens} tokens");
            Assert.True(DenseMma.SharedBytes(fp8, c.TokenTiles, c.RowTiles) <= MoeLaunchConfig.MaxSharedBytes, $"{c}: {DenseMma.SharedBytes(fp8, c.TokenTiles, c.RowTiles)} bytes");

            // The splits take whole chunks, every chunk once: all but the last split full, the last not empty.
            Assert.InRange(c.Splits, 1, DenseMma.MaxSplits);
            Assert.True((c.Splits - 1) * c.PerSplit < chunks && c.Splits * c.PerSplit >= chunks, $"{c} over {chunks} chunks");
            Assert.True(batches == 1 || c.Splits == 1, "batched launches do not split K");
        }
    }

    [Fact]
    public void A_pass_takes_the_fewest_token_tiles_that_hold_its_tokens()
    {
        Assert.Equal(1, DenseMma.ConfigFor(1, 129280, 7168, 1, false, 132).TokenTiles);
        Assert.Equal(1, DenseMma.ConfigFor(8, 129280, 7168, 1, false, 132).TokenTiles);
        Assert.Equal(2, DenseMma.ConfigFor(9, 129280, 7168, 1, false, 132).TokenTiles);
        Assert.Equal(8, DenseMma.ConfigFor(64, 129280, 7168, 1, false, 132).TokenTiles);
        Assert.Equal(8, DenseMma.ConfigFor(500, 129280, 7168, 1, false, 132).TokenTiles);
    }

    [Fact]
    public void Warps_take_two_row_tiles_only_when_that_still_leaves_two_waves_of_ctas()
    {
        // lm_head: 8,080 tiles of 16 rows — two per warp still gives 505 CTAs for 132 SMs.
        Assert.Equal(2, DenseMma.ConfigFor(64, 129280, 7168, 1, false, 132).RowTiles);

        // W_UV: 8 tiles per head × 128 heads — one per warp, for more CTAs.
        Assert.Equal(1, DenseMma.ConfigFor(64, 128, 512, 128, false, 132).RowTiles);
    }

    [Fact]
    public void Matrices_with_few_row_tiles_split_k_until_every_sm_streams_weights()
    {
        // kv_a_proj: 36 tiles = 5 CTAs of 8 warps; 8 splits of 7 of its 56 chunks give 40.
        DenseMmaConfig kvA = DenseMma.ConfigFor(1, 576, 7168, 1, true, 132);
        Assert.Equal((8, 7), (kvA.Splits, kvA.PerSplit));

        // o_proj: 56 CTAs; two splits give 112.
        Assert.Equal(2, DenseMma.ConfigFor(64, 7168, 16384, 1, true, 132).Splits);

        // q_b_proj's 192 CTAs and lm_head's 505 fill the GPU without splitting.
        Assert.Equal(1, DenseMma.ConfigFor(64, 24576, 1536, 1, true, 132).Splits);
        Assert.Equal(1, DenseMma.ConfigFor(64, 129280, 7168, 1, false, 132).Splits);
    }

    [Theory]
    [InlineData(100, 7168)]
    [InlineData(129280, 7100)]
    [InlineData(0, 64)]
    public void Bf16_matrices_the_kernel_cannot_tile_are_refused(int rows, int cols) => Assert.False(DenseMma.SupportsBf16(rows, cols));

    [Fact]
    public void The_kernel_source_defines_each_variant_once_and_both_conversions()
    {
        string source = KernelSources.Read("dense_mma.cu");
        Assert.Equal(8, Regex.Matches(source, @"(?m)^DENSE_MMA\(").Count);
        Assert.Contains("to_bf16(", source, StringComparison.Ordinal);
        Assert.Contains("to_f16(", source, StringComparison.Ordinal);
        Assert.Contains($"#define DENSE_DEPTH {DenseMma.Depth}", source, StringComparison.Ordinal);
        Assert.Contains($"#define DENSE_WARPS {DenseMma.Warps}", source, StringComparison.Ordinal);
    }
}
