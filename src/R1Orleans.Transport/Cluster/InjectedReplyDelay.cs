namespace R1Orleans.Transport.Cluster;

/// <summary>
/// Fault injection (silo <c>--fault-injection</c>, the chaos harness's <c>delay</c> fault): for a while, this silo's
/// expert holder answers every step late by a set amount, a gray failure that the ranks' step deadlines must treat like a
/// dead holder. Off unless set; thread-safe.
/// </summary>
public sealed class InjectedReplyDelay
{
    private readonly TimeProvider _time;
    private (TimeSpan Amount, DateTimeOffset Until) _current;
    private readonly Lock _lock = new();

    public InjectedReplyDelay(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <summary>From now on, for <paramref name="duration"/>, replies wait <paramref name="amount"/> more; zero ends it.</summary>
    public void Set(TimeSpan amount, TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(amount, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        lock (_lock)
        {
            _current = (amount, _time.GetUtcNow() + duration);
        }
    }

    /// <summary>How long a reply sent now waits (zero when no delay is set or it has run out).</summary>
    public TimeSpan Current
    {
        get
        {
            lock (_lock)
            {
                return _current.Amount > TimeSpan.Zero && _time.GetUtcNow() < _current.Until ? _current.Amount : TimeSpan.Zero;
            }
        }
    }

    /// <summary>Waits out the current delay, if any.</summary>
    public Task WaitAsync(CancellationToken cancellationToken = default)
    {
        TimeSpan d = Current;
        return d > TimeSpan.Zero ? Task.Delay(d, _time, cancellationToken) : Task.CompletedTask;
    }
}
