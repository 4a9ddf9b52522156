using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using Xunit.Abstractions;

namespace R1Orleans.Engine.Tests;

public sealed class ContinuousBatchingTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("tiny-bf16-yarn")]
    [InlineData("small-fp8-sharded-mtp")]
    [InlineData("tiny-noqlora-ungrouped")]
    public void Greedy_output_in_a_mixed_chunked_batch_equals_the_reference(string name)
    {
        // A 16-token budget chunks every longer prompt; seeded sampled requests share the batch.
        using var h = new EngineHarness(name, new SchedulerConfig { MaxNumBatchedTokens = 16 });
        var golden = h.Golden.Prompts;
        for (int i = 0; i < golden.Count; i++)
        {
            h.Submit($"g{i}", golden[i].Tokens, SamplingParams.Greedy(golden[i].Greedy.Length));
            h.Submit($"s{i}", golden[i].Tokens[..Math.Max(1, golden[i].Tokens.Length / 2)], new SamplingParams { Temperature = 0.9f, TopP = 0.9f, Seed = (ulong)i, MaxTokens = 7, IgnoreEos = true });
        }

        h.RunToCompletion();
        for (int i = 0; i < golden.Count; i++)
        {
            Assert.Equal(golden[i].Greedy, h.Tokens($"g{i}"));
            Assert.Equal(7, h.Tokens($"s{i}").Length);
        }

        Assert.Equal(h.Cache.Allocator.Capacity, h.Cache.Allocator.FreeBlocks);
    }

    [Fact]
    public void Preempted_requests_are_recomputed_and_keep_their_greedy_output()
    {
        // 30 tokens each: 33 blocks of 8 would be needed at once, the cache has 24; the longest fits alone.
        const int n = 30;
        int[][] reference;
        using (var roomy = new EngineHarness("small-fp8-sharded-mtp", new SchedulerConfig()))
        {
            for (int i = 0; i < roomy.Golden.Prompts.Count; i++)
            {
                roomy.Submit($"g{i}", roomy.Golden.Prompts[i].Tokens, SamplingParams.Greedy(n) with { IgnoreEos = true });
            }

            roomy.RunToCompletion();
            Assert.Equal(0, roomy.Core.Stats.Preemptions);
            reference = Enumerable.Range(0, roomy.Golden.Prompts.Count).Select(i => roomy.Tokens($"g{i}")).ToArray();
        }

        using var h = new EngineHarness("small-fp8-sharded-mtp", new SchedulerConfig(), kvTokens: 192, blockSize: 8);
        var golden = h.Golden.Prompts;
        for (int i = 0; i < golden.Count; i++)
        {
            h.Submit($"g{i}", golden[i].Tokens, SamplingParams.Greedy(n) with { IgnoreEos = true });
        }

        h.RunToCompletion();
        output.WriteLine($"preemptions: {h.Core.Stats.Preemptions}");
        Assert.True(h.Core.Stats.Preemptions > 0, "the cache was meant to be too small for all requests at once");
        for (int i = 0; i < golden.Count; i++)
        {
            int[] tokens = h.Tokens($"g{i}");
            Assert.Equal(reference[i], tokens);
            Assert.Equal(golden[i].Greedy, tokens[..golden[i].Greedy.Length]);
        }

        Assert.Equal(h.Cache.Allocator.Capacity, h.Cache.Allocator.FreeBlocks);
    }

    [Theory]
    [InlineData("small-fp8-sharded-mtp")]
    public void Mtp_speculative_decoding_leaves_greedy_output_unchanged(string name)
    {
        using var h = new EngineHarness(name, new SchedulerConfig { SpeculativeMtp = true, MaxNumBatchedTokens = 32 });
        var golden = h.Golden.Prompts;
        for (int i = 0; i < golden.Count; i++)
        {
            h.Submit($"g{i}", golden[i].Tokens, SamplingParams.Greedy(golden[i].Greedy.Length));
        }

        h.RunToCompletion();
        EngineStats stats = h.Core.Stats;
        output.WriteLine($"drafted {stats.DraftTokens}, accepted {stats.AcceptedDraftTokens} ({stats.AcceptanceRate:P1})");
        Assert.True(stats.DraftTokens > 0);
        for (int i = 0; i < golden.Count; i++)
        {
            Assert.Equal(golden[i].Greedy, h.Tokens($"g{i}"));
        }

        Assert.Equal(h.Cache.Allocator.Capacity, h.Cache.Allocator.FreeBlocks);
    }

    [Fact]
    public void Same_seed_gives_the_same_tokens_alone_or_batched()
    {
        var sampling = new SamplingParams { Temperature = 1f, TopK = 50, MinP = 0.01f, Seed = 1234, MaxTokens = 12, IgnoreEos = true, FrequencyPenalty = 0.5f };
        int[] alone;
        using (var h = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig()))
        {
            h.Submit("a", h.Golden.Prompts[1].Tokens, sampling);
            h.RunToCompletion();
            alone = h.Tokens("a");
        }

        using (var h = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig { MaxNumBatchedTokens = 8 }))
        {
            h.Submit("x", h.Golden.Prompts[0].Tokens, sampling with { Seed = 99 });
            h.Submit("a", h.Golden.Prompts[1].Tokens, sampling);
            h.Submit("y", h.Golden.Prompts[2].Tokens, SamplingParams.Greedy(5));
            h.Submit("z", h.Golden.Prompts[1].Tokens, sampling with { Seed = 1235 });
            h.RunToCompletion();
            Assert.Equal(alone, h.Tokens("a"));
            Assert.NotEqual(alone, h.Tokens("z"));
        }
    }

    [Fact]
    public void Cancelled_request_ends_with_abort_and_frees_its_blocks()
    {
        using var h = new EngineHarness("tiny-noqlora-ungrouped", new SchedulerConfig());
        h.Submit("c", h.Golden.Prompts[1].Tokens, SamplingParams.Greedy(40) with { IgnoreEos = true });
        h.Core.Step();
        h.Core.Step();
        Assert.True(h.Cache.Allocator.UsedBlocks > 0);
        h.Core.Cancel("c");
        h.RunToCompletion();
        List<GenerationEvent> events = h.Events("c");
        Assert.Equal(FinishReason.Abort, events[^1].Finish);
        Assert.True(events.Count(e => e.Token >= 0) < 40);
        Assert.Equal(h.Cache.Allocator.Capacity, h.Cache.Allocator.FreeBlocks);
    }

    [Fact]
    public void Stop_token_ids_and_max_tokens_end_requests_with_the_right_reason()
    {
        using var h = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig());
        var g = h.Golden.Prompts[0];
        h.Submit("stop", g.Tokens, SamplingParams.Greedy(50) with { StopTokenIds = [g.Greedy[2]] });
        h.Submit("len", g.Tokens, SamplingParams.Greedy(3));
        h.RunToCompletion();
        List<GenerationEvent> stop = h.Events("stop");
        Assert.Equal(FinishReason.Stop, stop[^1].Finish);
        Assert.Equal(g.Greedy[..3], stop.Select(e => e.Token).ToArray());
        List<GenerationEvent> len = h.Events("len");
        Assert.Equal(FinishReason.Length, len[^1].Finish);
        Assert.Equal(3, len[^1].Usage.CompletionTokens);
        Assert.Equal(g.Tokens.Length, len[^1].Usage.PromptTokens);
    }

    [Fact]
    public void A_request_longer_than_the_whole_kv_cache_is_refused_at_submission_not_failed_mid_stream()
    {
        // 8 blocks of 16 positions: the longest sequence is 127 (its last step reserves one more slot).
        using var h = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig(), kvTokens: 128);
        Assert.Equal(127, h.Core.MaxModelLen);
        Assert.Equal(127, h.Core.KvCacheLimit);
        Assert.Throws<ContextLengthExceededException>(() => h.Submit("long", new int[100], SamplingParams.Greedy(28)));
        Assert.False(h.Core.HasWork);

        // The longest request that fits runs to its length limit without an error.
        h.Submit("fits", new int[100], SamplingParams.Greedy(27) with { IgnoreEos = true });
        h.RunToCompletion();
        GenerationEvent last = h.Events("fits")[^1];
        Assert.Equal(FinishReason.Length, last.Finish);
        Assert.Equal(27, last.Usage.CompletionTokens);
        Assert.Equal(0, h.Cache.Allocator.UsedBlocks);
    }

    [Fact]
    public void Invalid_requests_are_rejected_before_queueing()
    {
        using var h = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig { MaxModelLen = 64 });
        Assert.Throws<SamplingParamException>(() => h.Submit("t", [1, 2], new SamplingParams { Temperature = 3f }));
        Assert.Throws<ContextLengthExceededException>(() => h.Submit("l", new int[60], SamplingParams.Greedy(10)));
        Assert.Throws<SamplingParamException>(() => h.Submit("v", [1, 1_000_000], SamplingParams.Greedy(1)));
        Assert.False(h.Core.HasWork);
    }
}

