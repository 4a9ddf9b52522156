using System.Numerics.Tensors;

namespace R1Orleans.Backend;

/// <summary>
/// The CPU reference backend: float32 SIMD through TensorPrimitives, multithreaded over output features and heads.
/// Each weight row is read once per batch (outer loop over weight rows), so decode is bound by weight bytes.
/// </summary>
public sealed unsafe class CpuBackend : IComputeBackend
{
    /// <summary>Below this many multiply-adds a call stays on the calling thread.</summary>
    private const long ParallelThreshold = 1 << 15;

    /// <summary>Attention of one sequence goes parallel over heads only above this many multiply-adds: a decode step's
    /// attention for one sequence is far cheaper than a Parallel.For round trip.</summary>
    private const long AttentionParallelThreshold = 1 << 21;

    private readonly int _threads;

    public CpuBackend(int? threads = null)
    {
        _threads = Math.Max(1, threads ?? Environment.ProcessorCount);
    }

    public string Name => $"cpu({_threads} threads)";

    public int Threads => _threads;

    public void Linear(ReadOnlySpan<float> x, int n, Matrix w, Span<float> y)
    {
        int rows = w.Rows;
        int cols = w.Cols;
        if (x.Length < (long)n * cols || y.Length < (long)n * rows)
        {
            throw new ArgumentException($"Linear: x holds {x.Length} (need {(long)n * cols}), y holds {y.Length} (need {(long)n * rows}) for [{n}, {cols}] x [{rows}, {cols}]ᵀ");
        }

        fixed (float* px = x, py = y, pw = w.Data)
        {
            nint ax = (nint)px, ay = (nint)py, aw = (nint)pw;
            long work = (long)n * rows * cols;
            int chunks = work < ParallelThreshold ? 1 : Math.Min((rows + 3) / 4, _threads * 4);
            int per = (((rows + chunks - 1) / chunks) + 3) & ~3; // whole 4-row tiles per chunk
            void Run(int c)
            {
                int j0 = c * per;
                int j1 = Math.Min(rows, j0 + per);
                DotKernels.Rows((float*)ax, n, (float*)aw, cols, j0, j1, (float*)ay, rows);
            }

            if (chunks == 1)
            {
                Run(0);
            }
            else
            {
                Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = _threads }, Run);
            }
        }
    }

    public void RmsNorm(ReadOnlySpan<float> x, int n, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        int d = weight.Length;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> row = x.Slice(i * d, d);
            Span<float> dst = y.Slice(i * d, d);
            float inv = 1f / MathF.Sqrt((TensorPrimitives.SumOfSquares(row) / d) + eps);
            TensorPrimitives.Multiply(row, inv, dst);
            TensorPrimitives.Multiply(dst, weight, dst);
        }
    }

    public void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        // y may alias gate or up: take sigmoid(gate) into a scratch buffer first.
        float[] scratch = System.Buffers.ArrayPool<float>.Shared.Rent(gate.Length);
        Span<float> sig = scratch.AsSpan(0, gate.Length);
        TensorPrimitives.Sigmoid(gate, sig);
        TensorPrimitives.Multiply(sig, gate, sig);
        TensorPrimitives.Multiply(sig, up, y);
        System.Buffers.ArrayPool<float>.Shared.Return(scratch);
    }

    public void Attention(in AttentionProblem p)
    {
        int qStride = p.Heads * (p.NopeDim + p.RopeDim);
        int kvStride = p.Heads * (p.NopeDim + p.VDim);
        CheckCausal(p.FirstQueryPosition, p.Queries, p.Keys);
        fixed (float* pq = p.Q, pkv = p.KeyValue, pkr = p.KeyRope, po = p.Output)
        {
            nint aq = (nint)pq, akv = (nint)pkv, akr = (nint)pkr, ao = (nint)po;
            int queries = p.Queries, keys = p.Keys, first = p.FirstQueryPosition, heads = p.Heads;
            int nope = p.NopeDim, rope = p.RopeDim, vd = p.VDim, krStride = p.KeyRopeStride, krOff = p.KeyRopeOffset;
            float scale = p.Scale;
            void Head(int h)
            {
                float* q = (float*)aq, kv = (float*)akv, kr = (float*)akr, o = (float*)ao;
                var scores = new float[keys];
                for (int i = 0; i < queries; i++)
                {
                    int count = first + i + 1;
                    var qn = new ReadOnlySpan<float>(q + ((long)i * qStride) + (h * (nope + rope)), nope);
                    var qr = new ReadOnlySpan<float>(q + ((long)i * qStride) + (h * (nope + rope)) + nope, rope);
                    for (int u = 0; u < count; u++)
                    {
                        var kn = new ReadOnlySpan<float>(kv + ((long)u * kvStride) + (h * (nope + vd)), nope);
                        var krr = new ReadOnlySpan<float>(kr + ((long)u * krStride) + krOff, rope);
                        scores[u] = (TensorPrimitives.Dot(qn, kn) + TensorPrimitives.Dot(qr, krr)) * scale;
                    }

                    Span<float> sc = scores.AsSpan(0, count);
                    TensorPrimitives.SoftMax(sc, sc);
                    var outRow = new Span<float>(o + ((long)i * heads * vd) + (h * vd), vd);
                    outRow.Clear();
                    for (int u = 0; u < count; u++)
                    {
                        var v = new ReadOnlySpan<float>(kv + ((long)u * kvStride) + (h * (nope + vd)) + nope, vd);
                        TensorPrimitives.MultiplyAdd(v, sc[u], outRow, outRow);
                    }
                }
            }

            RunHeads(heads, (long)queries * keys * heads * (nope + rope + vd), Head);
        }
    }

    public void LatentAttention(in LatentAttentionProblem p)
    {
        int width = p.LatentDim + p.RopeDim;
        CheckCausal(p.FirstQueryPosition, p.Queries, p.Keys);
        fixed (float* pq = p.Q, pl = p.Latent, po = p.Output)
        {
            nint aq = (nint)pq, al = (nint)pl, ao = (nint)po;
            int queries = p.Queries, keys = p.Keys, first = p.FirstQueryPosition, heads = p.Heads, latent = p.LatentDim;
            float scale = p.Scale;
            void Head(int h)
            {
                float* q = (float*)aq, lat = (float*)al, o = (float*)ao;
                var scores = new float[keys];
                for (int i = 0; i < queries; i++)
                {
                    int count = first + i + 1;
                    var qh = new ReadOnlySpan<float>(q + ((((long)i * heads) + h) * width), width);
                    for (int u = 0; u < count; u++)
                    {
                        scores[u] = TensorPrimitives.Dot(qh, new ReadOnlySpan<float>(lat + ((long)u * width), width)) * scale;
                    }

                    Span<float> sc = scores.AsSpan(0, count);
                    TensorPrimitives.SoftMax(sc, sc);
                    var outRow = new Span<float>(o + ((((long)i * heads) + h) * latent), latent);
                    outRow.Clear();
                    for (int u = 0; u < count; u++)
                    {
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(lat + ((long)u * width), latent), sc[u], outRow, outRow);
                    }
                }
            }

            RunHeads(heads, (long)queries * keys * heads * (width + latent), Head);
        }
    }

    private void RunHeads(int heads, long work, Action<int> head)
    {
        if (work < AttentionParallelThreshold || heads == 1)
        {
            for (int h = 0; h < heads; h++)
            {
                head(h);
            }
        }
        else
        {
            Parallel.For(0, heads, new ParallelOptions { MaxDegreeOfParallelism = _threads }, head);
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
