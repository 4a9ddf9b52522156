namespace R1Orleans.Backend;

/// <summary>How <see cref="CpuBackend"/> runs absorbed (latent) attention.</summary>
public enum LatentAttentionKernel
{
    /// <summary>All heads at once against each latent row, read in place from the pages (the default).</summary>
    Tiled,

    /// <summary>The reference: latents gathered into one array, then each head on its own (checks and A/B timing).</summary>
    PerHead,
}
