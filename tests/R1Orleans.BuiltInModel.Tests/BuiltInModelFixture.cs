namespace R1Orleans.BuiltInModel.Tests;

/// <summary>The built-in model generated once per test run into a temporary cache directory.</summary>
public sealed class BuiltInModelFixture : IDisposable
{
    public BuiltInModelFixture()
    {
        CacheDirectory = Directory.CreateTempSubdirectory("r1-builtin-cache-").FullName;
        ModelDirectory = BuiltInModel.EnsureCreated(CacheDirectory);
    }

    public string CacheDirectory { get; }

    public string ModelDirectory { get; }

    public void Dispose() => Directory.Delete(CacheDirectory, recursive: true);
}
