using System.Diagnostics;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// Computes reference answers: starts one silo alone (localhost clustering, no faults), asks it every key once (not
/// streamed, with logprobs), stops it. A reference that fails is a harness error, not a run result.
/// </summary>
public static class ReferenceRunner
{
    public static async Task<IReadOnlyList<ReferenceAnswer>> ComputeAsync(
        IReadOnlyList<ReferenceKey> keys,
        string silo,
        IReadOnlyList<string> extraArgs,
        string directory,
        string model,
        int concurrency,
        TimeSpan bound,
        TimeSpan readyTimeout,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0)
        {
            return [];
        }

        await using SiloInstance single = SiloInstance.Start("reference", silo, http: true, ["--clustering", "localhost"], extraArgs, directory);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var reader = new ClusterStatusReader(http);
        for (var deadline = DateTime.UtcNow + readyTimeout; !(single.Url is { } url && await reader.HealthyAsync(url, cancellationToken).ConfigureAwait(false)); await Task.Delay(250, cancellationToken).ConfigureAwait(false))
        {
            if (single.Process.HasExited && !await single.RestartIfPortTakenAsync().ConfigureAwait(false))
            {
                throw new InvalidOperationException($"the reference silo exited before it became healthy: {await single.Process.DescribeExitAsync().ConfigureAwait(false)}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the reference silo did not become healthy within {readyTimeout.TotalSeconds:0} s; its log ({single.Process.LogPath}) ends:\n{single.Process.Tail()}");
            }
        }

        using var client = new OpenAiClient(single.Url!.ToString(), null);
        var runner = new RequestRunner(model, bound, Stopwatch.StartNew());
        var answers = new ReferenceAnswer[keys.Count];
        int next = -1;
        async Task Worker()
        {
            for (int i = Interlocked.Increment(ref next); i < keys.Count; i = Interlocked.Increment(ref next))
            {
                ReferenceKey k = keys[i];
                RequestRecord r = await runner.RunAsync(i, "reference", client, new RequestSpec(k.Prompt, k.Temperature, k.Seed, k.MaxTokens, Stream: false), cancellationToken).ConfigureAwait(false);
                if (r.Status != RequestStatus.Completed)
                {
                    throw new InvalidOperationException($"the reference silo failed \"{k.Prompt}\" ({r.Status}): {r.Error}");
                }

                answers[i] = new ReferenceAnswer(k, r.Reasoning, r.Content, r.Tokens, r.FinishReason, r.CompletionTokens);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, concurrency)).Select(_ => Task.Run(Worker, cancellationToken))).ConfigureAwait(false);
        return answers;
    }
}
