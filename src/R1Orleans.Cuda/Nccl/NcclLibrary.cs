using System.Runtime.InteropServices;
using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// Finds and loads NCCL (libnccl.so.2): the file named by <see cref="PathVariable"/> when set (then only that one), else
/// the loader's search path, the CUDA toolkit's folders and the pip wheel's nvidia/nccl/lib (as PyTorch installs it).
/// A machine without it gets a <see cref="CudaUnavailableException"/> that lists what was tried and says what to install.
/// </summary>
public static class NcclLibrary
{
    /// <summary>The name the <c>[LibraryImport]</c> declarations use; the CUDA resolver maps it to the loaded handle.</summary>
    public const string LogicalName = "r1orleans-nccl";

    public const string FileName = "libnccl.so.2";

    /// <summary>Environment variable naming the libnccl.so.2 file to load (only it is tried when set).</summary>
    public const string PathVariable = "R1ORLEANS_NCCL";

    /// <summary>Folders tried after the loader's search path.</summary>
    public static readonly string[] Folders = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu"];

    private static readonly object s_gate = new();
    private static nint s_handle;

    /// <summary>Whether NCCL is loaded in this process.</summary>
    public static bool IsLoaded => Volatile.Read(ref s_handle) != 0;

    /// <summary>The file NCCL was loaded from (empty until loaded).</summary>
    public static string LoadedFrom { get; private set; } = "";

    internal static nint Handle => Volatile.Read(ref s_handle);

    /// <summary>Loads NCCL once per process, or throws <see cref="CudaUnavailableException"/> saying what to install.</summary>
    public static void Load()
    {
        lock (s_gate)
        {
            if (s_handle != 0)
            {
                return;
            }

            CudaLibraries.RegisterResolver();
            nint handle = Probe(Candidates(Environment.GetEnvironmentVariable(PathVariable)), out string from);
            LoadedFrom = from;
            Volatile.Write(ref s_handle, handle);
        }
    }

    /// <summary>The loaded library's version (ncclGetVersion: 22809 for 2.28.9).</summary>
    public static int Version()
    {
        Load();
        NcclStatus.Check(NcclApi.ncclGetVersion(out int version), "ncclGetVersion");
        return version;
    }

    /// <summary>
    /// The files to try, in order: <paramref name="explicitPath"/> alone when given; else libnccl.so.2 by name, the
    /// CUDA folders ($CUDA_HOME/lib64 first), then every Python site-packages' nvidia/nccl/lib that exists.
    /// </summary>
    public static IReadOnlyList<string> Candidates(string? explicitPath)
    {
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            return [explicitPath];
        }

        var files = new List<string> { FileName };
        string? home = Environment.GetEnvironmentVariable("CUDA_HOME") ?? Environment.GetEnvironmentVariable("CUDA_PATH");
        IEnumerable<string> folders = string.IsNullOrWhiteSpace(home) ? Folders : Folders.Prepend(Path.Combine(home, "lib64"));
        files.AddRange(folders.Select(f => Path.Combine(f, FileName)));
        files.AddRange(PipWheelFolders().Select(f => Path.Combine(f, FileName)));
        return files;
    }

    /// <summary>Loads the first candidate that loads (not cached; <see cref="Load"/> caches), or throws saying what to install.</summary>
    internal static nint Probe(IReadOnlyList<string> candidates, out string loadedFrom)
    {
        foreach (string candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out nint handle))
            {
                loadedFrom = candidate;
                return handle;
            }
        }

        throw new CudaUnavailableException(
            $"NCCL ({FileName}) was not found; tried {string.Join(", ", candidates)}. Install NCCL 2.28 or later for your CUDA " +
            $"version: NVIDIA's libnccl2 package from the CUDA apt repository (apt install libnccl2), or pip install nvidia-nccl-cu12 " +
            $"(or nvidia-nccl-cu13), which PyTorch also brings; or set {PathVariable} to libnccl.so.2's path. The CPU expert " +
            "exchange (UCX or Orleans) needs no NCCL");
    }

    /// <summary>nvidia/nccl/lib (or nvidia/cu13/lib) under this machine's Python package folders that have one (pip's nvidia-nccl-cu12/cu13 wheels).</summary>
    private static IEnumerable<string> PipWheelFolders()
    {
        var roots = new List<string> { "/usr/lib/python3/dist-packages" };
        foreach (string prefix in new[] { "/usr/local/lib", "/usr/lib", Environment.GetEnvironmentVariable("VIRTUAL_ENV") is { Length: > 0 } venv ? Path.Combine(venv, "lib") : "", Environment.GetEnvironmentVariable("CONDA_PREFIX") is { Length: > 0 } conda ? Path.Combine(conda, "lib") : "", Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "lib") })
        {
            if (prefix.Length == 0 || !Directory.Exists(prefix))
            {
                continue;
            }

            foreach (string python in Directory.EnumerateDirectories(prefix, "python3*").Order(StringComparer.Ordinal))
            {
                roots.Add(Path.Combine(python, "site-packages"));
                roots.Add(Path.Combine(python, "dist-packages"));
            }
        }

        return roots.SelectMany(r => new[] { Path.Combine(r, "nvidia", "nccl", "lib"), Path.Combine(r, "nvidia", "cu13", "lib") })
            .Where(Directory.Exists).Distinct(StringComparer.Ordinal);
    }
}
