using R1Orleans.Backend;

namespace R1Orleans.Cuda;

/// <summary>
/// CudaBackend's attention: naive (prefill) and absorbed (latent) MLA through one kernel (kernels/mla_attention.cu),
/// whose key is two runs of dims and whose value is a third. Paged latents are gathered into key order on the host and
/// copied per call, like every activation in this first version.
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>Threads per (head, query) block, and keys per online-softmax chunk (the kernel's CHUNK).</summary>
    private const int AttentionThreads = 128;

    /// <summary>Value dims the kernel's registers hold per thread times its threads (MAX_V_PER_THREAD x CHUNK).</summary>
    private const int MaxValueDim = 8 * AttentionThreads;

    public void Attention(in AttentionProblem p)
    {
        CheckCausal(p.FirstQueryPosition, p.Queries, p.Keys);
        if (p.Queries == 0)
        {
            return;
        }

        int width = p.NopeDim + p.RopeDim;
        int kvStride = p.Heads * (p.NopeDim + p.VDim);
        long qLen = (long)p.Queries * p.Heads * width, kvLen = (long)p.Keys * kvStride, outLen = (long)p.Queries * p.Heads * p.VDim;
        long krLen = ((long)(p.Keys - 1) * p.KeyRopeStride) + p.KeyRopeOffset + p.RopeDim;
        if (p.Q.Length < qLen || p.KeyValue.Length < kvLen || p.KeyRope.Length < krLen || p.Output.Length < outLen)
        {
            throw new ArgumentException($"attention: Q {p.Q.Length}/{qLen}, KeyValue {p.KeyValue.Length}/{kvLen}, KeyRope {p.KeyRope.Length}/{krLen}, output {p.Output.Length}/{outLen} values (have/need)");
        }

        CheckValueDim(p.VDim);

        lock (_gate)
        {
            Enter();
            DeviceBuffer dq = _scratch.Get(0, qLen * 4);
            DeviceBuffer dkv = _scratch.Get(1, kvLen * 4);
            DeviceBuffer dkr = _scratch.Get(2, krLen * 4);
            DeviceBuffer dout = _scratch.Get(3, outLen * 4);
            dq.UploadAsync(p.Q[..(int)qLen], _stream);
            dkv.UploadAsync(p.KeyValue[..(int)kvLen], _stream);
            dkr.UploadAsync(p.KeyRope[..(int)krLen], _stream);
            int headStride = p.NopeDim + p.VDim;
            LaunchAttention(
                dq, width, p.Queries, p.Heads, p.FirstQueryPosition, p.Scale,
                keyA: dkv.Pointer, strideA: kvStride, headA: headStride, nA: p.NopeDim,
                keyB: dkr.Pointer + ((ulong)p.KeyRopeOffset * 4), strideB: p.KeyRopeStride, nB: p.RopeDim,
                value: dkv.Pointer + ((ulong)p.NopeDim * 4), strideV: kvStride, headV: headStride, vd: p.VDim,
                dout);
            dout.DownloadAfter(p.Output[..(int)outLen], _stream);
        }
    }

    public void LatentAttention(in LatentAttentionProblem p)
    {
        CheckCausal(p.FirstQueryPosition, p.Queries, p.Keys);
        if (p.Queries == 0)
        {
            return;
        }

        int width = p.LatentDim + p.RopeDim;
        long qLen = (long)p.Queries * p.Heads * width, outLen = (long)p.Queries * p.Heads * p.LatentDim, latLen = (long)p.Keys * width;
        if (p.Q.Length < qLen || p.Output.Length < outLen)
        {
            throw new ArgumentException($"latent attention: Q holds {p.Q.Length}, output {p.Output.Length} values for {p.Queries} queries × {p.Heads} heads of width {width}");
        }

        CheckValueDim(p.LatentDim);
        float[] latents = GatherLatents(p, width);

        lock (_gate)
        {
            Enter();
            DeviceBuffer dq = _scratch.Get(0, qLen * 4);
            DeviceBuffer dlat = _scratch.Get(1, latLen * 4);
            DeviceBuffer dout = _scratch.Get(3, outLen * 4);
            dq.UploadAsync(p.Q[..(int)qLen], _stream);
            dlat.UploadAsync<float>(latents.AsSpan(0, (int)latLen), _stream);
            LaunchAttention(
                dq, width, p.Queries, p.Heads, p.FirstQueryPosition, p.Scale,
                keyA: dlat.Pointer, strideA: width, headA: 0, nA: p.LatentDim,
                keyB: dlat.Pointer + ((ulong)p.LatentDim * 4), strideB: width, nB: p.RopeDim,
                value: dlat.Pointer, strideV: width, headV: 0, vd: p.LatentDim,
                dout);
            dout.DownloadAfter(p.Output[..(int)outLen], _stream);
        }
    }

    private void LaunchAttention(
        DeviceBuffer q, int width, int queries, int heads, int first, float scale,
        ulong keyA, long strideA, int headA, int nA, ulong keyB, long strideB, int nB,
        ulong value, long strideV, int headV, int vd, DeviceBuffer output)
    {
        int shared = (width + AttentionThreads + 32) * 4;
        if (shared > 48 * 1024)
        {
            _attention.SetMaxDynamicSharedMemory(shared);
        }

        _attention.Launch(
            _stream, new Dim3((uint)heads, (uint)queries), AttentionThreads, (uint)shared,
            q, keyA, strideA, headA, nA, keyB, strideB, nB, value, strideV, headV, vd, output, heads, first, scale);
    }

    /// <summary>The sequence's latent rows in key order (from the pages when there is a block table), one array.</summary>
    private static float[] GatherLatents(in LatentAttentionProblem p, int width)
    {
        bool paged = !p.BlockTable.IsEmpty;
        var rows = new float[Math.Max(1, p.Keys * width)];
        if (!paged)
        {
            if (p.Latent.Length < (long)p.Keys * width)
            {
                throw new ArgumentException($"latent attention: {p.Latent.Length} latent values for {p.Keys} keys of width {width}");
            }

            p.Latent[..(p.Keys * width)].CopyTo(rows);
            return rows;
        }

        if (p.BlockSize <= 0 || (long)p.BlockTable.Length * p.BlockSize < p.Keys)
        {
            throw new ArgumentException($"latent attention: {p.BlockTable.Length} blocks of {p.BlockSize} cannot hold {p.Keys} keys");
        }

        long poolRows = p.Latent.Length / width;
        for (int u0 = 0, b = 0; u0 < p.Keys; u0 += p.BlockSize, b++)
        {
            int block = p.BlockTable[b];
            if (block < 0 || ((long)block + 1) * p.BlockSize > poolRows)
            {
                throw new ArgumentException($"latent attention: block {block} is outside the pool of {poolRows / p.BlockSize} blocks");
            }

            int count = Math.Min(p.BlockSize, p.Keys - u0);
            p.Latent.Slice(block * p.BlockSize * width, count * width).CopyTo(rows.AsSpan(u0 * width));
        }

        return rows;
    }

    private static void CheckValueDim(int vd)
    {
        if (vd <= 0 || vd > MaxValueDim)
        {
            throw new ArgumentException($"attention: value width {vd} is outside the CUDA kernel's 1..{MaxValueDim}");
        }
    }

    private static void CheckCausal(int first, int queries, int keys)
    {
        if (first < 0 || first + queries > keys)
        {
            throw new ArgumentException($"attention: queries at positions {first}..{first + queries - 1} need keys up to {first + queries}, have {keys}");
        }
    }
}
