namespace R1Orleans.Checkpoint;

/// <summary>Options of <see cref="SyntheticCheckpoint.Write"/>.</summary>
/// <param name="Seed">Seeds every tensor's values; a tensor's values depend only on the seed and its name.</param>
/// <param name="Shards">1 writes <c>model.safetensors</c>; more write that many shards plus the index.</param>
/// <param name="IncludeMtpCopies">Also write the MTP layer's optional copies of the embedding and lm_head (equal to the main ones).</param>
public sealed record SyntheticCheckpointOptions(int Seed = 1, int Shards = 1, bool IncludeMtpCopies = false);

/// <summary>
/// Writes a deterministic random-weight checkpoint directory (config.json plus safetensors in the real DeepSeek-V3 layout)
/// for any <see cref="ModelConfig"/>: every tensor of <see cref="CheckpointSchema.Main"/>, plus
/// <see cref="CheckpointSchema.Mtp"/> when num_nextn_predict_layers is 1. Values are scaled so activations stay near unit
/// size: linear weights ~ N(0, 1/fan_in), norm weights 1 ± 0.05, embeddings ~ N(0, 1), lm_head and gate ~ N(0, 1/hidden),
/// gate bias ~ N(0, 0.01²) (F32). Dense tensors are BF16. With a quantization_config, linear weights are F8_E4M3 with an
/// F32 <c>weight_scale_inv</c> per block (scale = block max / 448; weight = fp8 × scale_inv), as DeepSeek ships them.
/// Tensors are generated in parallel a few ahead of the writer and streamed to disk, so memory stays bounded.
/// </summary>
public static class SyntheticCheckpoint
{
    /// <summary>A tiny MoE model for unit tests (about 1.5 MB in BF16).</summary>
    public static ModelConfig TinyConfig() => new()
    {
        ModelType = "deepseek_v3",
        VocabSize = 512,
        HiddenSize = 128,
        IntermediateSize = 256,
        MoeIntermediateSize = 64,
        NumHiddenLayers = 4,
        NumAttentionHeads = 4,
        NRoutedExperts = 16,
        NSharedExperts = 1,
        NumExpertsPerTok = 4,
        NGroup = 4,
        TopkGroup = 2,
        TopkMethod = "noaux_tc",
        ScoringFunc = "sigmoid",
        NormTopkProb = true,
        RoutedScalingFactor = 2.5,
        FirstKDenseReplace = 1,
        MoeLayerFreq = 1,
        QLoraRank = 64,
        KvLoraRank = 32,
        QkNopeHeadDim = 16,
        QkRopeHeadDim = 8,
        VHeadDim = 16,
        RmsNormEps = 1e-6,
        RopeTheta = 10000,
        RopeScaling = new YarnScaling(Factor: 8, OriginalMaxPositionEmbeddings: 128, BetaFast: 32, BetaSlow: 1, Mscale: 1, MscaleAllDim: 1),
        MaxPositionEmbeddings = 1024,
        NumNextnPredictLayers = 0,
        Quantization = null,
        BosTokenId = 0,
        EosTokenId = 1,
    };

    /// <summary>
    /// DeepSeek-V3's widths and vocabulary at reduced depth (1 dense + 3 MoE layers of 256 routed experts, no MTP layer),
    /// FP8 as V3 ships (35.1 GB of FP8 linears; the embedding and lm_head another 3.7 GB): the GPU benchmark's
    /// full-width model. Too large for the CPU path.
    /// </summary>
    public static ModelConfig V3ReducedConfig() => MediumConfig() with
    {
        VocabSize = 129280,
        HiddenSize = 7168,
        IntermediateSize = 18432,
        MoeIntermediateSize = 2048,
        NumHiddenLayers = 4,
        NumAttentionHeads = 128,
        NRoutedExperts = 256,
        NSharedExperts = 1,
        NumExpertsPerTok = 8,
        NGroup = 8,
        TopkGroup = 4,
        FirstKDenseReplace = 1,
        QLoraRank = 1536,
        KvLoraRank = 512,
        QkNopeHeadDim = 128,
        QkRopeHeadDim = 64,
        VHeadDim = 128,
        NumNextnPredictLayers = 0,
    };

    /// <summary>
    /// A mid-sized FP8 model with an MTP layer for CPU benchmarks: 8 layers (1 dense), 64 routed experts in 8 groups,
    /// hidden 1024; about 0.45 GB on disk.
    /// </summary>
    public static ModelConfig MediumConfig() => new()
    {
        ModelType = "deepseek_v3",
        VocabSize = 8192,
        HiddenSize = 1024,
        IntermediateSize = 2816,
        MoeIntermediateSize = 256,
        NumHiddenLayers = 8,
        NumAttentionHeads = 16,
        NRoutedExperts = 64,
        NSharedExperts = 1,
        NumExpertsPerTok = 6,
        NGroup = 8,
        TopkGroup = 4,
        TopkMethod = "noaux_tc",
        ScoringFunc = "sigmoid",
        NormTopkProb = true,
        RoutedScalingFactor = 2.5,
        FirstKDenseReplace = 1,
        MoeLayerFreq = 1,
        QLoraRank = 384,
        KvLoraRank = 256,
        QkNopeHeadDim = 64,
        QkRopeHeadDim = 32,
        VHeadDim = 64,
        RmsNormEps = 1e-6,
        RopeTheta = 10000,
        RopeScaling = new YarnScaling(Factor: 40, OriginalMaxPositionEmbeddings: 4096, BetaFast: 32, BetaSlow: 1, Mscale: 1, MscaleAllDim: 1),
        MaxPositionEmbeddings = 163840,
        NumNextnPredictLayers = 1,
        Quantization = new Fp8Quantization("e4m3", 128, 128),
        BosTokenId = 0,
        EosTokenId = 1,
    };

