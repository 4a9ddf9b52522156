using System.Runtime.CompilerServices;
using R1Orleans.Backend;

namespace R1Orleans.Cuda;

/// <summary>
/// <see cref="IComputeBackend"/> on one CUDA device, float32 activations, kernels from kernels/*.cu. Weights go to device
/// memory once, on their first use, and stay there while their <see cref="Matrix"/> lives: float32 as they are, FP8
/// matrices as codes + block scales (linear_fp8.cu dequantizes in registers). In this first version
/// activations are copied to the device and back on every call (a device-resident forward is the next step), and
/// calls are serialized on one stream: it is correct from any thread, not yet fast.
/// </summary>
public sealed partial class CudaBackend : IComputeBackend, IDisposable
{
    /// <summary>The kernel modules (kernels/NAME.cu) this backend loads.</summary>
    public static readonly string[] Modules = ["linear", "linear_fp8", "rmsnorm", "silu_mul", "mla_attention"];

    /// <summary>Up to this many rows a Linear reads each weight row once per call (linear_gemv); above, 64x64 tiles.</summary>
    public const int GemvMaxTokens = LinearKernels.GemvMaxTokens;

    private readonly object _gate = new();
    private readonly CudaContext _context;
    private readonly KernelLibrary _kernels;
    private readonly CudaStream _stream;
    private readonly DeviceScratch _scratch;
    private readonly ConditionalWeakTable<Matrix, DeviceWeight> _weights = [];
    private readonly LinearKernels _linear;
    private readonly CudaKernel _rmsnorm, _siluMul, _attention;
    private long _weightBytes;
    private bool _disposed;

    private CudaBackend(CudaContext context, KernelLibrary kernels)
    {
        _context = context;
        _kernels = kernels;
        _stream = context.CreateStream();
        _scratch = new DeviceScratch(context);
        _linear = new LinearKernels(kernels);
        _rmsnorm = kernels.Kernel("rmsnorm", "rmsnorm");
        _siluMul = kernels.Kernel("silu_mul", "silu_mul");
        _attention = kernels.Kernel("mla_attention", "mla_attention");
    }

    /// <summary>
    /// Opens cuda:<paramref name="ordinal"/> and compiles (or takes from the on-disk cache) the backend's kernels.
    /// Throws <see cref="CudaUnavailableException"/> at once when the driver or NVRTC is missing, saying what to install.
    /// </summary>
    public static CudaBackend Open(int ordinal, string? kernelFolder = null, KernelCache? cache = null)
    {
        CudaContext context = CudaContext.Open(ordinal);
        try
        {
            KernelLibrary kernels = KernelLibrary.Load(context, kernelFolder ?? KernelFolder.Find(), cache ?? new KernelCache(KernelCache.DefaultDirectory), Modules);
            return new CudaBackend(context, kernels);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public string Name => $"cuda:{_context.Ordinal} ({_context.Name})";

    public CudaContext Context => _context;

    /// <summary>What the kernel library did at start (compiled or cached, per file).</summary>
    public IReadOnlyList<string> KernelLog => _kernels.Log;

    /// <summary>Bytes of weights uploaded so far.</summary>
    public long WeightBytes => Interlocked.Read(ref _weightBytes);

    public void Linear(ReadOnlySpan<float> x, int n, Matrix w, Span<float> y)
    {
        ArgumentNullException.ThrowIfNull(w);
        int rows = w.Rows, cols = w.Cols;
        if (x.Length < (long)n * cols || y.Length < (long)n * rows)
        {
            throw new ArgumentException($"Linear: x holds {x.Length} (need {(long)n * cols}), y holds {y.Length} (need {(long)n * rows}) for [{n}, {cols}] x [{rows}, {cols}]ᵀ");
        }

        if (n <= 0)
        {
            return;
        }

        lock (_gate)
        {
            Enter();
            DeviceWeight dw = Weight(w);
            DeviceBuffer dx = _scratch.Get(0, (long)n * cols * 4);
            DeviceBuffer dy = _scratch.Get(1, (long)n * rows * 4);
            dx.UploadAsync(x[..(n * cols)], _stream);
            _linear.Launch(_stream, dx.Pointer, n, dw, dy.Pointer);
            dy.DownloadAfter(y[..(n * rows)], _stream);
        }
    }

    public void RmsNorm(ReadOnlySpan<float> x, int n, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        int d = weight.Length;
        if (n <= 0)
        {
            return;
        }

        lock (_gate)
        {
            Enter();
            DeviceBuffer dx = _scratch.Get(0, (long)n * d * 4);
            DeviceBuffer dy = _scratch.Get(1, (long)n * d * 4);
            DeviceBuffer dw = _scratch.Get(2, (long)d * 4);
            dx.UploadAsync(x[..(n * d)], _stream);
            dw.UploadAsync(weight, _stream);
            _rmsnorm.Launch(_stream, n, 256, 0, dx, 0UL, dw, dy, d, eps);
            dy.DownloadAfter(y[..(n * d)], _stream);
        }
    }

    public void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        int n = gate.Length;
        if (n == 0)
        {
            return;
        }

        lock (_gate)
        {
            Enter();
            DeviceBuffer dg = _scratch.Get(0, n * 4L);
            DeviceBuffer du = _scratch.Get(1, n * 4L);
            dg.UploadAsync(gate, _stream);
            du.UploadAsync(up[..n], _stream);
            int blocks = Math.Min((n + 255) / 256, _context.MultiprocessorCount * 16);
            _siluMul.Launch(_stream, blocks, 256, 0, dg, du, dg, (long)n);
            dg.DownloadAfter(y[..n], _stream);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (KeyValuePair<Matrix, DeviceWeight> kv in _weights)
            {
                kv.Value.Dispose();
            }

            _weights.Clear();
            _scratch.Dispose();
            _stream.Dispose();
            _kernels.Dispose();
            _context.Dispose();
        }
    }

    /// <summary>Fills every scratch buffer with a 32-bit pattern (checks poison with NaN so that an unwritten output fails).</summary>
    public void PoisonScratch(uint bits)
    {
        lock (_gate)
        {
            Enter();
            _scratch.Fill32(bits);
        }
    }

    /// <summary>Makes the context current on the calling thread (the engine may call from any thread).</summary>
    private void Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _context.MakeCurrent();
    }

    /// <summary>The device copy of <paramref name="w"/>, uploaded on first use.</summary>
    private DeviceWeight Weight(Matrix w)
    {
        if (_weights.TryGetValue(w, out DeviceWeight? b))
        {
            return b;
        }

        b = DeviceWeight.Upload(_context, w, _stream);
        Interlocked.Add(ref _weightBytes, b.Bytes);
        _weights.Add(w, b);
        return b;
    }
}
