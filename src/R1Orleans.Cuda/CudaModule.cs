using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>A loaded module (one compiled kernels/*.cu file); hands out its kernels by name.</summary>
public sealed class CudaModule : IDisposable
{
    private readonly CuModuleHandle _module;

    internal CudaModule(CuModuleHandle module, string name)
    {
        _module = module;
        Name = name;
    }

    public string Name { get; }

    public CudaKernel Kernel(string name)
    {
        CuDriver.Check(CuDriver.cuModuleGetFunction(out nint f, _module.DangerousGetHandle(), name), $"cuModuleGetFunction({Name}:{name})");
        return new CudaKernel(f, name, this);
    }

    public void Dispose() => _module.Dispose();
}
