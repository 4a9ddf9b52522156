namespace R1Orleans.Placement.Communicators;

/// <summary>What the rendezvous answered a post or a lookup.</summary>
public enum RendezvousStatus
{
    /// <summary>The id of the generation asked about is held (posted now, or before): it is in the reply.</summary>
    Ready = 0,

    /// <summary>A lookup for a generation whose rank 0 has not posted yet: ask again (within the init deadline).</summary>
    Pending = 1,

    /// <summary>The generation is older than the one held: the caller must take up the newer placement first.</summary>
    Stale = 2,

    /// <summary>A second, different id for the held generation, or the same stamp over other ranks: refused.</summary>
    Conflict = 3,

    /// <summary>The caller is not a rank of the generation, or posts without being its rank 0.</summary>
    NotAllowed = 4,
}
