namespace R1Orleans.Cuda;

/// <summary>
/// Finds the folder of kernels/*.cu a program compiles at start: <c>R1ORLEANS_KERNELS</c>, then a <c>kernels</c>
/// folder beside the program (the build copies them there), then one in the current directory or any folder above it.
/// </summary>
public static class KernelFolder
{
    public const string Variable = "R1ORLEANS_KERNELS";

    public static string Find()
    {
        string? explicitFolder = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrWhiteSpace(explicitFolder))
        {
            return HasKernels(explicitFolder)
                ? explicitFolder
                : throw new DirectoryNotFoundException($"{Variable} is '{explicitFolder}', which holds no *.cu kernels");
        }

        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
            {
                string k = Path.Combine(d.FullName, "kernels");
                if (HasKernels(k))
                {
                    return k;
                }
            }
        }

        throw new DirectoryNotFoundException($"no kernels/*.cu folder beside the program or above the current directory; set {Variable} to the repository's kernels folder");
    }

    private static bool HasKernels(string folder) => Directory.Exists(folder) && Directory.GetFiles(folder, "*.cu").Length > 0;
}