public sealed class MtpDraftTests
{
    [Fact]
    public void Draft_equals_the_mtp_head_run_over_the_whole_sequence_from_scratch()
    {
        using var h = new EngineHarness("small-fp8-sharded-mtp", new SchedulerConfig { SpeculativeMtp = true, MaxNumBatchedTokens = 16 });
        int[] prompt = h.Golden.Prompts[1].Tokens;
        h.Submit("d", prompt, SamplingParams.Greedy(8) with { IgnoreEos = true });
        var produced = new List<int>();
        int? draft = null;
        while (produced.Count < 4 && h.Core.Step())
        {
            produced.AddRange(h.Events("d").Where(e => e.Token >= 0).Select(e => e.Token));
            draft = h.Core.DraftOf("d");
        }

        Assert.NotNull(draft);

        // Reference: prefill prompt + output in one pass, then the MTP head over every position (h_i with token i+1).
        int[] all = [.. prompt, .. produced];
        Model.DeepseekV3Model model = h.Model.Model;
        PagedLatentCache cache = h.Model.NewCache(256);
        PagedSequenceCache seq = cache.NewSequence();
        seq.Reserve(all.Length);
        Model.ForwardBatch main = BatchBuilder.Prefill([all], [seq], mode: Model.AttentionMode.Naive);
        Model.ModelOutput hidden = model.Forward(main);
        Model.ForwardBatch mtp = BatchBuilder.Prefill([all[1..]], [seq], mode: Model.AttentionMode.Naive);
        int rows = all.Length - 1;
        Model.ModelOutput draftLogits = model.Mtp!.Forward(mtp, hidden.Hidden.AsSpan(0, rows * hidden.HiddenSize), [rows - 1]);
        Assert.Equal(Sampler.Argmax(draftLogits.LogitsOf(0)), draft);
    }
}

