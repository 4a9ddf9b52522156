namespace R1Orleans.Model;

/// <summary>
/// The gate bias a model routes with when it is not the checkpoint's: set atomically by the load balancer (any thread),
/// read once at the start of every forward step, which keeps that version for all its layers. Versions only go up: a
/// bias older than (or as old as) the one set is ignored, so late or repeated pushes cannot undo a newer one.
/// </summary>
public sealed class GateBiasSlot
{
    private GateBias? _current;

    /// <summary>The online bias, or null while the checkpoint's is used.</summary>
    public GateBias? Current => Volatile.Read(ref _current);

    /// <summary>Sets <paramref name="next"/> unless a bias of the same or a newer version is already set; true when set.</summary>
    public bool TrySet(GateBias next)
    {
        ArgumentNullException.ThrowIfNull(next);
        while (true)
        {
            GateBias? seen = Volatile.Read(ref _current);
            if (next.Version <= (seen?.Version ?? 0))
            {
                return false;
            }

            if (ReferenceEquals(Interlocked.CompareExchange(ref _current, next, seen), seen))
            {
                return true;
            }
        }
    }
}
