namespace R1Orleans.Cuda.Tests;

/// <summary>Both tests touch R1ORLEANS_KERNELS, so they live in one class (xunit runs a class's tests one at a time).</summary>
public class KernelFolderTests
{
    [Fact]
    public void The_repository_kernels_folder_holds_every_module_and_kernel_CudaBackend_loads()
    {
        string? saved = Environment.GetEnvironmentVariable(KernelFolder.Variable);
        Environment.SetEnvironmentVariable(KernelFolder.Variable, null);
        try
        {
            string folder = KernelFolder.Find();
            foreach ((string module, string kernel) in new[]
            {
                ("linear", "linear_gemv"), ("linear", "linear_tiled"), ("rmsnorm", "rmsnorm"), ("silu_mul", "silu_mul"), ("mla_attention", "mla_attention"),
            })
            {
                Assert.Contains(module, CudaBackend.Modules);
                string source = File.ReadAllText(Path.Combine(folder, module + ".cu"));
                Assert.Matches($@"extern ""C"" __global__ void __launch_bounds__\(\w+\)\s+{kernel}\(", source);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(KernelFolder.Variable, saved);
        }
    }

    [Fact]
    public void The_variable_wins_and_a_folder_without_kernels_is_refused_naming_it()
    {
        string? saved = Environment.GetEnvironmentVariable(KernelFolder.Variable);
        string empty = Directory.CreateTempSubdirectory("r1-kernels-").FullName;
        try
        {
            Environment.SetEnvironmentVariable(KernelFolder.Variable, empty);
            DirectoryNotFoundException e = Assert.Throws<DirectoryNotFoundException>(KernelFolder.Find);
            Assert.Contains($"{KernelFolder.Variable} is '{empty}'", e.Message, StringComparison.Ordinal);

            File.WriteAllText(Path.Combine(empty, "k.cu"), "extern \"C\" __global__ void k() {}");
            Assert.Equal(empty, KernelFolder.Find());
        }
        finally
        {
            Environment.SetEnvironmentVariable(KernelFolder.Variable, saved);
            Directory.Delete(empty, recursive: true);
        }
    }
}
