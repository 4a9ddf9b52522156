using System.Text.Json;
using R1Orleans.Cluster.Ranks;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Grains.Ranks;

namespace R1Orleans.Cluster.Tests;

/// <summary>A request sent to another silo's rank, and the events it sends back, arrive exactly as they left.</summary>
public sealed class RankWireTests
{
    [Fact]
    public void Every_sampling_field_survives_the_trip_to_a_rank_bit_for_bit()
    {
        var sampling = new SamplingParams
        {
            Temperature = 0.7000001f,
            TopP = 0.93f,
            TopK = 17,
            MinP = 1e-7f,
            PresencePenalty = -0.3f,
            FrequencyPenalty = 0.1f,
            RepetitionPenalty = 1.05f,
            Seed = ulong.MaxValue - 3,
            MaxTokens = 321,
            Stop = ["\n\n", "END"],
            StopTokenIds = [5, 9],
            IgnoreEos = true,
            Logprobs = true,
            TopLogprobs = 4,
            SkipSpecialTokens = false,
        };
        RankRequest request = RankWire.Request(new EncodedPrompt([3, 1, 4], true, false), sampling);
        SamplingParams back = RankWire.Sampling(request);

        // Compared through JSON (the lists are compared by value there), and the floats by their bits.
        Assert.Equal(JsonSerializer.Serialize(sampling), JsonSerializer.Serialize(back));
        Assert.Equal(BitConverter.SingleToInt32Bits(sampling.Temperature), BitConverter.SingleToInt32Bits(back.Temperature));
        Assert.Equal(BitConverter.SingleToInt32Bits(sampling.MinP), BitConverter.SingleToInt32Bits(back.MinP));
        Assert.Equal(sampling.Seed, back.Seed);
        Assert.Equal(["\n\n", "END"], back.Stop);
        EncodedPrompt prompt = RankWire.Prompt(request);
        Assert.Equal([3, 1, 4], prompt.Tokens);
        Assert.True(prompt.OpensThink);
        Assert.False(prompt.SplitsReasoning);
    }

    [Fact]
    public void A_token_event_and_a_final_event_come_back_whole()
    {
        var token = new TextEvent(42, "ab", "a", "b", -0.25f, [new TokenLogprob(42, -0.25f), new TokenLogprob(7, -1.5f)], null, new Usage(10, 3));
        TextEvent t = RankWire.Event(RankWire.Event(token));
        Assert.Equal((token.Token, token.Text, token.Reasoning, token.Content, token.Logprob, token.Finish, token.Usage, token.Error), (t.Token, t.Text, t.Reasoning, t.Content, t.Logprob, t.Finish, t.Usage, t.Error));
        Assert.Equal(token.TopLogprobs, t.TopLogprobs);

        var last = new TextEvent(-1, "", "", "", null, null, FinishReason.Error, new Usage(10, 4), "the rank failed");
        TextEvent l = RankWire.Event(RankWire.Event(last));
        Assert.Equal(FinishReason.Error, l.Finish);
        Assert.Null(l.TopLogprobs);
        Assert.Null(l.Logprob);
        Assert.Equal("the rank failed", l.Error);
        Assert.Equal(new Usage(10, 4), l.Usage);
    }
}
