using System.Numerics.Tensors;

namespace R1Orleans.Engine.Sampling;

/// <summary>One alternative at a position, with its log-probability under the model.</summary>
public readonly record struct TokenLogprob(int Token, float Logprob);

/// <summary>The sampled token, and when asked, its logprob and the top alternatives (from the model's raw distribution).</summary>
public sealed record SampledToken(int Token, float? Logprob, IReadOnlyList<TokenLogprob>? TopLogprobs);

/// <summary>
/// Turns one row of logits into a token: repetition, presence and frequency penalties; then greedy argmax, or
/// temperature, top-k, top-p and min-p followed by one uniform draw from the request's counter RNG.
/// Logprobs are those of the unmodified model distribution (vLLM's default). A row holding NaN or an infinity, from the
/// model or after the penalties, is refused with <see cref="NonFiniteLogitsException"/>: never a garbage token.
/// </summary>
public static class Sampler
{
    public static SampledToken Sample(ReadOnlySpan<float> logits, SamplingParams p, ulong seed, long counter, TokenHistory? history = null)
    {
        CheckFinite(logits, "in the model's logits");
        float? chosenLogprob = null;
        IReadOnlyList<TokenLogprob>? top = null;
        float[]? logSoftmax = null;
        if (p.Logprobs)
        {
            logSoftmax = LogSoftmax(logits);
            top = p.TopLogprobs > 0 ? TopK(logSoftmax, p.TopLogprobs) : [];
        }

        float[] work = logits.ToArray();
        if (history is not null)
        {
            history.ApplyPenalties(work, p);
            CheckFinite(work, $"after the penalties (repetition {p.RepetitionPenalty}, presence {p.PresencePenalty}, frequency {p.FrequencyPenalty})");
        }

        int token = p.IsGreedy ? Argmax(work) : Draw(work, p, CounterRng.Uniform(seed, counter));
        if (logSoftmax is not null)
        {
            chosenLogprob = logSoftmax[token];
        }

        return new SampledToken(token, chosenLogprob, top);
    }

    /// <summary>The first index of the maximum (torch.argmax's tie rule).</summary>
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

    /// <summary>Throws <see cref="NonFiniteLogitsException"/> naming the first NaN or infinite entry of <paramref name="row"/>.</summary>
    public static void CheckFinite(ReadOnlySpan<float> row, string where)
    {
        for (int i = 0; i < row.Length; i++)
        {
            if (!float.IsFinite(row[i]))
            {
                throw new NonFiniteLogitsException($"the logits row holds a non-finite value ({row[i]} at token {i}) {where}");
            }
        }
    }

    public static float[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        float max = TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (float l in logits)
        {
            sum += Math.Exp(l - max);
        }

        float lse = max + (float)Math.Log(sum);
        float[] r = new float[logits.Length];
        TensorPrimitives.Subtract(logits, lse, r);
        return r;
    }

    /// <summary>The n largest values by descending value (lower id first on ties).</summary>
    public static TokenLogprob[] TopK(ReadOnlySpan<float> values, int n)
    {
        n = Math.Min(n, values.Length);
        var best = new List<TokenLogprob>(n + 1);
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (best.Count == n && v <= best[^1].Logprob)
            {
                continue;
            }

            int pos = best.Count;
            while (pos > 0 && v > best[pos - 1].Logprob)
            {
                pos--;
            }

            best.Insert(pos, new TokenLogprob(i, v));
            if (best.Count > n)
            {
                best.RemoveAt(n);
            }
        }

        return best.ToArray();
    }

    private static int Draw(float[] logits, SamplingParams p, double u)
    {
        // (logit - max) / T: at most 0, so a small temperature cannot overflow to +infinity; very unlikely tokens may
        // become -infinity, probability 0, which is what they are.
        float max = TensorPrimitives.Max(logits);
        TensorPrimitives.Subtract(logits, max, logits);
        TensorPrimitives.Divide(logits, p.Temperature, logits);
        max = 0f;

        // Candidates sorted by probability, descending (ties by id), truncated by top-k.
        int[] order = Enumerable.Range(0, logits.Length).ToArray();
        int keep = logits.Length;
        if (p.TopK > 0 && p.TopK < keep)
        {
            keep = p.TopK;
            TokenLogprob[] k = TopK(logits, keep);
            for (int i = 0; i < keep; i++)
            {
                order[i] = k[i].Token;
            }
        }
        else
        {
            Array.Sort(order, (a, b) => logits[a] != logits[b] ? logits[b].CompareTo(logits[a]) : a.CompareTo(b));
        }

        double[] prob = new double[keep];
        double total = 0;
        for (int i = 0; i < keep; i++)
        {
            prob[i] = Math.Exp(logits[order[i]] - max);
            total += prob[i];
        }

        // top-p: the smallest prefix whose mass reaches top_p (always at least one token).
        int cut = keep;
        if (p.TopP < 1f)
        {
            double mass = 0;
            for (int i = 0; i < keep; i++)
            {
                mass += prob[i] / total;
                if (mass >= p.TopP)
                {
                    cut = i + 1;
                    break;
                }
            }
        }

        // min-p: drop tokens below min_p × the most likely token's probability.
        if (p.MinP > 0f)
        {
            double floor = p.MinP * prob[0];
            int m = 1;
            while (m < cut && prob[m] >= floor)
            {
                m++;
            }

            cut = m;
        }

        double kept = 0;
        for (int i = 0; i < cut; i++)
        {
            kept += prob[i];
        }

        double target = u * kept;
        double acc = 0;
        for (int i = 0; i < cut; i++)
        {
            acc += prob[i];
            if (target < acc)
            {
                return order[i];
            }
        }

        return order[cut - 1];
    }
}
