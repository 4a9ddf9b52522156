namespace R1Orleans.Cuda;

/// <summary>
/// The kernels/*.cu files of one folder, compiled with NVRTC for a device's architecture (through a
/// <see cref="KernelCache"/>) and loaded as modules into its context.
/// </summary>
public sealed class KernelLibrary : IDisposable
{
    private readonly Dictionary<string, CudaModule> _modules;

    private KernelLibrary(Dictionary<string, CudaModule> modules, IReadOnlyList<string> log)
    {
        _modules = modules;
        Log = log;
    }

    /// <summary>One line per file: compiled or taken from the cache, and how long it took.</summary>
    public IReadOnlyList<string> Log { get; }

    /// <summary>
    /// Compiles (or takes from the cache) every .cu file in <paramref name="folder"/> for <paramref name="architecture"/>,
    /// or only the modules (file stems) named in <paramref name="modules"/> when it is not empty.
    /// </summary>
    public static IReadOnlyDictionary<string, byte[]> CompileFolder(string folder, string architecture, KernelCache cache, List<string> log, params IReadOnlyCollection<string> modules)
    {
        string version = KernelCompiler.Version();
        string[] options = KernelCompiler.Options(architecture);
        var images = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        string[] files = System.IO.Directory.GetFiles(folder, "*.cu");
        if (files.Length == 0)
        {
            throw new FileNotFoundException($"no kernels (*.cu) in {folder}");
        }

        if (modules.Count > 0)
        {
            string[] missing = [.. modules.Where(m => !files.Any(f => Path.GetFileNameWithoutExtension(f) == m))];
            if (missing.Length > 0)
            {
                throw new FileNotFoundException($"{folder} has no {string.Join(", ", missing.Select(m => m + ".cu"))}");
            }

            files = [.. files.Where(f => modules.Contains(Path.GetFileNameWithoutExtension(f)))];
        }

        // Shared device helpers (kernels/*.cuh) are offered to every module; they are part of every module's cache key.
        var headers = System.IO.Directory.GetFiles(folder, "*.cuh").Order(StringComparer.Ordinal).ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
        string headerText = string.Concat(headers.Select(h => $"\n// {h.Key}\n{h.Value}"));
        foreach (string file in files.Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(file);
            string source = File.ReadAllText(file);
            string key = KernelCache.Key(name, source + headerText, architecture, version, options);
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            byte[] image = cache.GetOrAdd(key, () => KernelCompiler.Compile(name, source, architecture, headers), out bool hit);
            double ms = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            log.Add($"{name}: {(hit ? "cache hit" : "compiled")} for {architecture} with NVRTC {version} in {ms:F0} ms ({image.Length} bytes, {key})");
            images[Path.GetFileNameWithoutExtension(name)] = image;
        }

        return images;
    }

    /// <summary>Compiles every kernels/*.cu (or only the modules named in <paramref name="only"/>) for the context's device and loads the modules.</summary>
    public static KernelLibrary Load(CudaContext context, string folder, KernelCache cache, params IReadOnlyCollection<string> only)
    {
        var log = new List<string>();
        IReadOnlyDictionary<string, byte[]> images = CompileFolder(folder, context.ComputeCapability.NvrtcArchitecture, cache, log, only);
        var modules = new Dictionary<string, CudaModule>(StringComparer.Ordinal);
        try
        {
            foreach ((string name, byte[] image) in images)
            {
                modules[name] = context.LoadModule(image, name);
            }
        }
        catch
        {
            foreach (CudaModule m in modules.Values)
            {
                m.Dispose();
            }

            throw;
        }

        return new KernelLibrary(modules, log);
    }

    /// <summary>The kernel <paramref name="kernel"/> of module (file stem) <paramref name="module"/>.</summary>
    public CudaKernel Kernel(string module, string kernel) =>
        _modules.TryGetValue(module, out CudaModule? m)
            ? m.Kernel(kernel)
            : throw new KeyNotFoundException($"no kernel module '{module}' (have {string.Join(", ", _modules.Keys)})");

    public void Dispose()
    {
        foreach (CudaModule m in _modules.Values)
        {
            m.Dispose();
        }
    }
}
