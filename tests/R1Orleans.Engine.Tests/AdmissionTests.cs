using System.Threading.Channels;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Engine.Tests;

/// <summary>Admission counts the engine's capacity: waiting places plus free running slots.</summary>
public sealed class AdmissionTests
{
    [Fact]
    public void A_burst_fills_free_running_slots_before_the_waiting_limit_applies()
    {
        // MaxWaiting 2 + MaxNumSeqs 4: six requests submitted before any step are all taken, the seventh is refused.
        using var h = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig { MaxWaiting = 2, MaxNumSeqs = 4 });
        int[] prompt = h.Golden.Prompts[0].Tokens;
        for (int i = 0; i < 6; i++)
        {
            h.Submit($"r{i}", prompt, SamplingParams.Greedy(2));
        }

        var sink = Channel.CreateUnbounded<GenerationEvent>();
        EngineOverloadedException e = Assert.Throws<EngineOverloadedException>(() => h.Core.Submit(new GenerationRequest("r6", prompt, SamplingParams.Greedy(2)), sink.Writer));
        Assert.Contains("limit 2 waiting + 4 running", e.Message, StringComparison.Ordinal);

        h.RunToCompletion();
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(2, h.Tokens($"r{i}").Length);
        }
    }
}
