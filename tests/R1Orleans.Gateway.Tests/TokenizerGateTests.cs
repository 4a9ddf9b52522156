namespace R1Orleans.Gateway.Tests;

/// <summary>The tokenizer gate: at most its slots run at once, the rest wait.</summary>
public sealed class TokenizerGateTests
{
    [Fact]
    public async Task At_most_the_slots_run_at_once_and_the_rest_wait_their_turn()
    {
        using var gate = new TokenizerGate(Microsoft.Extensions.Options.Options.Create(new GatewayOptions { TokenizerConcurrency = 2 }));
        using var release = new ManualResetEventSlim();
        int running = 0;
        int most = 0;
        Task<int>[] jobs = [.. Enumerable.Range(0, 10).Select(i => gate.RunAsync(() =>
        {
            int now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            release.Wait(TimeSpan.FromSeconds(30));
            Interlocked.Decrement(ref running);
            return i;
        }, CancellationToken.None))];

        // Two run and block; eight wait for a slot.
        for (int i = 0; i < 3000 && !(Volatile.Read(ref running) == 2 && gate.Queued == 8); i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal((2, 8), (Volatile.Read(ref running), gate.Queued));
        release.Set();
        Assert.Equal(Enumerable.Range(0, 10), await Task.WhenAll(jobs).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, most);
        Assert.Equal(0, gate.Queued);
    }

    [Fact]
    public async Task A_waiter_whose_client_left_gives_up_its_turn()
    {
        using var gate = new TokenizerGate(Microsoft.Extensions.Options.Options.Create(new GatewayOptions { TokenizerConcurrency = 1 }));
        using var release = new ManualResetEventSlim();
        Task<int> busy = gate.RunAsync(() => release.Wait(TimeSpan.FromSeconds(30)) ? 1 : 0, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        bool ran = false;
        Task<int> waiting = gate.RunAsync(() => { ran = true; return 2; }, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        release.Set();
        Assert.Equal(1, await busy);
        Assert.False(ran);
        Assert.Equal(3, await gate.RunAsync(() => 3, CancellationToken.None));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
