namespace R1Orleans.Model;

/// <summary>
/// One sequence's latent KV cache as MLA sees it: per layer and position, one entry of
/// kv_lora_rank + qk_rope_head_dim floats ([normalized c | rotated k_rope]). The engine implements it with paged blocks.
/// </summary>
public interface ILatentSequenceCache
{
    /// <summary>Stores the entry for a position (the engine has reserved room for it).</summary>
    void Write(int layer, int position, ReadOnlySpan<float> entry);

    /// <summary>Copies the entries of positions [0, count) into dst [count, entry width].</summary>
    void Gather(int layer, int count, Span<float> dst);
}
