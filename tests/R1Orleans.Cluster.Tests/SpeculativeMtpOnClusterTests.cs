using R1Orleans.Checkpoint;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Placement;
using R1Orleans.Text.Chat;
using static R1Orleans.Cluster.Tests.DistributedEqualsSingleProcessTests;

namespace R1Orleans.Cluster.Tests;

/// <summary>MTP speculative decoding on a rank whose experts are spread over three silos: the MTP layer's MoE goes through the exchange too.</summary>
public sealed class SpeculativeMtpOnClusterTests
{
    [Fact]
    public async Task Speculative_mtp_decoding_on_a_three_silo_rank_gives_the_single_process_tokens()
    {
        string directory = Path.Combine(RepositoryRoot, "models", "r1orleans-tiny");
        ModelConfig config = ModelConfigOf(directory);
        ClusterMember[] members = Members(3);
        using var cluster = InMemoryCluster.Start(directory, PlacementPlanner.For(config).Plan(members));
        var options = new InferenceEngineOptions { KvCacheTokens = 4096, Threads = 1, Scheduler = new SchedulerConfig { SpeculativeMtp = true } };
        await using InferenceEngine single = InferenceEngine.Load(directory, options);
        await using InferenceEngine distributed = InferenceEngine.Load(directory, options with { Exchange = cluster.RankOn(members[^1]) });

        foreach (string question in (string[])["What is 47 + 385?", "What is 23 * 47?", "What is 905 + 96?"])
        {
            PromptInput input = PromptInput.FromMessages([ChatMessage.User(question)]);
            Assert.Equal(await Tokens(single, input), await Tokens(distributed, input));
        }

        Assert.True(distributed.Stats.DraftTokens > 0 && distributed.Stats.AcceptedDraftTokens > 0, "no draft token was accepted: MTP did not run");
        Assert.Equal(single.Stats.DraftTokens, distributed.Stats.DraftTokens);
        Assert.Equal(single.Stats.AcceptedDraftTokens, distributed.Stats.AcceptedDraftTokens);
        Assert.True(cluster.Exchanges.Single().Statistics.SentMessages > 0);
    }

    private static async Task<List<int>> Tokens(InferenceEngine engine, PromptInput input)
    {
        var tokens = new List<int>();
        await foreach (TextEvent e in engine.GenerateAsync(input, SamplingParams.Greedy(64)))
        {
            if (e.Token >= 0)
            {
                tokens.Add(e.Token);
            }
        }

        return tokens;
    }
}
