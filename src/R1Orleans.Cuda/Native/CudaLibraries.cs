using System.Reflection;
using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Native;

/// <summary>
/// Finds and loads the native CUDA libraries: the driver (libcuda.so.1) and NVRTC (CUDA 13, then 12); NCCL through
/// <see cref="Nccl.NcclLibrary"/>, whose logical name the same resolver maps. The
/// <c>[LibraryImport]</c> declarations name the logical libraries <see cref="Driver"/> and <see cref="Nvrtc"/>; the
/// resolver maps them to the handles loaded here, so a missing library fails with a message that says what to install.
/// </summary>
internal static class CudaLibraries
{
    public const string Driver = "r1orleans-cuda-driver";

    public const string Nvrtc = "r1orleans-nvrtc";

    /// <summary>Environment variable naming an NVRTC library file to load before the probed names.</summary>
    public const string NvrtcPathVariable = "R1ORLEANS_NVRTC";

    public const string DriverFile = "libcuda.so.1";

    /// <summary>What a machine without the driver is told (CI checks it through r1 golden and r1-silo).</summary>
    public const string DriverMissingMessage =
        "no CUDA driver was found (" + DriverFile + "); install the NVIDIA driver, which provides it (e.g. apt install nvidia-driver-580, " +
        "or libnvidia-compute-580 in a container started with the NVIDIA Container Toolkit), or run with --device cpu";

    /// <summary>NVRTC names in probe order: CUDA 13, then 12, then an unversioned link.</summary>
    public static readonly string[] NvrtcFiles = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"];

    /// <summary>Folders tried for NVRTC when the loader's search path does not find it.</summary>
    public static readonly string[] NvrtcFolders = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu"];

    private static readonly object s_gate = new();
    private static nint s_driver;
    private static nint s_nvrtc;
    private static bool s_resolverSet;

    /// <summary>Loads libcuda.so.1, or throws <see cref="CudaUnavailableException"/>.</summary>
    public static void LoadDriver()
    {
        lock (s_gate)
        {
            EnsureResolver();
            if (s_driver != 0)
            {
                return;
            }

            if (!NativeLibrary.TryLoad(DriverFile, out s_driver))
            {
                s_driver = 0;
                throw new CudaUnavailableException(
                    DriverMissingMessage);
            }
        }
    }

    /// <summary>Loads NVRTC (R1ORLEANS_NVRTC, then CUDA 13, 12, unversioned), or throws <see cref="CudaUnavailableException"/>.</summary>
    public static string LoadNvrtc()
    {
        lock (s_gate)
        {
            EnsureResolver();
            if (s_nvrtc != 0)
            {
                return NvrtcLoadedFrom;
            }

            var tried = new List<string>();
            foreach (string candidate in NvrtcCandidates())
            {
                tried.Add(candidate);
                if (NativeLibrary.TryLoad(candidate, out nint h))
                {
                    s_nvrtc = h;
                    NvrtcLoadedFrom = candidate;
                    return candidate;
                }
            }

            throw new CudaUnavailableException(
                $"NVRTC (the CUDA runtime compiler) was not found; tried {string.Join(", ", tried)}. Install the CUDA toolkit's " +
                $"NVRTC for CUDA 13 or 12 (e.g. the cuda-nvrtc-13-0 package, or pip's nvidia-cuda-nvrtc), or set {NvrtcPathVariable} to libnvrtc.so's path");
        }
    }

    public static string NvrtcLoadedFrom { get; private set; } = "";

    /// <summary>The NVRTC files to try, in order.</summary>
    public static IEnumerable<string> NvrtcCandidates()
    {
        string? explicitPath = Environment.GetEnvironmentVariable(NvrtcPathVariable);
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            yield return explicitPath;
        }

        foreach (string name in NvrtcFiles)
        {
            yield return name;
        }

        string? home = Environment.GetEnvironmentVariable("CUDA_HOME") ?? Environment.GetEnvironmentVariable("CUDA_PATH");
        IEnumerable<string> folders = string.IsNullOrWhiteSpace(home) ? NvrtcFolders : NvrtcFolders.Prepend(Path.Combine(home, "lib64"));
        foreach (string folder in folders)
        {
            foreach (string name in NvrtcFiles)
            {
                yield return Path.Combine(folder, name);
            }
        }
    }

    /// <summary>Sets the assembly's import resolver (once; <see cref="Nccl.NcclLibrary"/> shares it).</summary>
    internal static void RegisterResolver()
    {
        lock (s_gate)
        {
            EnsureResolver();
        }
    }

    private static void EnsureResolver()
    {
        if (!s_resolverSet)
        {
            NativeLibrary.SetDllImportResolver(typeof(CudaLibraries).Assembly, Resolve);
            s_resolverSet = true;
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        name switch
        {
            Driver => s_driver,
            Nvrtc => s_nvrtc,
            Nccl.NcclLibrary.LogicalName => Nccl.NcclLibrary.Handle,
            _ => 0,
        };
}
