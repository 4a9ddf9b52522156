namespace R1Orleans.Engine.Sampling;

/// <summary>The tokens penalties look at: the prompt's (repetition penalty) and the output's counts (all three).</summary>
public sealed class TokenHistory
{
    private readonly HashSet<int> _prompt;
    private readonly Dictionary<int, int> _output = [];

    public TokenHistory(IEnumerable<int> prompt, IEnumerable<int>? output = null)
    {
        _prompt = [.. prompt];
        foreach (int t in output ?? [])
        {
            Add(t);
        }
    }

    public void Add(int token) => _output[token] = _output.GetValueOrDefault(token) + 1;

    /// <summary>HF repetition penalty (positive logits divided, negative multiplied), then OpenAI presence/frequency.</summary>
    public void ApplyPenalties(Span<float> logits, SamplingParams p)
    {
        if (p.RepetitionPenalty != 1f)
        {
            foreach (int t in _prompt.Concat(_output.Keys).Distinct())
            {
                if ((uint)t < (uint)logits.Length)
                {
                    logits[t] = logits[t] > 0 ? logits[t] / p.RepetitionPenalty : logits[t] * p.RepetitionPenalty;
                }
            }
        }

        if (p.PresencePenalty != 0f || p.FrequencyPenalty != 0f)
        {
            foreach ((int t, int count) in _output)
            {
                if ((uint)t < (uint)logits.Length)
                {
                    logits[t] -= (count * p.FrequencyPenalty) + p.PresencePenalty;
                }
            }
        }
    }
}
