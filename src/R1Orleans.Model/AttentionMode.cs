namespace R1Orleans.Model;

/// <summary>Which MLA formulation to run. Both compute the same function; tests prove they agree.</summary>
public enum AttentionMode
{
    /// <summary>Naive for chunks of several new tokens (prefill), absorbed for single-token decode steps.</summary>
    Auto,

    /// <summary>Decompress keys and values from the latent with kv_b, then standard attention (the reference).</summary>
    Naive,

    /// <summary>Fold kv_b's key half into the query and its value half after softmax; attend to the latent directly.</summary>
    Absorbed,
}
