using R1Orleans.Backend;
using R1Orleans.Engine;
using R1Orleans.TestSupport;

namespace R1Orleans.Conformance.Tests;

/// <summary>A sequence's greedy output does not depend on what else is in its batch, and decoding frees its blocks.</summary>
public sealed class GreedyBatchingTests
{
    [Theory]
    [InlineData("tiny-bf16-yarn")]
    [InlineData("small-fp8-sharded-mtp")]
    public void Greedy_tokens_alone_equal_greedy_tokens_batched_and_the_reference(string name)
    {
        string dir = GoldenDirectory.Case(name);
        GoldenCase golden = GoldenCase.Load(dir);
        using LoadedModel model = LoadedModel.Load(dir, new CpuBackend());
        PagedLatentCache cache = model.NewCache(1024, blockSize: 8);
        var prompts = golden.Prompts.Select(p => p.Tokens).ToList();
        int g = golden.Prompts.Min(p => p.Greedy.Length);
        var generator = new GreedyGenerator(model.Model, cache);

        IReadOnlyList<int[]> batched = generator.Generate(prompts, g);
        for (int i = 0; i < prompts.Count; i++)
        {
            int[] alone = generator.Generate([prompts[i]], g)[0];
            Assert.Equal(batched[i], alone);
            Assert.Equal(golden.Prompts[i].Greedy[..g], alone);
        }

        Assert.Equal(cache.Allocator.Capacity, cache.Allocator.FreeBlocks);
    }

    [Fact]
    public void Generation_that_does_not_fit_the_cache_fails_clearly_and_leaks_nothing()
    {
        string dir = GoldenDirectory.Case("tiny-noqlora-ungrouped");
        using LoadedModel model = LoadedModel.Load(dir, new CpuBackend());
        PagedLatentCache cache = model.NewCache(16, blockSize: 4);
        var generator = new GreedyGenerator(model.Model, cache);
        var e = Assert.Throws<InvalidOperationException>(() => generator.Generate([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3]], 4));
        Assert.Contains("cache is full", e.Message, StringComparison.Ordinal);
        Assert.Equal(cache.Allocator.Capacity, cache.Allocator.FreeBlocks);
    }
}
