using System.Diagnostics;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>What the workload sends: the questions, how many tokens, the sampled requests' temperature, the pace and the bounds.</summary>
public sealed record WorkloadOptions
{
    public required string Model { get; init; }

    public required IReadOnlyList<Question> Questions { get; init; }

    public int MaxTokens { get; init; } = 200;

    /// <summary>The temperature of the seeded-sampling requests (the greedy ones use 0).</summary>
    public double SamplingTemperature { get; init; } = 0.8;

    public int Concurrency { get; init; } = 4;

    /// <summary>No request starts after this long (those running then finish, each within the bound).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    public int MaxRequests { get; init; } = 1000;

    /// <summary>The most a request may take, whole stream included.</summary>
    public TimeSpan Bound { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The chaos workload: a closed loop of <see cref="WorkloadOptions.Concurrency"/> clients sending the fixed requests in
/// turn (each question greedy and seeded-sampling, streamed and not), round-robin over the gateways running at the
/// time, every request recorded in the history. Bounded in count and time.
/// </summary>
public static class Workload
{
    /// <summary>Request <paramref name="index"/> of the fixed sequence: question i/4, then greedy or sampled (seed from the question) and streamed or not by i%4.</summary>
    public static RequestSpec Spec(WorkloadOptions options, int index)
    {
        ArgumentNullException.ThrowIfNull(options);
        int mode = index % 4;
        int q = index / 4 % options.Questions.Count;
        Question question = options.Questions[q];
        bool sampled = mode >= 2;
        return new RequestSpec(question.Text, sampled ? options.SamplingTemperature : 0, sampled ? 1000 + q : null, options.MaxTokens, Stream: mode % 2 == 1, question.Answer);
    }

    /// <summary>Runs the loop until the duration or the count is reached, writing each request to <paramref name="history"/>.</summary>
    public static async Task RunAsync(
        WorkloadOptions options,
        Func<IReadOnlyList<(string Name, OpenAiClient Client)>> gateways,
        HistoryWriter history,
        Stopwatch clock,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(gateways);
        ArgumentNullException.ThrowIfNull(history);
        var runner = new RequestRunner(options.Model, options.Bound, clock);
        int next = -1;
        async Task Client()
        {
            while (clock.Elapsed < options.Duration && !cancellationToken.IsCancellationRequested)
            {
                int id = Interlocked.Increment(ref next);
                if (id >= options.MaxRequests)
                {
                    return;
                }

                IReadOnlyList<(string Name, OpenAiClient Client)> live = gateways();
                if (live.Count == 0)
                {
                    return;
                }

                (string name, OpenAiClient client) = live[id % live.Count];
                history.Write(await runner.RunAsync(id, name, client, Spec(options, id), cancellationToken).ConfigureAwait(false));
            }
        }

        await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(Client, cancellationToken))).ConfigureAwait(false);
    }
}
