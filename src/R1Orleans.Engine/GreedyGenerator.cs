using R1Orleans.Model;

namespace R1Orleans.Engine;

/// <summary>
/// Greedy generation for a batch of prompts the way a serving engine does it: one prefill step (naive MLA), then one
/// token per sequence per step through the latent cache (absorbed MLA). The reference the golden check uses.
/// </summary>
public sealed class GreedyGenerator(DeepseekV3Model model, PagedLatentCache cache)
{
    public IReadOnlyList<int[]> Generate(IReadOnlyList<int[]> prompts, int maxNewTokens, IRoutingObserver? observer = null)
    {
        var caches = prompts.Select(_ => cache.NewSequence()).ToArray();
        try
        {
            var outputs = prompts.Select(_ => new List<int>()).ToArray();
            var lengths = prompts.Select(p => p.Length).ToArray();
            for (int i = 0; i < prompts.Count; i++)
            {
                if (prompts[i].Length == 0)
                {
                    throw new ArgumentException($"prompt {i} is empty");
                }

                caches[i].Reserve(prompts[i].Length + maxNewTokens);
            }

            ForwardBatch prefill = BatchBuilder.Prefill(prompts, caches, observer);
            ModelOutput output = model.Forward(prefill, ModelOutput.LastRows(prefill));
            for (int step = 0; step < maxNewTokens; step++)
            {
                var next = new int[prompts.Count];
                for (int i = 0; i < prompts.Count; i++)
                {
                    next[i] = Argmax(output.LogitsOf(i));
                    outputs[i].Add(next[i]);
                }

                if (step == maxNewTokens - 1)
                {
                    break;
                }

                ForwardBatch decode = BatchBuilder.Decode(next, lengths, caches, observer);
                for (int i = 0; i < lengths.Length; i++)
                {
                    lengths[i]++;
                }

                output = model.Forward(decode, ModelOutput.LastRows(decode));
            }

            return outputs.Select(o => o.ToArray()).ToArray();
        }
        finally
        {
            foreach (PagedSequenceCache c in caches)
            {
                c.Free();
            }
        }
    }

    /// <summary>The index of the largest value (the first one on ties, as torch.argmax).</summary>
    public static int Argmax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++)
        {
            if (v[i] > v[best])
            {
                best = i;
            }
        }

        return best;
    }
}