public sealed class RequestStateTests
{
    [Fact]
    public void A_request_resumed_from_its_serialized_state_on_a_fresh_engine_continues_with_the_same_tokens()
    {
        var sampling = new SamplingParams { Temperature = 0.9f, TopP = 0.95f, Seed = 31, MaxTokens = 14, IgnoreEos = true, PresencePenalty = 0.3f };
        int[] uninterrupted;
        using (var h = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig()))
        {
            h.Submit("r", h.Golden.Prompts[1].Tokens, sampling);
            h.RunToCompletion();
            uninterrupted = h.Tokens("r");
        }

        string json;
        int[] before;
        using (var h = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig()))
        {
            h.Submit("r", h.Golden.Prompts[1].Tokens, sampling);
            for (int i = 0; i < 6; i++)
            {
                h.Core.Step();
            }

            RequestState state = h.Core.Snapshot("r")!;
            json = System.Text.Json.JsonSerializer.Serialize(state);
            before = h.Tokens("r");
            Assert.Equal(state.OutputTokens, before);
        }

        Assert.InRange(before.Length, 1, 13);
        RequestState restored = System.Text.Json.JsonSerializer.Deserialize<RequestState>(json)!;
        using var survivor = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig { MaxNumBatchedTokens = 8 });
        var ch = System.Threading.Channels.Channel.CreateUnbounded<GenerationEvent>();
        survivor.Core.Resume(restored, ch.Writer);
        survivor.RunToCompletion();
        var after = new List<int>();
        while (ch.Reader.TryRead(out GenerationEvent? e))
        {
            if (e.Token >= 0)
            {
                after.Add(e.Token);
            }
        }

        int[] resumed = [.. before, .. after];
        Assert.Equal(uninterrupted, resumed);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4)]
    public void A_resumed_requests_recomputed_latent_cache_is_the_lost_one_bit_for_bit(int maxBatchedTokens)
    {
        // Prompt rows go through prefill attention as they first did, generated rows through decode attention, in any
        // chunking: every layer's cache equals the uninterrupted engine's at every position.
        var sampling = new SamplingParams { Temperature = 0.9f, TopP = 0.95f, Seed = 7, MaxTokens = 20, IgnoreEos = true };
        using var original = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig());
        original.Submit("r", original.Golden.Prompts[1].Tokens, sampling);
        for (int i = 0; i < 8; i++)
        {
            original.Core.Step();
        }

        RequestState state = original.Core.Snapshot("r")!;
        Assert.InRange(state.OutputTokens.Length, 2, 19);

        using var survivor = new EngineHarness("tiny-bf16-yarn", new SchedulerConfig { MaxNumBatchedTokens = maxBatchedTokens });
        var ch = System.Threading.Channels.Channel.CreateUnbounded<GenerationEvent>();
        survivor.Core.Resume(state, ch.Writer);
        for (int i = 0; i < 100 && survivor.Core.Snapshot("r")!.OutputTokens.Length == state.OutputTokens.Length; i++)
        {
            survivor.Core.Step();
        }

        // Both now hold the prompt and the generated tokens but the newest, whose row the next decode computes.
        original.Core.Step();
        (PagedSequenceCache lost, int lostComputed) = original.Core.CacheOf("r")!.Value;
        (PagedSequenceCache rebuilt, int rebuiltComputed) = survivor.Core.CacheOf("r")!.Value;
        Assert.Equal(state.PromptTokens.Length + state.OutputTokens.Length, rebuiltComputed);
        Assert.Equal(lostComputed, rebuiltComputed);
        Assert.Equal(original.Core.Snapshot("r")!.OutputTokens, survivor.Core.Snapshot("r")!.OutputTokens);
        for (int layer = 0; layer < original.Cache.Layers; layer++)
        {
            float[] a = new float[rebuiltComputed * original.Cache.EntryDim], b = new float[a.Length];
            lost.Gather(layer, rebuiltComputed, a);
            rebuilt.Gather(layer, rebuiltComputed, b);
            Assert.True(a.AsSpan().SequenceEqual(b), $"layer {layer}: the rebuilt latent cache differs from the lost one");
        }
    }
}
