using R1Orleans.Cuda.Forward;

namespace R1Orleans.Cuda.Tests;

public class ForwardKernelModulesTests
{
    [Fact]
    public void TheFastModules_HoldTheDecodeAttentionKernels()
    {
        // The fast forward builds an MlaDecode at V3's attention shapes; bench-engine's library once lacked its module.
        foreach (string m in MlaDecode.Modules)
        {
            Assert.Contains(m, ForwardKernels.Modules);
        }
    }

    [Fact]
    public void EveryModuleNamed_IsAKernelFile()
    {
        foreach (string m in ForwardKernels.Modules.Concat(ForwardKernels.CoreModules))
        {
            Assert.True(File.Exists(Path.Combine(KernelSources.Folder(), m + ".cu")), $"kernels/{m}.cu");
        }
    }
}
