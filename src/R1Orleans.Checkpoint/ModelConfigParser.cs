using System.Text.Json;

namespace R1Orleans.Checkpoint;

/// <summary>
/// Reads a Hugging Face config.json of the DeepSeek-V3 family and rejects what this runtime does not implement,
/// naming the field and the value.
/// </summary>
public static class ModelConfigParser
{
    public const long MaxConfigBytes = 1024 * 1024;

    public static ModelConfig Load(string path)
    {
        if (!RegularFile.Exists(path))
        {
            throw new FileNotFoundException($"config.json not found at {path}", path);
        }

        return Parse(RegularFile.ReadAllText(path, MaxConfigBytes, length => new ConfigException("(file)", $"{path} is {length} bytes, over the {MaxConfigBytes}-byte cap")));
    }

    public static ModelConfig Parse(string json)
    {
        try
        {
            return ParseDocument(json);
        }
        catch (InvalidOperationException e)
        {
            // JsonDocument checks strings lazily: a lone surrogate escape surfaces only when the value is read.
            throw new ConfigException("(file)", $"holds a string that is not valid UTF-16: {e.Message}");
        }
    }

    private static ModelConfig ParseDocument(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ConfigException("(file)", $"not valid JSON: {e.Message}");
        }

        using (doc)
        {
            JsonElement r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException("(file)", "the top level is not a JSON object");
            }

            string modelType = Str(r, "model_type");
            if (modelType != "deepseek_v3")
            {
                throw new ConfigException("model_type", $"'{modelType}' is not supported; expected 'deepseek_v3'");
            }

            string scoring = OptStr(r, "scoring_func") ?? "sigmoid";
            if (scoring != "sigmoid")
            {
                throw new ConfigException("scoring_func", $"'{scoring}' is not supported; expected 'sigmoid'");
            }

            string topkMethod = OptStr(r, "topk_method") ?? "noaux_tc";
            if (topkMethod != "noaux_tc")
            {
                throw new ConfigException("topk_method", $"'{topkMethod}' is not supported; expected 'noaux_tc'");
            }

            string act = OptStr(r, "hidden_act") ?? "silu";
            if (act != "silu")
            {
                throw new ConfigException("hidden_act", $"'{act}' is not supported; expected 'silu'");
            }

            if (OptBool(r, "tie_word_embeddings") == true)
            {
                throw new ConfigException("tie_word_embeddings", "true is not supported; DeepSeek-V3 has a separate lm_head");
            }

            if (OptBool(r, "attention_bias") == true)
            {
                throw new ConfigException("attention_bias", "true is not supported; MLA projections have no bias");
            }

