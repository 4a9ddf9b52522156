using R1Orleans.Model;

namespace R1Orleans.Engine;

/// <summary>Builds flat varlen batches: whole prompts (prefill) or one new token per sequence (decode).</summary>
public static class BatchBuilder
{
    public static ForwardBatch Prefill(IReadOnlyList<int[]> prompts, IReadOnlyList<ILatentSequenceCache> caches, IRoutingObserver? observer = null, AttentionMode mode = AttentionMode.Auto)
    {
        var tokens = new List<int>();
        var slices = new List<SequenceSlice>();
        for (int i = 0; i < prompts.Count; i++)
        {
            slices.Add(new SequenceSlice(tokens.Count, prompts[i].Length, 0, caches[i]));
            tokens.AddRange(prompts[i]);
        }

        return new ForwardBatch { Tokens = tokens.ToArray(), Sequences = slices, RoutingObserver = observer, Attention = mode };
    }

    /// <summary>next[i] goes at position contextLengths[i] of sequence i.</summary>
    public static ForwardBatch Decode(int[] next, int[] contextLengths, IReadOnlyList<ILatentSequenceCache> caches, IRoutingObserver? observer = null)
    {
        var slices = new SequenceSlice[next.Length];
        for (int i = 0; i < next.Length; i++)
        {
            slices[i] = new SequenceSlice(i, 1, contextLengths[i], caches[i]);
        }

        return new ForwardBatch { Tokens = next, Sequences = slices, RoutingObserver = observer, Attention = AttentionMode.Absorbed };
    }
}
