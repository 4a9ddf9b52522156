using Microsoft.Extensions.Options;

namespace R1Orleans.Gateway;

/// <summary>
/// Where large prompts are tokenized: on the thread pool, at most <see cref="Slots"/> at a time, the rest waiting their
/// turn (asynchronously, and giving up when their client goes away). A flood of big prompts then costs at most that many
/// cores and never holds up the small prompts of normal requests, which are tokenized at once on their own request
/// (under <see cref="InlineBytes"/> a prompt takes milliseconds).
/// </summary>
internal sealed class TokenizerGate : IDisposable
{
    /// <summary>Prompts up to this many UTF-8 bytes are tokenized inline, without a slot.</summary>
    public const int InlineBytes = 16 * 1024;

    private readonly SemaphoreSlim _slots;
    private int _queued;

    public TokenizerGate(IOptions<GatewayOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Slots = options.Value.EffectiveTokenizerConcurrency;
        _slots = new SemaphoreSlim(Slots, Slots);
    }

    public int Slots { get; }

    /// <summary>Tokenizations waiting for a slot.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Runs <paramref name="work"/> on the thread pool once a slot is free.</summary>
    public async Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellation)
    {
        Interlocked.Increment(ref _queued);
        try
        {
            await _slots.WaitAsync(cancellation).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _queued);
        }

        try
        {
            return await Task.Run(work, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    public void Dispose() => _slots.Dispose();
}
