using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Engine.Tests;

public sealed class SamplerTests
{
    private static readonly float[] Logits = [2f, 1f, 0.5f, -1f, 3f];

    [Fact]
    public void Greedy_picks_the_largest_logit_and_the_first_on_ties()
    {
        Assert.Equal(4, Sampler.Sample(Logits, SamplingParams.Greedy(1), 0, 0).Token);
        Assert.Equal(1, Sampler.Sample([0f, 5f, 5f], SamplingParams.Greedy(1), 0, 0).Token);
    }

    [Fact]
    public void Top_k_of_one_is_greedy_whatever_the_draw()
    {
        var p = new SamplingParams { Temperature = 1f, TopK = 1 };
        for (int c = 0; c < 50; c++)
        {
            Assert.Equal(4, Sampler.Sample(Logits, p, 42, c).Token);
        }
    }

    [Fact]
    public void Top_p_keeps_only_the_smallest_set_reaching_the_mass()
    {
        // softmax of [2,1,0.5,-1,3]: token 4 ≈ 0.61, token 0 ≈ 0.23; top_p 0.7 keeps exactly {4, 0}.
        var p = new SamplingParams { Temperature = 1f, TopP = 0.7f };
        var seen = Enumerable.Range(0, 400).Select(c => Sampler.Sample(Logits, p, 9, c).Token).ToHashSet();
        Assert.Equal(new HashSet<int> { 4, 0 }, seen);
    }

    [Fact]
    public void Min_p_drops_tokens_below_the_fraction_of_the_best()
    {
        // p(0)/p(4) = e^-1 ≈ 0.37, p(1)/p(4) = e^-2 ≈ 0.14: min_p 0.2 keeps {4, 0}.
        var p = new SamplingParams { Temperature = 1f, MinP = 0.2f };
        var seen = Enumerable.Range(0, 400).Select(c => Sampler.Sample(Logits, p, 3, c).Token).ToHashSet();
        Assert.Equal(new HashSet<int> { 4, 0 }, seen);
    }

    [Fact]
    public void Draw_frequencies_follow_the_tempered_distribution()
    {
        var p = new SamplingParams { Temperature = 0.5f };
        int n = 20_000;
        int[] counts = new int[Logits.Length];
        for (int c = 0; c < n; c++)
        {
            counts[Sampler.Sample(Logits, p, 77, c).Token]++;
        }

        double[] expected = Logits.Select(l => Math.Exp(l / 0.5)).ToArray();
        double z = expected.Sum();
        for (int i = 0; i < Logits.Length; i++)
        {
            Assert.InRange(counts[i] / (double)n, (expected[i] / z) - 0.015, (expected[i] / z) + 0.015);
        }
    }

