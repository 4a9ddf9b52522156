using R1Orleans.Cuda.Forward;

namespace R1Orleans.Cuda.Tests;

public class PagedLatentAttentionTests
{
    [Fact]
    public void Many_rows_share_each_latent_across_16_heads_and_few_rows_keep_a_cta_per_head()
    {
        // V3: 128 heads, kv_rank 512, an H100's 132 SMs.
        Assert.True(PagedLatentAttention.SharesHeads(rows: 64, heads: 128, kvRank: 512, multiprocessors: 132));
        Assert.True(PagedLatentAttention.SharesHeads(rows: 17, heads: 128, kvRank: 512, multiprocessors: 132));
        Assert.False(PagedLatentAttention.SharesHeads(rows: 1, heads: 128, kvRank: 512, multiprocessors: 132));
        Assert.False(PagedLatentAttention.SharesHeads(rows: 64, heads: 128, kvRank: 1024, multiprocessors: 132));
    }

    [Fact]
    public void The_heads_kernel_shared_memory_matches_its_macro_and_fits_one_sm()
    {
        string source = KernelSources.Read("forward.cu");
        Assert.Contains($"#define ATT_HEADS {PagedLatentAttention.HeadsPerCta}", source, StringComparison.Ordinal);
        Assert.Contains("#define ATT_HEADS_SMEM(width) (((2 * ATT_HEADS * ((width) + 1)) + (ATT_HEADS * ATT_KEYS) + (2 * ATT_HEADS)) * 4 + ATT_KEYS * 8)", source, StringComparison.Ordinal);
        Assert.Contains("#define ATT_KEYS 16", source, StringComparison.Ordinal);

        // 576-float entries: q and keys (2 x 16 x 577 floats), p (256), factors and sums (32), 16 key offsets.
        Assert.Equal(((2 * 16 * 577) + 256 + 32) * 4 + 128, PagedLatentAttention.HeadsSharedBytes(576));
        Assert.True(PagedLatentAttention.HeadsSharedBytes(576) <= MoeLaunchConfig.MaxSharedBytes);
    }
}
