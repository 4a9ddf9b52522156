namespace R1Orleans.Cuda.Tests;

public sealed class KernelCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "r1orleans-kernel-cache-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Key_ChangesWithEveryInput_AndIsStableOtherwise()
    {
        string[] opts = ["--std=c++17"];
        string k = KernelCache.Key("moe.cu", "src", "sm_90a", "13.0", opts);
        Assert.Equal(k, KernelCache.Key("moe.cu", "src", "sm_90a", "13.0", opts));
        string[] others =
        [
            KernelCache.Key("moe.cu", "src ", "sm_90a", "13.0", opts),
            KernelCache.Key("moe.cu", "src", "sm_90", "13.0", opts),
            KernelCache.Key("moe.cu", "src", "sm_90a", "12.8", opts),
            KernelCache.Key("moe.cu", "src", "sm_90a", "13.0", ["--std=c++20"]),
            KernelCache.Key("rms.cu", "src", "sm_90a", "13.0", opts),
        ];
        Assert.DoesNotContain(k, others);
        Assert.Equal(others.Length, others.Distinct().Count());
        Assert.StartsWith("moe-", k);
        Assert.EndsWith("-sm_90a-nvrtc13.0.cubin", k);
    }

    [Fact]
    public void GetOrAdd_CompilesOnce_ThenServesTheStoredImage()
    {
        var cache = new KernelCache(_dir);
        int compiles = 0;
        byte[] Compile()
        {
            compiles++;
            return [1, 2, 3, (byte)compiles];
        }

        byte[] first = cache.GetOrAdd("k-1.cubin", Compile, out bool hit1);
        byte[] second = new KernelCache(_dir).GetOrAdd("k-1.cubin", Compile, out bool hit2);
        Assert.False(hit1);
        Assert.True(hit2);
        Assert.Equal(1, compiles);
        Assert.Equal(first, second);
        Assert.Equal(["k-1.cubin"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void AnEmptyCachedFile_IsAMiss_AndIsReplaced()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllBytes(Path.Combine(_dir, "k.cubin"), []);
        byte[] image = new KernelCache(_dir).GetOrAdd("k.cubin", () => [9], out bool hit);
        Assert.False(hit);
        Assert.Equal([9], image);
        Assert.Equal([9], File.ReadAllBytes(Path.Combine(_dir, "k.cubin")));
    }

    [Fact]
    public void AFailedCompile_LeavesNothingInTheCache()
    {
        var cache = new KernelCache(_dir);
        Assert.Throws<KernelCompilationException>(() => cache.GetOrAdd("bad.cubin", () => throw new KernelCompilationException("bad.cu", "sm_90a", "error"), out _));
        Assert.False(Directory.Exists(_dir) && Directory.GetFiles(_dir).Length > 0);
    }
}
