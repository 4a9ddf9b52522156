namespace R1Orleans.Backend;

/// <summary>How <see cref="CpuBackend"/> runs attention: absorbed (latent) decode and naive (prefill) alike.</summary>
public enum AttentionKernel
{
    /// <summary>Register-tiled GEMMs: for latent attention all heads at once against each latent row read in place from
    /// the pages; for naive attention blocks of queries per head (the default).</summary>
    Tiled,

    /// <summary>The reference: one dot product and one multiply-add per (head, query, key); latents gathered into one
    /// array first (checks and A/B timing).</summary>
    PerHead,
}
