using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda.Tests;

public class NvrtcTests
{
    [Fact]
    public void Probe_TriesCuda13_ThenCuda12_ThenTheUnversionedName()
    {
        string[] names = CudaLibraries.NvrtcCandidates().Where(c => !c.Contains('/')).ToArray();
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"], names.Where(n => n.StartsWith("libnvrtc", StringComparison.Ordinal)).Take(3));
    }

    [Fact]
    public void Compile_ProducesACubin_OrSaysWhatToInstall_WhenNvrtcIsMissing()
    {
        const string Source = "extern \"C\" __global__ void add_one(float* x, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] += 1.0f; }";
        string version;
        try
        {
            version = KernelCompiler.Version();
        }
        catch (CudaUnavailableException e)
        {
            Assert.Contains("libnvrtc.so.13", e.Message);
            Assert.Contains("libnvrtc.so.12", e.Message);
            Assert.Contains("Install the CUDA toolkit's NVRTC", e.Message);
            Assert.Contains(CudaLibraries.NvrtcPathVariable, e.Message);
            return;
        }

        Assert.Matches(@"^\d+\.\d+$", version);
        byte[] cubin = KernelCompiler.Compile("add_one.cu", Source, "sm_80");
        Assert.Equal(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }, cubin[..4]);
    }

    [Fact]
    public void ACompileError_CarriesTheCompilerLog_OrNvrtcIsReportedMissing()
    {
        try
        {
            KernelCompiler.Version();
        }
        catch (CudaUnavailableException e)
        {
            Assert.Contains("NVRTC", e.Message);
            return;
        }

        KernelCompilationException error = Assert.Throws<KernelCompilationException>(
            () => KernelCompiler.Compile("broken.cu", "extern \"C\" __global__ void k() { undeclared_name = 1; }", "sm_80"));
        Assert.Contains("undeclared_name", error.Log);
        Assert.Contains("broken.cu", error.Message);
    }

    [Fact]
    public void A_source_includes_a_shared_header_by_name_OrNvrtcIsReportedMissing()
    {
        try
        {
            KernelCompiler.Version();
        }
        catch (CudaUnavailableException e)
        {
            Assert.Contains("NVRTC", e.Message);
            return;
        }

        const string Source = "#include \"twice.cuh\"\nextern \"C\" __global__ void k(float* x) { x[threadIdx.x] = twice(x[threadIdx.x]); }";
        var headers = new Dictionary<string, string> { ["twice.cuh"] = "#pragma once\n__device__ __forceinline__ float twice(float v) { return 2.0f * v; }\n" };
        byte[] cubin = KernelCompiler.Compile("uses_header.cu", Source, "sm_80", headers);
        Assert.Equal(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }, cubin[..4]);

        // Without the header the same source does not compile, and the log names what is missing.
        KernelCompilationException error = Assert.Throws<KernelCompilationException>(() => KernelCompiler.Compile("uses_header.cu", Source, "sm_80"));
        Assert.Contains("twice.cuh", error.Log);
    }
}
