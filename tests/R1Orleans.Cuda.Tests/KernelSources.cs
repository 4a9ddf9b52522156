namespace R1Orleans.Cuda.Tests;

/// <summary>The repository's kernels/*.cu, found above the test binaries (tests read the sources the host code launches).</summary>
internal static class KernelSources
{
    /// <summary>The kernels folder (the one with mla_decode.cu).</summary>
    public static string Folder()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string path = Path.Combine(d.FullName, "kernels");
            if (File.Exists(Path.Combine(path, "mla_decode.cu")))
            {
                return path;
            }
        }

        throw new DirectoryNotFoundException("no kernels/ above the test binaries");
    }

    public static string Read(string file)
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string path = Path.Combine(d.FullName, "kernels", file);
            if (File.Exists(path))
            {
                return File.ReadAllText(path);
            }
        }

        throw new FileNotFoundException($"no kernels/{file} above the test binaries", file);
    }
}
