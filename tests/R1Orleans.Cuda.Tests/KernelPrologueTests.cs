using System.Text.RegularExpressions;

namespace R1Orleans.Cuda.Tests;

/// <summary>
/// A launch with programmatic serialization may start a kernel before the one ahead of it has finished; only
/// grid_dependency_sync (kernels/pdl.cuh) at the top of the kernel makes that safe. Every kernel must start with it.
/// </summary>
public partial class KernelPrologueTests
{
    [Fact]
    public void EveryKernel_StartsWithTheGridDependencySync()
    {
        var missing = new List<string>();
        int kernels = 0;
        foreach (string file in Directory.GetFiles(KernelSources.Folder(), "*.cu"))
        {
            string text = File.ReadAllText(file);
            foreach (Match m in Kernel().Matches(text))
            {
                kernels++;
                int body = text.IndexOf('{', m.Index);
                string first = FirstStatement(text, body + 1);
                if (first != "grid_dependency_sync();")
                {
                    missing.Add($"{Path.GetFileName(file)}: {Name(text, m.Index)} starts with '{first}'");
                }
            }
        }

        Assert.True(kernels >= 40, $"found only {kernels} kernels");
        Assert.Empty(missing);
    }

    [Fact]
    public void TheCheck_FindsAKernelWithoutTheSync()
    {
        const string Source = "extern \"C\" __global__ void k(float* x)\n{\n    x[0] = 1.f;\n}\n";
        Match m = Kernel().Match(Source);
        Assert.True(m.Success);
        Assert.Equal("x[0] = 1.f;", FirstStatement(Source, Source.IndexOf('{') + 1));
    }

    [Fact]
    public void EveryKernelFile_IncludesTheHeaderThatDefinesTheSync()
    {
        foreach (string file in Directory.GetFiles(KernelSources.Folder(), "*.cu"))
        {
            string text = File.ReadAllText(file);
            Assert.True(text.Contains("#include \"pdl.cuh\"", StringComparison.Ordinal) || text.Contains("#include \"common.cuh\"", StringComparison.Ordinal), $"{Path.GetFileName(file)} includes neither pdl.cuh nor common.cuh");
        }
    }

    /// <summary>The text up to the first ';' after <paramref name="from"/>, without whitespace and macro line continuations.</summary>
    private static string FirstStatement(string text, int from)
    {
        int end = text.IndexOf(';', from);
        return Regex.Replace(text[from..(end + 1)].Replace("\\\n", " ", StringComparison.Ordinal), @"\s+", " ").Trim();
    }

    private static string Name(string text, int at)
    {
        int paren = text.IndexOf('(', text.IndexOf("__global__", at, StringComparison.Ordinal) + 10);
        string head = text[at..paren];
        return head.Split([' ', '\n', '\\', ')'], StringSplitOptions.RemoveEmptyEntries)[^1];
    }

    [GeneratedRegex(@"extern ""C"" __global__")]
    private static partial Regex Kernel();
}
