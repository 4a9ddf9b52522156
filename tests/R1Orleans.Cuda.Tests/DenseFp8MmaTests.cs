namespace R1Orleans.Cuda.Tests;

public class DenseFp8MmaTests
{
    [Theory]
    [InlineData(1, 1536)]
    [InlineData(8, 24576)]
    [InlineData(9, 7168)]
    [InlineData(64, 18432)]
    [InlineData(256, 2048)]
    public void Every_row_count_gets_a_compiled_launch_config(int rows, int outputRows)
    {
        MoeLaunchConfig c = DenseFp8Mma.ConfigFor(rows, outputRows);
        Assert.True(c.IsSupported, c.ShortName);

        // moe_down's CTA covers 32 rows per warp: every V3 output width is a whole number of CTAs.
        Assert.Equal(0, outputRows % (32 * c.Warps));
    }

    [Fact]
    public void More_rows_share_each_weight_read_across_more_token_tiles()
    {
        Assert.Equal(1, DenseFp8Mma.ConfigFor(8, 7168).TokenTiles);
        Assert.Equal(2, DenseFp8Mma.ConfigFor(16, 7168).TokenTiles);
        Assert.Equal(4, DenseFp8Mma.ConfigFor(64, 7168).TokenTiles);
    }

    [Fact]
    public void Narrow_outputs_split_k_to_keep_the_gpu_busy()
    {
        Assert.Equal(4, DenseFp8Mma.ConfigFor(1, 1536).DownSplits);
        Assert.Equal(1, DenseFp8Mma.ConfigFor(1, 24576).DownSplits);
    }

    [Fact]
    public void Fp8_scales_start_256_byte_aligned_after_the_codes()
    {
        Assert.Equal(0, DeviceWeight.ScaleOffsetOf(576, 7168) % 256);
        Assert.True(DeviceWeight.ScaleOffsetOf(576, 7168) >= 576L * 7168);
        Assert.Equal(5L * 56, DeviceWeight.ScaleCount(576, 7168, 128, 128));
    }

    [Theory]
    [InlineData(576, 640)]
    [InlineData(288, 384)]
    [InlineData(640, 640)]
    [InlineData(1536, 1536)]
    public void Rows_that_are_not_a_multiple_of_128_are_padded_to_whole_ctas_inside_their_last_scale_block(int rows, int padded)
    {
        Assert.Equal(padded, DenseFp8Mma.PaddedRows(rows));
        MoeLaunchConfig c = DenseFp8Mma.ConfigFor(64, padded);
        Assert.Equal(0, padded % (32 * c.Warps));

        // The padded rows read no scale the weight lacks: its last 128-row scale block covers them.
        Assert.Equal(DeviceWeight.ScaleCount(rows, 7168, 128, 128), DeviceWeight.ScaleCount(padded, 7168, 128, 128));
    }
}