            var c = new ModelConfig
            {
                ModelType = modelType,
                VocabSize = Positive(r, "vocab_size"),
                HiddenSize = Positive(r, "hidden_size"),
                IntermediateSize = Positive(r, "intermediate_size"),
                MoeIntermediateSize = Positive(r, "moe_intermediate_size"),
                NumHiddenLayers = Positive(r, "num_hidden_layers"),
                NumAttentionHeads = Positive(r, "num_attention_heads"),
                NRoutedExperts = Positive(r, "n_routed_experts"),
                NSharedExperts = OptInt(r, "n_shared_experts") ?? 0,
                NumExpertsPerTok = Positive(r, "num_experts_per_tok"),
                NGroup = OptInt(r, "n_group") ?? 1,
                TopkGroup = OptInt(r, "topk_group") ?? 1,
                TopkMethod = topkMethod,
                ScoringFunc = scoring,
                NormTopkProb = OptBool(r, "norm_topk_prob") ?? true,
                RoutedScalingFactor = OptDouble(r, "routed_scaling_factor") ?? 1.0,
                FirstKDenseReplace = OptInt(r, "first_k_dense_replace") ?? 0,
                MoeLayerFreq = OptInt(r, "moe_layer_freq") ?? 1,
                QLoraRank = OptInt(r, "q_lora_rank"),
                KvLoraRank = Positive(r, "kv_lora_rank"),
                QkNopeHeadDim = Positive(r, "qk_nope_head_dim"),
                QkRopeHeadDim = Positive(r, "qk_rope_head_dim"),
                VHeadDim = Positive(r, "v_head_dim"),
                RmsNormEps = OptDouble(r, "rms_norm_eps") ?? 1e-6,
                RopeTheta = OptDouble(r, "rope_theta") ?? 10000.0,
                RopeScaling = ParseRopeScaling(r),
                MaxPositionEmbeddings = Positive(r, "max_position_embeddings"),
                NumNextnPredictLayers = OptInt(r, "num_nextn_predict_layers") ?? 0,
                Quantization = ParseQuantization(r),
                BosTokenId = OptInt(r, "bos_token_id"),
                EosTokenId = OptInt(r, "eos_token_id"),
            };
            Validate(c);
            return c;
        }
    }

    private static void Validate(ModelConfig c)
    {
        if (c.NSharedExperts < 0)
        {
            throw new ConfigException("n_shared_experts", $"{c.NSharedExperts} is negative");
        }

        if (c.MoeLayerFreq != 1)
        {
            throw new ConfigException("moe_layer_freq", $"{c.MoeLayerFreq} is not supported; expected 1");
        }

        if (c.FirstKDenseReplace < 0 || c.FirstKDenseReplace > c.NumHiddenLayers)
        {
            throw new ConfigException("first_k_dense_replace", $"{c.FirstKDenseReplace} is outside 0..num_hidden_layers ({c.NumHiddenLayers})");
        }

        if (c.NGroup < 1 || c.NRoutedExperts % c.NGroup != 0)
        {
            throw new ConfigException("n_group", $"{c.NGroup} does not divide n_routed_experts ({c.NRoutedExperts})");
        }

        if (c.TopkGroup < 1 || c.TopkGroup > c.NGroup)
        {
            throw new ConfigException("topk_group", $"{c.TopkGroup} is outside 1..n_group ({c.NGroup})");
        }

        if (c.NGroup > 1 && c.ExpertsPerGroup < 2)
        {
            throw new ConfigException("n_group", $"{c.NGroup} groups leave {c.ExpertsPerGroup} expert per group; group scores need at least 2");
        }

        if (c.NumExpertsPerTok > c.TopkGroup * c.ExpertsPerGroup)
        {
            throw new ConfigException(
                "num_experts_per_tok", $"{c.NumExpertsPerTok} exceeds the {c.TopkGroup * c.ExpertsPerGroup} experts in topk_group ({c.TopkGroup}) groups");
        }

        if (c.QLoraRank is { } q && q <= 0)
        {
            throw new ConfigException("q_lora_rank", $"{q} must be positive or null");
        }

        if (c.QkRopeHeadDim % 2 != 0)
        {
            throw new ConfigException("qk_rope_head_dim", $"{c.QkRopeHeadDim} must be even (RoPE rotates pairs)");
        }

        if (c.RmsNormEps <= 0)
        {
            throw new ConfigException("rms_norm_eps", $"{c.RmsNormEps} must be positive");
        }

        if (c.RopeTheta <= 1)
        {
            throw new ConfigException("rope_theta", $"{c.RopeTheta} must be greater than 1");
        }

        if (c.NumNextnPredictLayers is < 0 or > 1)
        {
            throw new ConfigException("num_nextn_predict_layers", $"{c.NumNextnPredictLayers} is not supported; expected 0 or 1");
        }

        if (c.RoutedScalingFactor <= 0)
        {
            throw new ConfigException("routed_scaling_factor", $"{c.RoutedScalingFactor} must be positive");
        }

        if (c.BosTokenId is { } bos && (bos < 0 || bos >= c.VocabSize))
        {
            throw new ConfigException("bos_token_id", $"{bos} is outside the vocabulary (0..{c.VocabSize - 1})");
        }

        if (c.EosTokenId is { } eos && (eos < 0 || eos >= c.VocabSize))
        {
            throw new ConfigException("eos_token_id", $"{eos} is outside the vocabulary (0..{c.VocabSize - 1})");
        }
    }

    private static YarnScaling? ParseRopeScaling(JsonElement r)
    {
        if (!r.TryGetProperty("rope_scaling", out JsonElement s) || s.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (s.ValueKind != JsonValueKind.Object)
        {
            throw new ConfigException("rope_scaling", $"is a JSON {s.ValueKind}, expected an object or null");
        }

        string type = OptStr(s, "type", "rope_scaling.type") ?? OptStr(s, "rope_type", "rope_scaling.rope_type")
            ?? throw new ConfigException("rope_scaling.type", "missing");
        if (type != "yarn")
        {
            throw new ConfigException("rope_scaling.type", $"'{type}' is not supported; expected 'yarn' or no rope_scaling");
        }

        double factor = OptDouble(s, "factor", "rope_scaling.factor") ?? throw new ConfigException("rope_scaling.factor", "missing");
        if (factor < 1)
        {
            throw new ConfigException("rope_scaling.factor", $"{factor} must be at least 1");
        }

        int orig = OptInt(s, "original_max_position_embeddings", "rope_scaling.original_max_position_embeddings")
            ?? throw new ConfigException("rope_scaling.original_max_position_embeddings", "missing");
        if (orig <= 0)
        {
            throw new ConfigException("rope_scaling.original_max_position_embeddings", $"{orig} must be positive");
        }

        var y = new YarnScaling(
            factor,
            orig,
            OptDouble(s, "beta_fast", "rope_scaling.beta_fast") ?? 32,
            OptDouble(s, "beta_slow", "rope_scaling.beta_slow") ?? 1,
            OptDouble(s, "mscale", "rope_scaling.mscale") ?? 1,
            OptDouble(s, "mscale_all_dim", "rope_scaling.mscale_all_dim") ?? 0);
        if (y.BetaFast <= 0 || y.BetaSlow <= 0)
        {
            throw new ConfigException("rope_scaling.beta_fast", $"beta_fast {y.BetaFast} and beta_slow {y.BetaSlow} must be positive");
        }

        return y;
    }

    private static Fp8Quantization? ParseQuantization(JsonElement r)
    {
        if (!r.TryGetProperty("quantization_config", out JsonElement q) || q.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (q.ValueKind != JsonValueKind.Object)
        {
            throw new ConfigException("quantization_config", $"is a JSON {q.ValueKind}, expected an object");
        }

        string method = OptStr(q, "quant_method", "quantization_config.quant_method") ?? "(missing)";
        if (method != "fp8")
        {
            throw new ConfigException("quantization_config.quant_method", $"'{method}' is not supported; expected 'fp8'");
        }

        string fmt = OptStr(q, "fmt", "quantization_config.fmt") ?? "e4m3";
        if (fmt != "e4m3")
        {
            throw new ConfigException("quantization_config.fmt", $"'{fmt}' is not supported; expected 'e4m3'");
        }

        if (!q.TryGetProperty("weight_block_size", out JsonElement b) || b.ValueKind != JsonValueKind.Array || b.GetArrayLength() != 2
            || !b[0].TryGetInt32(out int br) || !b[1].TryGetInt32(out int bc) || br <= 0 || bc <= 0)
        {
            throw new ConfigException("quantization_config.weight_block_size", "expected an array of two positive integers, such as [128, 128]");
        }

        if (br != 128 || bc != 128)
        {
            throw new ConfigException("quantization_config.weight_block_size", $"[{br}, {bc}] is not supported; expected [128, 128]");
        }

        return new Fp8Quantization(fmt, br, bc);
    }

    private static JsonElement Field(JsonElement r, string name, string? path = null) =>
        r.TryGetProperty(name, out JsonElement e) ? e : throw new ConfigException(path ?? name, "missing");

    private static string Str(JsonElement r, string name) =>
        OptStr(r, name) ?? throw new ConfigException(name, "missing");

    private static string? OptStr(JsonElement r, string name, string? path = null)
    {
        if (!r.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return e.ValueKind == JsonValueKind.String ? e.GetString() : throw new ConfigException(path ?? name, $"is a JSON {e.ValueKind}, expected a string");
    }

    private static int Positive(JsonElement r, string name)
    {
        JsonElement e = Field(r, name);
        int v = AsInt(e, name);
        return v > 0 ? v : throw new ConfigException(name, $"{v} must be positive");
    }

    private static int? OptInt(JsonElement r, string name, string? path = null)
    {
        if (!r.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return AsInt(e, path ?? name);
    }

    private static int AsInt(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Number)
        {
            throw new ConfigException(path, $"is a JSON {e.ValueKind}, expected an integer");
        }

        if (e.TryGetInt32(out int v))
        {
            return v;
        }

        // Integral values written as 4.0 are accepted; 4.5 or out-of-range numbers are not.
        if (e.TryGetDouble(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
        {
            return (int)d;
        }

        throw new ConfigException(path, $"{e.GetRawText()} is not a 32-bit integer");
    }

    private static double? OptDouble(JsonElement r, string name, string? path = null)
    {
        if (!r.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double d) || !double.IsFinite(d))
        {
            throw new ConfigException(path ?? name, $"{e.GetRawText()} is not a finite number");
        }

        return d;
    }

    private static bool? OptBool(JsonElement r, string name)
    {
        if (!r.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ConfigException(name, $"is a JSON {e.ValueKind}, expected true or false"),
        };
    }
}
