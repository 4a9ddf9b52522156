using System.Buffers;
using System.Text;
using System.Text.Json;

namespace R1Orleans.Checkpoint;

/// <summary>
/// Serializes a <see cref="ModelConfig"/> as a Hugging Face config.json (snake_case fields, the layout
/// transformers' DeepseekV3Config writes), such that <see cref="ModelConfigParser.Parse"/> gives the same record back.
/// rope_scaling and quantization_config are left out when absent; q_lora_rank is written as null when absent.
/// </summary>
public static class ModelConfigWriter
{
    public static void Write(string path, ModelConfig config) => File.WriteAllText(path, ToJson(config));

    public static string ToJson(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("architectures");
            w.WriteStringValue("DeepseekV3ForCausalLM");
            w.WriteEndArray();
            w.WriteString("model_type", c.ModelType);
            w.WriteBoolean("attention_bias", false);
            w.WriteNumber("attention_dropout", 0.0);
            WriteOptionalInt(w, "bos_token_id", c.BosTokenId);
            WriteOptionalInt(w, "eos_token_id", c.EosTokenId);
            w.WriteString("hidden_act", "silu");
            w.WriteNumber("vocab_size", c.VocabSize);
            w.WriteNumber("hidden_size", c.HiddenSize);
            w.WriteNumber("intermediate_size", c.IntermediateSize);
            w.WriteNumber("moe_intermediate_size", c.MoeIntermediateSize);
            w.WriteNumber("num_hidden_layers", c.NumHiddenLayers);
            w.WriteNumber("num_attention_heads", c.NumAttentionHeads);
            w.WriteNumber("num_key_value_heads", c.NumAttentionHeads);
            w.WriteNumber("n_routed_experts", c.NRoutedExperts);
            w.WriteNumber("n_shared_experts", c.NSharedExperts);
            w.WriteNumber("num_experts_per_tok", c.NumExpertsPerTok);
            w.WriteNumber("n_group", c.NGroup);
            w.WriteNumber("topk_group", c.TopkGroup);
            w.WriteString("topk_method", c.TopkMethod);
            w.WriteString("scoring_func", c.ScoringFunc);
            w.WriteBoolean("norm_topk_prob", c.NormTopkProb);
            w.WriteNumber("routed_scaling_factor", c.RoutedScalingFactor);
            w.WriteNumber("first_k_dense_replace", c.FirstKDenseReplace);
            w.WriteNumber("moe_layer_freq", c.MoeLayerFreq);
            if (c.QLoraRank is int q)
            {
                w.WriteNumber("q_lora_rank", q);
            }
            else
            {
                w.WriteNull("q_lora_rank");
            }

            w.WriteNumber("kv_lora_rank", c.KvLoraRank);
            w.WriteNumber("qk_nope_head_dim", c.QkNopeHeadDim);
            w.WriteNumber("qk_rope_head_dim", c.QkRopeHeadDim);
            w.WriteNumber("v_head_dim", c.VHeadDim);
            w.WriteNumber("rms_norm_eps", c.RmsNormEps);
            w.WriteNumber("rope_theta", c.RopeTheta);
            if (c.RopeScaling is YarnScaling y)
            {
                w.WriteStartObject("rope_scaling");
                w.WriteString("type", "yarn");
                w.WriteNumber("factor", y.Factor);
                w.WriteNumber("original_max_position_embeddings", y.OriginalMaxPositionEmbeddings);
                w.WriteNumber("beta_fast", y.BetaFast);
                w.WriteNumber("beta_slow", y.BetaSlow);
                w.WriteNumber("mscale", y.Mscale);
                w.WriteNumber("mscale_all_dim", y.MscaleAllDim);
                w.WriteEndObject();
            }

            w.WriteNumber("max_position_embeddings", c.MaxPositionEmbeddings);
            w.WriteNumber("num_nextn_predict_layers", c.NumNextnPredictLayers);
            if (c.Quantization is Fp8Quantization fp8)
            {
                w.WriteStartObject("quantization_config");
                w.WriteString("quant_method", "fp8");
                w.WriteString("fmt", fp8.Format);
                w.WriteString("activation_scheme", "dynamic");
                w.WriteStartArray("weight_block_size");
                w.WriteNumberValue(fp8.BlockRows);
                w.WriteNumberValue(fp8.BlockCols);
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteBoolean("tie_word_embeddings", false);
            w.WriteString("torch_dtype", "bfloat16");
            w.WriteBoolean("use_cache", true);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    private static void WriteOptionalInt(Utf8JsonWriter w, string name, int? value)
    {
        if (value is int v)
        {
            w.WriteNumber(name, v);
        }
    }
}
