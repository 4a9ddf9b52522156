namespace R1Orleans.Checkpoint;

/// <summary>Tensor names of the Hugging Face DeepSeek-V3 layout, in one place.</summary>
public static class TensorNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";
    public const string ScaleSuffix = "_scale_inv";

    public static string Layer(int layer) => $"model.layers.{layer}.";

    public static string Attn(int layer, string part) => $"model.layers.{layer}.self_attn.{part}.weight";

    public static string InputNorm(int layer) => $"model.layers.{layer}.input_layernorm.weight";

    public static string PostAttentionNorm(int layer) => $"model.layers.{layer}.post_attention_layernorm.weight";

    /// <summary>Dense MLP projection: part is gate_proj, up_proj or down_proj.</summary>
    public static string Mlp(int layer, string part) => $"model.layers.{layer}.mlp.{part}.weight";

    public static string Expert(int layer, int expert, string part) => $"model.layers.{layer}.mlp.experts.{expert}.{part}.weight";

    public static string SharedExpert(int layer, string part) => $"model.layers.{layer}.mlp.shared_experts.{part}.weight";

    public static string Gate(int layer) => $"model.layers.{layer}.mlp.gate.weight";

    public static string GateBias(int layer) => $"model.layers.{layer}.mlp.gate.e_score_correction_bias";

    public static string Mtp(int layer, string part) => $"model.layers.{layer}.{part}";

    public static string ScaleOf(string weight) => weight + ScaleSuffix;
}