    /// <summary>
    /// Writes config.json and the weights into <paramref name="directory"/> (created if needed). Weight files a previous
    /// run left there (model.safetensors, model-*-of-*.safetensors, the index) are removed first so the directory is
    /// consistent. The config is validated as <see cref="ModelConfigParser"/> would; an invalid one throws <see cref="ConfigException"/>.
    /// </summary>
    public static void Write(string directory, ModelConfig config, SyntheticCheckpointOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(config);
        options ??= new SyntheticCheckpointOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Shards, 1, nameof(options));
        _ = ModelConfigParser.Parse(ModelConfigWriter.ToJson(config));

        System.IO.Directory.CreateDirectory(directory);
        RemoveWeightFiles(directory);
        ModelConfigWriter.Write(Path.Combine(directory, "config.json"), config);

        List<Job> jobs = Plan(config, options);
        var pipeline = new Pipeline(jobs, (ulong)(uint)options.Seed, config.Quantization);
        var tensors = new List<SafetensorsTensor>(jobs.Count * 2);
        var groups = new List<int>(jobs.Count * 2);
        for (int j = 0; j < jobs.Count; j++)
        {
            Job job = jobs[j];
            int index = j;
            tensors.Add(SafetensorsTensor.Deferred(job.Name, job.DType, job.Shape, s => s.Write(pipeline.TakeData(index))));
            groups.Add(j);
            if (job.DType == DType.F8_E4M3)
            {
                long[] scaleShape = Fp8BlockDequantizer.ScaleShape(job.Shape[0], job.Shape[1], config.Quantization!);
                tensors.Add(SafetensorsTensor.Deferred(TensorNames.ScaleOf(job.Name), DType.F32, scaleShape, s => s.Write(pipeline.TakeScale(index))));
                groups.Add(j);
            }
        }

