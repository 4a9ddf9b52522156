using R1Orleans.Cuda;

namespace R1Orleans.Silo.Startup;

/// <summary>
/// Opens the CUDA device that Model:Device names, and loads NVRTC, once before Orleans starts: a machine without the
/// driver (or the device, or NVRTC) stops within a second with one message saying what to install (exit code 1),
/// instead of failing the model's load later. Nothing to do for cpu.
/// </summary>
public static class DeviceProbe
{
    public static void EnsureAvailable(string? device)
    {
        ComputeDevice where = ComputeDevice.Parse(device);
        if (where.CudaOrdinal is not int ordinal)
        {
            return;
        }

        try
        {
            using CudaContext context = CudaContext.Open(ordinal);
            _ = KernelCompiler.Version();
        }
        catch (Exception e) when (e is CudaUnavailableException or CudaException)
        {
            throw new StartupException($"--device {where}: {e.Message}", e);
        }
    }
}
