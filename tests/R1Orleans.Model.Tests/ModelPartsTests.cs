using R1Orleans.Backend;
using R1Orleans.Engine;

namespace R1Orleans.Model.Tests;

public sealed class ModelPartsTests
{
    private static readonly CpuBackend s_backend = new(threads: 1);

    private sealed class NoCache : ILatentSequenceCache
    {
        public void Write(int layer, int position, ReadOnlySpan<float> entry) => throw new NotSupportedException();

        public void Gather(int layer, int count, Span<float> dst) => throw new NotSupportedException();

        public LatentPages Pages(int layer, int count) => throw new NotSupportedException();

        public LatentBlocks Blocks(int count) => throw new NotSupportedException();
    }

    [Fact]
    public void FeedForward_is_down_of_silu_gate_times_up()
    {
        // hidden 2, intermediate 1: gate·x = x0, up·x = 2·x1, down = [3, −1]ᵀ.
        var ffn = new FeedForward(new Matrix(1, 2, [1f, 0f]), new Matrix(1, 2, [0f, 2f]), new Matrix(2, 1, [3f, -1f]));
        float[] y = new float[4];
        ffn.Forward(s_backend, [1f, 1.5f, -2f, 0.5f], 2, y);
        double a = 1 / (1 + Math.Exp(-1)) * 3; // silu(1) · 3
        double b = -2 / (1 + Math.Exp(2)) * 1; // silu(−2) · 1
        TestData.AssertClose(y, [3 * a, -a, 3 * b, -b], 1e-6);
        Assert.Equal(2, ffn.Hidden);
        Assert.Equal(1, ffn.Intermediate);
    }

    [Fact]
    public void FeedForward_rejects_disagreeing_shapes()
    {
        Assert.Throws<ArgumentException>(() => new FeedForward(new Matrix(2, 3, new float[6]), new Matrix(2, 3, new float[6]), new Matrix(2, 3, new float[6])));
    }

    [Fact]
    public void Embedding_looks_up_rows_and_rejects_ids_outside_the_vocabulary()
    {
        var embedding = new Embedding(new Matrix(3, 2, [0f, 1f, 10f, 11f, 20f, 21f]));
        Assert.Equal([20f, 21f, 0f, 1f, 20f, 21f], embedding.Forward([2, 0, 2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => embedding.Forward([1, 3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => embedding.Forward([-1]));
    }

    [Fact]
    public void Batch_positions_continue_each_sequences_cache()
    {
        var cache = new NoCache();
        var batch = new ForwardBatch
        {
            Tokens = [1, 2, 3, 4, 5, 6],
            Sequences = [new SequenceSlice(0, 2, 0, cache), new SequenceSlice(2, 1, 7, cache), new SequenceSlice(3, 3, 4, cache)],
        };
        batch.Validate();
        Assert.Equal([0, 1, 7, 4, 5, 6], batch.Positions());
        Assert.Equal(8, batch.Sequences[1].ContextLength);
        Assert.Equal([1, 2, 5], ModelOutput.LastRows(batch));
    }

    [Fact]
    public void Batch_validation_rejects_gaps_overlaps_empty_slices_and_uncovered_rows()
    {
        var cache = new NoCache();
        ForwardBatch Batch(params SequenceSlice[] s) => new() { Tokens = [1, 2, 3], Sequences = s };
        Assert.Throws<ArgumentException>(() => Batch(new SequenceSlice(0, 1, 0, cache), new SequenceSlice(2, 1, 0, cache)).Validate());
        Assert.Throws<ArgumentException>(() => Batch(new SequenceSlice(0, 2, 0, cache), new SequenceSlice(1, 2, 0, cache)).Validate());
        Assert.Throws<ArgumentException>(() => Batch(new SequenceSlice(0, 0, 0, cache), new SequenceSlice(0, 3, 0, cache)).Validate());
        Assert.Throws<ArgumentException>(() => Batch(new SequenceSlice(0, 3, -1, cache)).Validate());
        Assert.Throws<ArgumentException>(() => Batch(new SequenceSlice(0, 2, 0, cache)).Validate());
        Batch(new SequenceSlice(0, 3, 5, cache)).Validate();
    }

    [Fact]
    public void Batch_builder_lays_out_prefill_and_decode_steps()
    {
        ILatentSequenceCache a = new NoCache(), b = new NoCache();
        ForwardBatch prefill = BatchBuilder.Prefill([[5, 6, 7], [8]], [a, b]);
        Assert.Equal([5, 6, 7, 8], prefill.Tokens);
        Assert.Equal([0, 1, 2, 0], prefill.Positions());
        Assert.Same(b, prefill.Sequences[1].Cache);

        ForwardBatch decode = BatchBuilder.Decode([9, 10], [3, 1], [a, b]);
        Assert.Equal([3, 1], decode.Positions());
        Assert.Equal(AttentionMode.Absorbed, decode.Attention);
    }

    [Fact]
    public void Greedy_argmax_takes_the_first_of_equal_maxima()
    {
        Assert.Equal(1, GreedyGenerator.Argmax([0f, 3f, -1f, 3f]));
        Assert.Equal(0, GreedyGenerator.Argmax([2f]));
    }
}
