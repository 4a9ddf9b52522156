namespace R1Orleans.Cuda.Forward;

/// <summary>
/// Absorbed MLA attention over the paged float32 latent cache (kernels/forward.cu): latent_attention_paged gives each
/// (head, row) its own CTA (many CTAs for few rows); latent_attention_heads gives 16 heads of a row one CTA, which reads
/// each latent row once for all 16 (the form for many rows, kv_rank up to 512). Both compute the same softmax in
/// float32; only the order of the sums differs.
/// </summary>
public sealed class PagedLatentAttention(KernelLibrary kernels)
{
    /// <summary>Heads one latent_attention_heads CTA takes (ATT_HEADS).</summary>
    public const int HeadsPerCta = 16;

    /// <summary>Largest kv_rank latent_attention_heads takes: two latent dims per thread of 256.</summary>
    public const int MaxSharedHeadsRank = 512;

    private const int PagedThreads = 128;

    private readonly CudaKernel _paged = kernels.Kernel("forward", "latent_attention_paged");
    private readonly CudaKernel _heads = kernels.Kernel("forward", "latent_attention_heads");

    /// <summary>latent_attention_paged's dynamic shared memory: q, a chunk's scores, 32 partials and 128 row offsets.</summary>
    public static int PagedSharedBytes(int width) => ((width + PagedThreads + 32 + 1) * 4) + (PagedThreads * 8);

    /// <summary>latent_attention_heads' (ATT_HEADS_SMEM): 16 heads' q and 16 keys' entries (rows padded by one float), p, factors, sums, offsets.</summary>
    public static int HeadsSharedBytes(int width) => (((2 * HeadsPerCta * (width + 1)) + (HeadsPerCta * 16) + (2 * HeadsPerCta)) * 4) + (16 * 8);

    /// <summary>True when the heads-sharing kernel applies and still gives every SM a CTA.</summary>
    public static bool SharesHeads(int rows, int heads, int kvRank, int multiprocessors) =>
        kvRank <= MaxSharedHeadsRank && (long)rows * ((heads + HeadsPerCta - 1) / HeadsPerCta) >= multiprocessors;

    /// <summary>
    /// Queues out[t, h, :kv_rank] = softmax over keys 0..row_pos[t] of the row's sequence (q[t, h] · entry · scale) ·
    /// latents, for every row and head; q [rows, heads, kv_rank + rope], tables [sequences, tableWidth] block ids.
    /// </summary>
    public void Launch(CudaStream stream, bool shareHeads, ulong q, ulong pool, ulong tables, int tableWidth, int blockSize, ulong rowSeq, ulong rowPos, ulong output, int rows, int heads, int kvRank, int rope, float scale)
    {
        int width = kvRank + rope;
        if (shareHeads)
        {
            if (kvRank > MaxSharedHeadsRank)
            {
                throw new ArgumentException($"latent_attention_heads takes kv_rank up to {MaxSharedHeadsRank}, not {kvRank}");
            }

            int bytes = HeadsSharedBytes(width);
            _heads.SetMaxDynamicSharedMemory(bytes);
            _heads.Launch(stream, new Dim3((uint)((heads + HeadsPerCta - 1) / HeadsPerCta), (uint)rows), 256, (uint)bytes, q, pool, tables, tableWidth, blockSize, rowSeq, rowPos, output, heads, kvRank, rope, scale);
            return;
        }

        int shared = PagedSharedBytes(width);
        if (shared > 48 * 1024)
        {
            _paged.SetMaxDynamicSharedMemory(shared);
        }

        _paged.Launch(stream, new Dim3((uint)heads, (uint)rows), PagedThreads, (uint)shared, q, pool, tables, tableWidth, blockSize, rowSeq, rowPos, output, heads, kvRank, rope, scale);
    }
}
