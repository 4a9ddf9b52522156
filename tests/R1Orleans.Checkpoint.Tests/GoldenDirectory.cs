namespace R1Orleans.TestSupport;

/// <summary>
/// Finds the golden cases (../shared/golden beside the repository clone). Set R1ORLEANS_GOLDEN to point elsewhere.
/// A missing golden directory is a test failure with a clear message, never a skip. Internal so that several test
/// projects can link this file (&lt;Compile Include="..\R1Orleans.Checkpoint.Tests\GoldenDirectory.cs" /&gt;).
/// </summary>
internal static class GoldenDirectory
{
    public const string EnvironmentVariable = "R1ORLEANS_GOLDEN";

    private static readonly Lazy<string> s_root = new(Locate);

    /// <summary>The golden directory (absolute).</summary>
    public static string Root => s_root.Value;

    /// <summary>The model cases: subdirectories holding a config.json.</summary>
    public static IReadOnlyList<string> ModelCaseNames =>
        Directory.EnumerateDirectories(Root)
            .Where(d => File.Exists(Path.Combine(d, "config.json")))
            .Select(d => Path.GetFileName(d)!)
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The directory of one case, which must exist.</summary>
    public static string Case(string name)
    {
        string dir = Path.Combine(Root, name);
        if (!Directory.Exists(dir))
        {
            throw new DirectoryNotFoundException($"golden case '{name}' not found: {dir} does not exist (golden root {Root})");
        }

        return dir;
    }

    private static string Locate()
    {
        string? fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            string full = Path.GetFullPath(fromEnv);
            return Directory.Exists(full)
                ? full
                : throw new DirectoryNotFoundException($"{EnvironmentVariable} is set to '{fromEnv}', which is not a directory");
        }

        var searched = new List<string>();
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "golden");
            searched.Add(candidate);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException(
            "golden cases not found: expected a 'shared/golden' directory beside the repository clone (e.g. /work/shared/golden "
            + $"for a clone at /work/main), or set {EnvironmentVariable}. Looked in: {string.Join(", ", searched)}");
    }
}
