using System.Buffers;
using System.Numerics.Tensors;

namespace R1Orleans.Backend;

/// <summary>
/// The CPU reference backend: float32 SIMD through TensorPrimitives, multithreaded over output features and heads.
/// Each weight row is read once per batch (outer loop over weight rows), so decode is bound by weight bytes.
/// </summary>
public sealed unsafe partial class CpuBackend : IComputeBackend
{
    /// <summary>Below this many multiply-adds a Linear stays on the calling thread (the default).</summary>
    public const long DefaultParallelThreshold = 1 << 15;

    /// <summary>Attention of one sequence goes parallel over heads only above this many multiply-adds: a decode step's
    /// attention for one sequence is far cheaper than a Parallel.For round trip.</summary>
    private const long AttentionParallelThreshold = 1 << 21;

    private readonly int _threads;

    private readonly AttentionKernel _attentionKernel;

    private readonly long _parallelThreshold;

    /// <summary>
    /// threads: CPU threads for the math (default all cores); parallelThreshold: the multiply-adds below which a Linear
    /// stays on the calling thread (a parallel loop costs microseconds, more than a small matrix).
    /// </summary>
    public CpuBackend(int? threads = null, AttentionKernel attentionKernel = AttentionKernel.Tiled, long parallelThreshold = DefaultParallelThreshold)
    {
        _threads = Math.Max(1, threads ?? Environment.ProcessorCount);
        _attentionKernel = attentionKernel;
        _parallelThreshold = Math.Max(0, parallelThreshold);
    }

    public long ParallelThreshold => _parallelThreshold;

    public AttentionKernel AttentionKernel => _attentionKernel;

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

        if (w.IsFp8)
        {
            LinearFp8(x, n, w, y);
            return;
        }

        fixed (float* px = x, py = y, pw = w.Data)
        {
            nint ax = (nint)px, ay = (nint)py, aw = (nint)pw;
            long work = (long)n * rows * cols;
            int chunks = work < _parallelThreshold ? 1 : Math.Min((rows + 3) / 4, _threads * 4);
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

    /// <summary>
    /// Linear on an FP8 matrix: each thread dequantizes a panel of whole 4-row tiles of weight rows into its own buffer
    /// (<see cref="Fp8PanelRows"/>) and runs the same <see cref="DotKernels"/> on it as the float32 path. A weight row
    /// dequantizes to the floats the checkpoint reader gives, and the dot of one (activation row, weight row) pair is the
    /// same sequence of operations in every tile shape, so every output is bit-identical to Linear on
    /// <see cref="Matrix.ToFloat32"/>.
    /// </summary>
    private void LinearFp8(ReadOnlySpan<float> x, int n, Matrix w, Span<float> y)
    {
        int rows = w.Rows;
        int cols = w.Cols;
        int panel = Fp8PanelRows(cols);
        int blockRows = w.BlockRows, blockCols = w.BlockCols, scaleCols = w.ScaleCols;
        fixed (float* px = x, py = y, ps = w.Scales)
        fixed (byte* pc = w.Codes)
        {
            nint ax = (nint)px, ay = (nint)py, acodes = (nint)pc, ascales = (nint)ps;
            long work = (long)n * rows * cols;
            int chunks = work < _parallelThreshold ? 1 : Math.Min((rows + 3) / 4, _threads * 4);
            int per = (((rows + chunks - 1) / chunks) + 3) & ~3; // whole 4-row tiles per chunk
            void Run(int c)
            {
                int j0 = c * per;
                int j1 = Math.Min(rows, j0 + per);
                if (j0 >= j1)
                {
                    return;
                }

                float[] buffer = ArrayPool<float>.Shared.Rent(panel * cols);
                fixed (float* pb = buffer)
                {
                    for (int p = j0; p < j1; p += panel)
                    {
                        int count = Math.Min(panel, j1 - p);
                        for (int r = 0; r < count; r++)
                        {
                            int row = p + r;
                            Fp8Dequantize.Row(
                                (byte*)acodes + ((long)row * cols),
                                (float*)ascales + ((long)(row / blockRows) * scaleCols),
                                blockCols,
                                cols,
                                pb + ((long)r * cols));
                        }

                        DotKernels.Rows((float*)ax, n, pb, cols, 0, count, (float*)ay + p, rows);
                    }
                }

                ArrayPool<float>.Shared.Return(buffer);
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

    /// <summary>Weight rows an FP8 Linear dequantizes at a time: whole 4-row tiles of about 32 KiB of floats (L1-sized).</summary>
    internal static int Fp8PanelRows(int cols) => Math.Max(4, (8192 / Math.Max(1, cols)) & ~3);

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
        float[] scratch = ArrayPool<float>.Shared.Rent(gate.Length);
        Span<float> sig = scratch.AsSpan(0, gate.Length);
        TensorPrimitives.Sigmoid(gate, sig);
        TensorPrimitives.Multiply(sig, gate, sig);
        TensorPrimitives.Multiply(sig, up, y);
        ArrayPool<float>.Shared.Return(scratch);
    }
}
