using R1Orleans.Backend;

namespace R1Orleans.Cuda;

/// <summary>Creates the <see cref="IComputeBackend"/> a <see cref="ComputeDevice"/> names: the CPU reference, or CUDA.</summary>
public static class BackendFactory
{
    /// <summary>
    /// cpu: a <see cref="CpuBackend"/> with <paramref name="threads"/> threads (all cores when null); cuda:N: a
    /// <see cref="CudaBackend"/> on device N, which fails at once (<see cref="CudaUnavailableException"/>) without a driver.
    /// </summary>
    public static IComputeBackend Create(ComputeDevice device, int? threads = null) =>
        device.CudaOrdinal is int ordinal ? CudaBackend.Open(ordinal) : new CpuBackend(threads);

    /// <summary>True for the exceptions that mean the device could not be opened or its kernels not built.</summary>
    public static bool IsDeviceFailure(Exception e) =>
        e is CudaUnavailableException or CudaException or KernelCompilationException or DirectoryNotFoundException or FileNotFoundException;
}
