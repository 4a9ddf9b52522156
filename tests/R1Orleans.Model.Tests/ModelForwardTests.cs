using R1Orleans.Engine;

namespace R1Orleans.Model.Tests;

/// <summary>
/// End-to-end properties of the forward pass on small random-weight checkpoints: naive and absorbed MLA compute the same
/// function, decoding through the latent cache reproduces prefill, and a sequence's logits do not depend on its batch.
/// </summary>
[Collection(SyntheticModelCollection.Name)]
public sealed class ModelForwardTests(SyntheticModelFixture fixture)
{
    private static readonly int[] s_prompt = [5, 17, 3, 60, 22, 9, 41, 2, 33];

    private static PagedSequenceCache NewSequence(LoadedModel m, int tokens)
    {
        PagedSequenceCache seq = m.NewCache(64, blockSize: 4).NewSequence();
        seq.Reserve(tokens);
        return seq;
    }

    private static ModelOutput Prefill(LoadedModel m, int[] tokens, AttentionMode mode)
    {
        ForwardBatch batch = BatchBuilder.Prefill([tokens], [NewSequence(m, tokens.Length)], mode: mode);
        return m.Model.Forward(batch);
    }

    private static void AssertRelativelyClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what)
    {
        double error = TestData.RelativeMaxError(actual, expected);
        Assert.True(error <= tolerance, $"{what}: max|a−b|/max|b| = {error:E2} > {tolerance:E0}");
    }

    [Theory]
    [InlineData("grouped")]
    [InlineData("ungrouped")]
    public void Naive_and_absorbed_attention_give_the_same_logits(string name)
    {
        LoadedModel m = fixture[name];
        ModelOutput naive = Prefill(m, s_prompt, AttentionMode.Naive);
        ModelOutput absorbed = Prefill(m, s_prompt, AttentionMode.Absorbed);
        Assert.Equal(s_prompt.Length * m.Config.VocabSize, naive.Logits.Length);
        AssertRelativelyClose(absorbed.Logits, naive.Logits, 1e-5, "absorbed vs naive logits");

        // The logits are not trivially equal: positions differ from each other.
        Assert.NotEqual(naive.LogitsOf(0).ToArray(), naive.LogitsOf(1).ToArray());
    }

    [Fact]
    public void Naive_and_absorbed_attention_layers_agree_on_random_inputs()
    {
        LoadedModel m = fixture.Grouped;
        MultiHeadLatentAttention attention = m.Model.Blocks[1].Attention;
        const int n = 6;
        float[] x = TestData.Floats(9, n * m.Config.HiddenSize, 2f);
        float[] Run(AttentionMode mode)
        {
            ForwardBatch batch = BatchBuilder.Prefill([new int[n]], [NewSequence(m, n)], mode: mode);
            return attention.Forward(x, batch, batch.Positions());
        }

        float[] naive = Run(AttentionMode.Naive);
        float[] absorbed = Run(AttentionMode.Absorbed);
        AssertRelativelyClose(absorbed, naive, 1e-5, "absorbed vs naive attention output");
        Assert.Contains(naive, v => v != 0);
    }

    [Theory]
    [InlineData("grouped")]
    [InlineData("ungrouped")]
    public void Prefill_then_decode_one_token_at_a_time_reproduces_full_prefill_logits(string name)
    {
        LoadedModel m = fixture[name];
        ModelOutput full = Prefill(m, s_prompt, AttentionMode.Naive);

        const int prefix = 3;
        PagedSequenceCache seq = NewSequence(m, s_prompt.Length);
        ModelOutput first = m.Model.Forward(BatchBuilder.Prefill([s_prompt[..prefix]], [seq]));
        for (int i = 0; i < prefix; i++)
        {
            AssertRelativelyClose(first.LogitsOf(i), full.LogitsOf(i), 1e-5, $"prefill logits at {i}");
        }

        for (int p = prefix; p < s_prompt.Length; p++)
        {
            ModelOutput step = m.Model.Forward(BatchBuilder.Decode([s_prompt[p]], [p], [seq]));
            Assert.Single(step.LogitRows);
            AssertRelativelyClose(step.LogitsOf(0), full.LogitsOf(p), 1e-5, $"decode logits at {p}");
        }
    }

    [Fact]
    public void Chunked_prefill_against_the_cache_reproduces_full_prefill_logits()
    {
        LoadedModel m = fixture.Grouped;
        ModelOutput full = Prefill(m, s_prompt, AttentionMode.Naive);
        PagedSequenceCache seq = NewSequence(m, s_prompt.Length);
        m.Model.Forward(BatchBuilder.Prefill([s_prompt[..4]], [seq], mode: AttentionMode.Naive));
        var chunk = new ForwardBatch
        {
            Tokens = s_prompt[4..],
            Sequences = [new SequenceSlice(0, s_prompt.Length - 4, 4, seq)],
            Attention = AttentionMode.Naive,
        };
        ModelOutput rest = m.Model.Forward(chunk);
        for (int i = 0; i < s_prompt.Length - 4; i++)
        {
            AssertRelativelyClose(rest.LogitsOf(i), full.LogitsOf(4 + i), 1e-5, $"chunk logits at {4 + i}");
        }
    }

    [Theory]
    [InlineData("grouped", AttentionMode.Auto)]
    [InlineData("grouped", AttentionMode.Absorbed)]
    [InlineData("ungrouped", AttentionMode.Auto)]
    public void Logits_of_a_sequence_batched_with_others_are_bit_identical_to_its_logits_alone(string name, AttentionMode mode)
    {
        LoadedModel m = fixture[name];
        int[][] prompts = [[7, 8, 9, 10, 11], [40, 41], [1, 2, 3, 4, 5, 6, 7]];
        PagedLatentCache cache = m.NewCache(64, blockSize: 4);
        var seqs = prompts.Select(p =>
        {
            PagedSequenceCache s = cache.NewSequence();
            s.Reserve(p.Length);
            return s;
        }).ToArray();
        ModelOutput batched = m.Model.Forward(BatchBuilder.Prefill(prompts, seqs, mode: mode));

        int row = 0;
        for (int i = 0; i < prompts.Length; i++)
        {
            ModelOutput alone = Prefill(m, prompts[i], mode);
            for (int t = 0; t < prompts[i].Length; t++)
            {
                // Bit-identical: every kernel reduces each row on its own, in an order that does not depend on the batch.
                Assert.Equal(alone.LogitsOf(t).ToArray(), batched.LogitsOf(row + t).ToArray());
            }

            row += prompts[i].Length;
        }
    }

    [Fact]
    public void Decode_batch_of_several_sequences_equals_decoding_each_alone()
    {
        LoadedModel m = fixture.Grouped;
        int[][] prompts = [[7, 8, 9], [40], [1, 2, 3, 4, 5]];
        int[] next = [12, 13, 14];
        PagedLatentCache cache = m.NewCache(64, blockSize: 4);
        PagedSequenceCache[] seqs = prompts.Select(p =>
        {
            PagedSequenceCache s = cache.NewSequence();
            s.Reserve(p.Length + 1);
            return s;
        }).ToArray();
        m.Model.Forward(BatchBuilder.Prefill(prompts, seqs));
        ModelOutput batched = m.Model.Forward(BatchBuilder.Decode(next, prompts.Select(p => p.Length).ToArray(), seqs));

        for (int i = 0; i < prompts.Length; i++)
        {
            ModelOutput full = Prefill(m, [.. prompts[i], next[i]], AttentionMode.Naive);
            AssertRelativelyClose(batched.LogitsOf(i), full.LogitsOf(prompts[i].Length), 1e-5, $"sequence {i}");
        }
    }

    [Fact]
    public void Greedy_generation_equals_repeated_argmax_of_full_prefill_and_frees_its_blocks()
    {
        LoadedModel m = fixture.Grouped;
        PagedLatentCache cache = m.NewCache(64, blockSize: 4);
        int[][] prompts = [[3, 14, 15], [9, 2, 6, 5, 35]];
        IReadOnlyList<int[]> generated = new GreedyGenerator(m.Model, cache).Generate(prompts, 4);
        Assert.Equal(cache.Allocator.Capacity, cache.Allocator.FreeBlocks);

        for (int i = 0; i < prompts.Length; i++)
        {
            var tokens = prompts[i].ToList();
            for (int step = 0; step < 4; step++)
            {
                ModelOutput full = Prefill(m, [.. tokens], AttentionMode.Naive);
                tokens.Add(GreedyGenerator.Argmax(full.LogitsOf(tokens.Count - 1)));
            }

            Assert.Equal(tokens.Skip(prompts[i].Length), generated[i]);
        }
    }

    [Fact]
    public void Only_the_requested_logit_rows_are_returned_in_the_order_given()
    {
        LoadedModel m = fixture.Grouped;
        ModelOutput all = Prefill(m, s_prompt, AttentionMode.Naive);
        ForwardBatch batch = BatchBuilder.Prefill([s_prompt], [NewSequence(m, s_prompt.Length)], mode: AttentionMode.Naive);
        ModelOutput some = m.Model.Forward(batch, [8, 2]);
        Assert.Equal([8, 2], some.LogitRows);
        Assert.Equal(2 * m.Config.VocabSize, some.Logits.Length);
        Assert.Equal(all.LogitsOf(8).ToArray(), some.LogitsOf(0).ToArray());
        Assert.Equal(all.LogitsOf(2).ToArray(), some.LogitsOf(1).ToArray());
    }

    [Fact]
    public void Forward_rejects_a_position_beyond_max_position_embeddings()
    {
        LoadedModel m = fixture.Grouped;
        PagedSequenceCache seq = NewSequence(m, 4);
        int max = m.Config.MaxPositionEmbeddings;
        ForwardBatch batch = BatchBuilder.Decode([1], [max], [seq]);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Model.Forward(batch));
    }

    [Fact]
    public void Forward_rejects_a_batch_whose_slices_do_not_tile_the_rows()
    {
        LoadedModel m = fixture.Grouped;
        PagedSequenceCache seq = NewSequence(m, 4);
        var batch = new ForwardBatch { Tokens = [1, 2, 3], Sequences = [new SequenceSlice(0, 2, 0, seq)] };
        Assert.Throws<ArgumentException>(() => m.Model.Forward(batch));
    }
}
