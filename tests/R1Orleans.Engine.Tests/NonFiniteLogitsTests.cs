using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.TestSupport;

namespace R1Orleans.Engine.Tests;

/// <summary>A sequence whose logits turn NaN fails alone, with a clear error; the rest of its batch carries on.</summary>
public sealed class NonFiniteLogitsTests : IDisposable
{
    private const int Poisoned = 7;
    private readonly string _directory = PoisonedCheckpoint.Write(Poisoned);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Nan_logits_fail_only_their_request_and_the_batch_goes_on(bool speculativeMtp)
    {
        var config = new SchedulerConfig { SpeculativeMtp = speculativeMtp };
        int[] clean = [0, 5, 9, 12, 3, 40];
        SamplingParams greedy = SamplingParams.Greedy(8) with { IgnoreEos = true };
        int[] reference;
        using (EngineHarness alone = EngineHarness.ForDirectory(_directory, config))
        {
            alone.Submit("clean", clean, greedy);
            alone.RunToCompletion();
            reference = alone.Tokens("clean");
        }

        Assert.Equal(8, reference.Length);
        using EngineHarness h = EngineHarness.ForDirectory(_directory, config);
        h.Submit("nan-greedy", [0, 5, Poisoned, 9], greedy);
        h.Submit("clean", clean, greedy);
        h.Submit("nan-sampled", [0, Poisoned], new SamplingParams { Temperature = 0.8f, TopP = 0.9f, Seed = 1, MaxTokens = 8 });
        h.RunToCompletion();

        foreach (string id in new[] { "nan-greedy", "nan-sampled" })
        {
            GenerationEvent e = Assert.Single(h.Events(id));
            Assert.Equal(FinishReason.Error, e.Finish);
            Assert.Equal(-1, e.Token);
            Assert.Contains("non-finite", e.Error, StringComparison.Ordinal);
        }

        Assert.Equal(reference, h.Tokens("clean"));
        Assert.Equal(h.Cache.Allocator.Capacity, h.Cache.Allocator.FreeBlocks);
    }

    public void Dispose() => Directory.Delete(_directory, true);
}
