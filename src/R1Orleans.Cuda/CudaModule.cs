using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>A loaded module (one compiled kernels/*.cu file); hands out its kernels by name.</summary>
public sealed class CudaModule : IDisposable
{
    private readonly CuModuleHandle _module;
    private readonly Dictionary<string, CudaKernel> _kernels = [];

    internal CudaModule(CuModuleHandle module, string name)
    {
        _module = module;
        Name = name;
    }

    public string Name { get; }

    /// <summary>The kernel <paramref name="name"/>; one object per function, shared by every caller.</summary>
    public CudaKernel Kernel(string name)
    {
        lock (_kernels)
        {
            if (_kernels.TryGetValue(name, out CudaKernel? k))
            {
                return k;
            }

            CuDriver.Check(CuDriver.cuModuleGetFunction(out nint f, _module.DangerousGetHandle(), name), $"cuModuleGetFunction({Name}:{name})");
            return _kernels[name] = new CudaKernel(f, name, this);
        }
    }

    public void Dispose() => _module.Dispose();
}