    [Fact]
    public void Same_seed_and_position_give_the_same_token_and_other_seeds_differ()
    {
        var p = new SamplingParams { Temperature = 1.5f };
        int[] a = Enumerable.Range(0, 64).Select(c => Sampler.Sample(Logits, p, 5, c).Token).ToArray();
        int[] b = Enumerable.Range(0, 64).Select(c => Sampler.Sample(Logits, p, 5, c).Token).ToArray();
        int[] other = Enumerable.Range(0, 64).Select(c => Sampler.Sample(Logits, p, 6, c).Token).ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, other);
    }

    [Fact]
    public void Penalties_change_the_greedy_choice_as_specified()
    {
        // Output already holds token 4 twice: frequency 0.4 → 3 - 0.8 = 2.2 still wins; plus presence 0.5 → 1.7 loses to 2.
        var history = new TokenHistory([0], [4, 4]);
        Assert.Equal(4, Sampler.Sample(Logits, SamplingParams.Greedy(1) with { FrequencyPenalty = 0.4f }, 0, 0, history).Token);
        Assert.Equal(0, Sampler.Sample(Logits, SamplingParams.Greedy(1) with { FrequencyPenalty = 0.4f, PresencePenalty = 0.5f }, 0, 0, history).Token);

        // Repetition 2: positive logits of seen tokens (prompt 0, output 4) are halved: 3 → 1.5, 2 → 1 → token 4 still best (1.5 > 1).
        // With penalty 4: 0.75 and 0.5 → token 1 (logit 1) wins.
        Assert.Equal(4, Sampler.Sample(Logits, SamplingParams.Greedy(1) with { RepetitionPenalty = 2f }, 0, 0, history).Token);
        Assert.Equal(1, Sampler.Sample(Logits, SamplingParams.Greedy(1) with { RepetitionPenalty = 4f }, 0, 0, history).Token);
    }

    [Fact]
    public void Logprobs_are_the_raw_log_softmax_and_top_logprobs_are_sorted()
    {
        SampledToken t = Sampler.Sample(Logits, SamplingParams.Greedy(1) with { Logprobs = true, TopLogprobs = 3 }, 0, 0);
        double lse = Math.Log(Logits.Sum(l => Math.Exp(l)));
        Assert.Equal(3 - lse, t.Logprob!.Value, 5);
        Assert.Equal([4, 0, 1], t.TopLogprobs!.Select(x => x.Token));
        Assert.Equal(1.0, Logits.Select(l => Math.Exp(l - lse)).Sum(), 6);
    }

    [Theory]
    [InlineData(1e-38f)]
    [InlineData(1e-30f)]
    [InlineData(9.9e-6f)]
    public void Temperatures_below_the_sampling_epsilon_are_greedy(float temperature)
    {
        var p = new SamplingParams { Temperature = temperature, TopP = 0.9f, MinP = 0.1f };
        Assert.True(p.IsGreedy);
        for (int c = 0; c < 64; c++)
        {
            Assert.Equal(4, Sampler.Sample(Logits, p, 11, c).Token);
        }

        // Large logits too: dividing them by a tiny temperature would overflow to infinity.
        float[] large = [3e30f, -3e30f, 2.9e30f];
        Assert.Equal(0, Sampler.Sample(large, p, 11, 0).Token);
    }

    [Fact]
    public void Temperature_at_the_sampling_epsilon_still_samples_without_overflow()
    {
        // 1e-5 is not greedy (vLLM's rule: below 1e-5 is); logits of 1e34 divided by it would be infinite, yet the draw
        // stays a valid token, the largest logit (the others are e^-1e39 below it).
        var p = new SamplingParams { Temperature = 1e-5f };
        Assert.False(p.IsGreedy);
        Assert.Equal(1, Sampler.Sample([1e34f, 3e34f, -3e38f], p, 1, 0).Token);
    }

    [Theory]
    [InlineData(float.NaN, 0f)]
    [InlineData(float.PositiveInfinity, 0f)]
    [InlineData(float.NegativeInfinity, 1f)]
    public void Non_finite_logits_throw_a_clear_error_whatever_the_parameters(float bad, float temperature)
    {
        float[] logits = [1f, 2f, bad, 0.5f];
        foreach (SamplingParams p in new[]
        {
            SamplingParams.Greedy(1) with { Temperature = temperature },
            new SamplingParams { Temperature = 0.7f, TopK = 2 },
            new SamplingParams { Temperature = 1.3f, TopP = 0.5f, Logprobs = true, TopLogprobs = 2 },
        })
        {
            NonFiniteLogitsException e = Assert.Throws<NonFiniteLogitsException>(() => Sampler.Sample(logits, p, 3, 0));
            Assert.Contains("token 2", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Penalties_that_overflow_to_infinity_are_the_same_clear_error()
    {
        // Repetition penalty 1e-38 is in (0, 10]; 30 / 1e-38 overflows float.
        var history = new TokenHistory([4]);
        var p = SamplingParams.Greedy(1) with { RepetitionPenalty = 1e-38f };
        NonFiniteLogitsException e = Assert.Throws<NonFiniteLogitsException>(() => Sampler.Sample([2f, 1f, 0.5f, -1f, 30f], p, 0, 0, history));
        Assert.Contains("penalties", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("temperature")]
    [InlineData("top_p")]
    [InlineData("max_tokens")]
    [InlineData("top_logprobs")]
    [InlineData("stop")]
    public void Out_of_range_parameters_name_the_parameter(string param)
    {
        SamplingParams bad = param switch
        {
            "temperature" => new SamplingParams { Temperature = 2.5f },
            "top_p" => new SamplingParams { TopP = 0f },
            "max_tokens" => new SamplingParams { MaxTokens = 0 },
            "top_logprobs" => new SamplingParams { Logprobs = true, TopLogprobs = 21 },
            _ => new SamplingParams { Stop = ["a", "b", "c", "d", "e"] },
        };
        SamplingParamException e = Assert.Throws<SamplingParamException>(bad.Validate);
        Assert.Equal(param, e.Param);
    }
}

public sealed class StopStringMatcherTests
{
    [Fact]
    public void Stop_string_across_pieces_is_found_and_withheld()
    {
        var m = new StopStringMatcher(["END"]);
        Assert.Equal("abc", m.Push("abcE"));
        Assert.Equal("", m.Push("N"));
        Assert.Equal("", m.Push("Dxyz"));
        Assert.True(m.Stopped);
    }

    [Fact]
    public void Held_prefix_is_released_when_it_turns_out_not_to_be_a_stop()
    {
        var m = new StopStringMatcher(["END"]);
        Assert.Equal("ab", m.Push("abEN"));
        Assert.Equal("ENx", m.Push("x"));
        Assert.Equal("", m.Push("E"));
        Assert.Equal("E", m.Flush());
        Assert.False(m.Stopped);
    }

    [Fact]
    public void Earliest_of_several_stop_strings_wins()
    {
        var m = new StopStringMatcher(["world", "lo w"]);
        Assert.Equal("hel", m.Push("hello world"));
        Assert.True(m.Stopped);
    }
}
