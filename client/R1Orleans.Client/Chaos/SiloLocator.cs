namespace R1Orleans.Client.Chaos;

/// <summary>
/// Finds the silo to start: the --silo path (an <c>r1-silo.dll</c>, run with <c>dotnet</c>, or an executable), else
/// <c>r1-silo.dll</c> beside this program (tests reference the silo so its binaries sit beside theirs), else the built silo
/// of the repository this program was built in: <c>silo/R1Orleans.Silo/bin/{Release,Debug}/net10.0/r1-silo.dll</c>, the
/// configuration this program was built with first.
/// </summary>
public static class SiloLocator
{
    public const string DllName = "r1-silo.dll";

    /// <summary>The silo's dll or executable; throws with what to build when none is found.</summary>
    public static string Find(string? option)
    {
        if (!string.IsNullOrWhiteSpace(option))
        {
            return File.Exists(option) ? Path.GetFullPath(option) : throw new FileNotFoundException($"--silo {option}: no such file");
        }

        string? found = Candidates(AppContext.BaseDirectory).FirstOrDefault(File.Exists);
        return found ?? throw new FileNotFoundException(
            "no built silo found beside r1 or in the repository's silo/R1Orleans.Silo/bin: build it (dotnet build -c Release silo/R1Orleans.Silo) or give --silo PATH");
    }

    /// <summary>Where the silo is looked for, in order, from a program directory.</summary>
    public static IEnumerable<string> Candidates(string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(baseDirectory);
        yield return Path.Combine(baseDirectory, DllName);
        string? repository = RepositoryRoot(baseDirectory);
        if (repository is null)
        {
            yield break;
        }

        string own = baseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        foreach (string configuration in (string[])[own, own == "Debug" ? "Release" : "Debug"])
        {
            yield return Path.Combine(repository, "silo", "R1Orleans.Silo", "bin", configuration, "net10.0", DllName);
        }
    }

    /// <summary>The command line that runs the silo: <c>dotnet PATH</c> for a dll, the file itself otherwise.</summary>
    public static (string FileName, string[] Prefix) Command(string silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (!silo.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return (silo, []);
        }

        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        return (dotnet, [silo]);
    }

    private static string? RepositoryRoot(string start)
    {
        for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "R1Orleans.sln")))
            {
                return d.FullName;
            }
        }

        return null;
    }
}