        if (options.Shards == 1)
        {
            SafetensorsWriter.Write(Path.Combine(directory, CheckpointReader.SingleFileName), tensors, SafetensorsWriter.PtMetadata);
        }
        else
        {
            SafetensorsWriter.WriteSharded(directory, tensors, options.Shards, SafetensorsWriter.PtMetadata, groups);
        }
    }

    /// <summary>The tensors <see cref="Write"/> produces for <paramref name="config"/>, in file order, without their scales.</summary>
    public static IReadOnlyList<ExpectedTensor> Tensors(ModelConfig config, SyntheticCheckpointOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new SyntheticCheckpointOptions();
        IEnumerable<ExpectedTensor> all = CheckpointSchema.Main(config);
        if (config.NumNextnPredictLayers > 0)
        {
            all = all.Concat(CheckpointSchema.Mtp(config).Where(e => !e.Optional || options.IncludeMtpCopies));
        }

        return all.ToList();
    }

    private static void RemoveWeightFiles(string directory)
    {
        foreach (string f in System.IO.Directory.EnumerateFiles(directory, "model*.safetensors*"))
        {
            string name = Path.GetFileName(f);
            if (name == CheckpointReader.SingleFileName || name == ShardIndex.FileName
                || (name.StartsWith("model-", StringComparison.Ordinal) && name.EndsWith(".safetensors", StringComparison.Ordinal) && name.Contains("-of-", StringComparison.Ordinal)))
            {
                File.Delete(f);
            }
        }
    }

    private enum Kind
    {
        Linear,
        Norm,
        Embedding,
        Head,
        Gate,
        GateBias,
    }

    private sealed record Job(string Name, string SeedName, Kind Kind, DType DType, long[] Shape)
    {
        public long Elements => Shape.Aggregate(1L, (a, b) => a * b);
    }

    private static List<Job> Plan(ModelConfig c, SyntheticCheckpointOptions options)
    {
        string mtpEmbed = TensorNames.Mtp(c.NumHiddenLayers, "embed_tokens.weight");
        string mtpHead = TensorNames.Mtp(c.NumHiddenLayers, "shared_head.head.weight");
        var jobs = new List<Job>();
        foreach (ExpectedTensor e in Tensors(c, options))
        {
            if (e.Shape.Aggregate(1L, (a, b) => a * b) > Array.MaxLength)
            {
                throw new ArgumentException($"tensor '{e.Name}' {string.Join("x", e.Shape)} is too large for a synthetic checkpoint", nameof(c));
            }

            string seedName = e.Name == mtpEmbed ? TensorNames.Embedding : e.Name == mtpHead ? TensorNames.LmHead : e.Name;
            Kind kind;
            if (e.Role == TensorRole.Linear)
            {
                kind = Kind.Linear;
            }
            else if (e.Name.EndsWith("e_score_correction_bias", StringComparison.Ordinal))
            {
                kind = Kind.GateBias;
            }
            else if (e.Shape.Length == 1)
            {
                kind = Kind.Norm;
            }
            else if (seedName == TensorNames.Embedding)
            {
                kind = Kind.Embedding;
            }
            else if (e.Name.EndsWith(".mlp.gate.weight", StringComparison.Ordinal))
            {
                kind = Kind.Gate;
            }
            else
            {
                kind = Kind.Head;
            }

            DType dtype = kind switch
            {
                Kind.GateBias => DType.F32,
                Kind.Linear when c.Quantization is not null => DType.F8_E4M3,
                _ => DType.BF16,
            };
            jobs.Add(new Job(e.Name, seedName, kind, dtype, e.Shape));
        }

        return jobs;
    }

    private sealed class Result(byte[] data, byte[]? scale)
    {
        public byte[] Data { get; } = data;

        public byte[]? Scale { get; } = scale;
    }

    /// <summary>Generates jobs on the thread pool a bounded number ahead of the (sequential) writer.</summary>
    private sealed class Pipeline(List<Job> jobs, ulong seed, Fp8Quantization? quantization)
    {
        private readonly Task<Result>?[] _tasks = new Task<Result>?[jobs.Count];
        private readonly int _window = Math.Max(4, 2 * Environment.ProcessorCount);
        private int _started;

        public byte[] TakeData(int index)
        {
            Result r = Get(index);
            if (r.Scale is null)
            {
                _tasks[index] = null;
            }

            return r.Data;
        }

        public byte[] TakeScale(int index)
        {
            Result r = Get(index);
            _tasks[index] = null;
            return r.Scale!;
        }

        private Result Get(int index)
        {
            while (_started < jobs.Count && _started <= index + _window)
            {
                Job job = jobs[_started];
                _tasks[_started] = Task.Run(() => Generate(job, seed, quantization));
                _started++;
            }

            Task<Result> task = _tasks[index] ?? throw new InvalidOperationException($"tensor '{jobs[index].Name}' was already written");
            return task.GetAwaiter().GetResult();
        }
    }

    private static Result Generate(Job job, ulong seed, Fp8Quantization? quantization)
    {
        var values = new float[job.Elements];
        var rng = new SplitMix64(seed, job.SeedName);
        switch (job.Kind)
        {
            case Kind.Norm:
                rng.FillNormal(values, 1f, 0.05f);
                break;
            case Kind.GateBias:
                rng.FillNormal(values, 0f, 0.01f);
                break;
            case Kind.Embedding:
                rng.FillNormal(values, 0f, 1f);
                break;
            default:
                rng.FillNormal(values, 0f, 1f / MathF.Sqrt(job.Shape[1]));
                break;
        }

        if (job.DType == DType.F8_E4M3)
        {
            return QuantizeFp8(values, (int)job.Shape[0], (int)job.Shape[1], quantization!);
        }

        byte[] data = new byte[values.Length * job.DType.ByteSize()];
        ElementEncoding.Encode(job.DType, values, data);
        return new Result(data, null);
    }

    private static Result QuantizeFp8(float[] w, int rows, int cols, Fp8Quantization q)
    {
        long[] scaleShape = Fp8BlockDequantizer.ScaleShape(rows, cols, q);
        var scale = new float[scaleShape[0] * scaleShape[1]];
        byte[] data = new byte[w.Length];
        SafetensorsWriter.QuantizeFp8Blocks(w, rows, cols, q, data, scale);
        byte[] scaleBytes = new byte[scale.Length * 4];
        ElementEncoding.Encode(DType.F32, scale, scaleBytes);
        return new Result(data, scaleBytes);
    }

    /// <summary>SplitMix64 seeded from the checkpoint seed and a tensor name (FNV-1a), so values do not depend on file order.</summary>
    private struct SplitMix64
    {
        private ulong _state;

        public SplitMix64(ulong seed, string name)
        {
            ulong h = 14695981039346656037UL;
            foreach (char ch in name)
            {
                h = (h ^ ch) * 1099511628211UL;
            }

            _state = h ^ (seed * 0x9E3779B97F4A7C15UL);
            _ = Next();
        }

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Approximately normal values (Irwin-Hall sum of four 16-bit uniforms, variance-matched; |z| ≤ 3.46).</summary>
        public void FillNormal(Span<float> dst, float mean, float std)
        {
            const float unit = 1f / 65536f;
            float k = std * MathF.Sqrt(3f);
            for (int i = 0; i < dst.Length; i++)
            {
                ulong x = Next();
                float sum = (((uint)x & 0xFFFF) + ((uint)(x >> 16) & 0xFFFF) + ((uint)(x >> 32) & 0xFFFF) + (uint)(x >> 48) + 2f) * unit;
                dst[i] = mean + ((sum - 2f) * k);
            }
        }
    }
}
