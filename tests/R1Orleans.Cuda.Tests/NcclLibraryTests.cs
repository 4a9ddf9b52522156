using R1Orleans.Cuda.Nccl;

namespace R1Orleans.Cuda.Tests;

public class NcclLibraryTests
{
    [Fact]
    public void A_missing_override_file_fails_with_what_was_tried_and_what_to_install()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"r1orleans-no-nccl-{Guid.NewGuid():N}", "libnccl.so.2");

        CudaUnavailableException e = Assert.Throws<CudaUnavailableException>(() => NcclLibrary.Probe(NcclLibrary.Candidates(missing), out _));

        Assert.StartsWith("NCCL (libnccl.so.2) was not found; tried " + missing + ".", e.Message, StringComparison.Ordinal);
        Assert.Contains("apt install libnccl2", e.Message, StringComparison.Ordinal);
        Assert.Contains("pip install nvidia-nccl-cu12", e.Message, StringComparison.Ordinal);
        Assert.Contains(NcclLibrary.PathVariable, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_override_is_the_only_candidate_when_set()
    {
        Assert.Equal(["/opt/nccl/lib/libnccl.so.2"], NcclLibrary.Candidates("/opt/nccl/lib/libnccl.so.2"));
    }

    [Fact]
    public void Without_an_override_the_loaders_name_comes_first_then_the_cuda_folders()
    {
        IReadOnlyList<string> candidates = NcclLibrary.Candidates(null);

        Assert.Equal("libnccl.so.2", candidates[0]);
        Assert.Contains("/usr/local/cuda/lib64/libnccl.so.2", candidates);
        Assert.All(candidates.Skip(1), c => Assert.EndsWith("/libnccl.so.2", c, StringComparison.Ordinal));
    }

    [Fact]
    public void Loading_nccl_gives_its_version_or_says_what_to_install()
    {
        int version;
        try
        {
            version = NcclLibrary.Version();
        }
        catch (CudaUnavailableException e)
        {
            Assert.Contains("NCCL (libnccl.so.2) was not found", e.Message, StringComparison.Ordinal);
            Assert.False(NcclLibrary.IsLoaded);
            return;
        }

        Assert.True(NcclLibrary.IsLoaded);
        Assert.InRange(version, 20000, 99999);
        Assert.False(string.IsNullOrEmpty(NcclLibrary.LoadedFrom));
    }
}
