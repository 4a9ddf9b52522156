namespace R1Orleans.Checkpoint;

/// <summary>
/// A Hugging Face checkpoint directory of the DeepSeek-V3 family: config.json plus model.safetensors or shards
/// with an index. Opening it validates every header and every tensor's shape and type against the config, but
/// reads no tensor data; <see cref="ReadWeight"/> reads (and dequantizes) one tensor by name on demand.
/// Thread-safe for concurrent reads.
/// </summary>
public sealed partial class CheckpointReader : IDisposable
{
    public const string SingleFileName = "model.safetensors";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _owner;
    private long _bytesRead;

    private CheckpointReader(string directory, ModelConfig config, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> owner, bool hasMtp, CheckpointReadOptions options)
    {
        Directory = directory;
        Options = options;
        Config = config;
        _files = files;
        _owner = owner;
        HasMtp = hasMtp;
    }

    public string Directory { get; }

    /// <summary>What this reader was opened with.</summary>
    public CheckpointReadOptions Options { get; }

    public ModelConfig Config { get; }

    /// <summary>True when the config asks for an MTP layer and the checkpoint carries its tensors.</summary>
    public bool HasMtp { get; }

    public IEnumerable<string> TensorNames => _owner.Keys;

    public IReadOnlyList<string> Files => _files.Select(f => f.Path).ToList();

    /// <summary>Bytes of tensor data read so far (weights plus their scales).</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Sum of all tensor byte lengths across the files.</summary>
    public long TotalTensorBytes => _files.Sum(f => f.Tensors.Sum(t => t.ByteLength));

    public static CheckpointReader Open(string directory, CheckpointReadOptions? options = null)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"checkpoint directory not found: {directory}");
        }

        ModelConfig config = ModelConfigParser.Load(Path.Combine(directory, "config.json"));
        var files = new List<SafetensorsFile>();
        try
        {
            Dictionary<string, SafetensorsFile> owner = OpenFiles(directory, files);
            bool hasMtp = config.NumNextnPredictLayers > 0 && owner.Keys.Any(n => n.StartsWith(Checkpoint.TensorNames.Layer(config.NumHiddenLayers), StringComparison.Ordinal));
            var reader = new CheckpointReader(directory, config, files, owner, hasMtp, options ?? CheckpointReadOptions.Default);
            reader.Validate();
            return reader;
        }
        catch
        {
            foreach (SafetensorsFile f in files)
            {
                f.Dispose();
            }

            throw;
        }
    }

    private static Dictionary<string, SafetensorsFile> OpenFiles(string directory, List<SafetensorsFile> files)
    {
        var owner = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        string indexPath = Path.Combine(directory, ShardIndex.FileName);
        if (RegularFile.Exists(indexPath))
        {
            IReadOnlyDictionary<string, string> map = ShardIndex.Load(indexPath);
            foreach (string shard in map.Values.Distinct().Order(StringComparer.Ordinal))
            {
                string shardPath = Path.Combine(directory, shard);
                if (RegularFile.KindOf(shardPath) == FileKind.Missing)
                {
                    throw new CheckpointFormatException(indexPath, null, $"shard '{shard}' named by the index does not exist");
                }

                files.Add(SafetensorsFile.Open(shardPath));
            }

            Dictionary<string, SafetensorsFile> byName = files.ToDictionary(f => Path.GetFileName(f.Path), StringComparer.Ordinal);
            foreach (SafetensorsFile f in files)
            {
                foreach (TensorInfo t in f.Tensors)
                {
                    if (owner.TryGetValue(t.Name, out SafetensorsFile? other))
                    {
                        throw new CheckpointFormatException(f.Path, t.Name, $"duplicate: also stored in {other.Path}");
                    }

                    if (!map.TryGetValue(t.Name, out string? listed))
                    {
                        throw new CheckpointFormatException(f.Path, t.Name, $"is stored in the shard but missing from {ShardIndex.FileName}");
                    }

                    if (listed != Path.GetFileName(f.Path))
                    {
                        throw new CheckpointFormatException(f.Path, t.Name, $"the index places it in '{listed}'");
                    }

                    owner[t.Name] = f;
                }
            }

            foreach ((string name, string shard) in map)
            {
                if (!owner.ContainsKey(name))
                {
                    throw new CheckpointFormatException(byName[shard].Path, name, $"listed in {ShardIndex.FileName} but not stored in the shard");
                }
            }

            return owner;
        }

        string single = Path.Combine(directory, SingleFileName);
        if (!RegularFile.Exists(single))
        {
            throw new CheckpointFormatException(directory, null, $"neither {SingleFileName} nor {ShardIndex.FileName} is present");
        }

        SafetensorsFile file = SafetensorsFile.Open(single);
        files.Add(file);
        foreach (TensorInfo t in file.Tensors)
        {
            owner[t.Name] = file;
        }

        return owner;
    }

    /// <summary>
    /// Throws unless the MTP layer can be loaded, for speculative MTP decoding, which drafts with it: a
    /// <see cref="ConfigException"/> when config.json has no MTP layer, a <see cref="CheckpointFormatException"/> naming
    /// a missing tensor when the config has one but the checkpoint carries none of its weights. Reads no tensor data.
    /// </summary>
    public void RequireMtp()
    {
        int layer = Config.NumHiddenLayers;
        if (Config.NumNextnPredictLayers == 0)
        {
            throw new ConfigException(
                "num_nextn_predict_layers", "is 0: the checkpoint has no MTP layer, and speculative MTP decoding (--speculative-mtp) drafts with it; serve without --speculative-mtp");
        }

        if (!HasMtp)
        {
            ExpectedTensor first = CheckpointSchema.Mtp(Config).First(e => !e.Optional);
            throw new CheckpointFormatException(
                Where, first.Name,
                $"missing, with every other tensor of the MTP layer (model.layers.{layer}.*): config.json says num_nextn_predict_layers {Config.NumNextnPredictLayers}, "
                + "but the checkpoint carries none of the MTP layer's weights. Speculative MTP decoding (--speculative-mtp) needs them: "
                + "serve without --speculative-mtp, use a checkpoint that has them, or set num_nextn_predict_layers 0 in config.json");
        }
    }

    /// <summary>The file to name for a tensor that is missing: the single file, or the index of a sharded checkpoint.</summary>
    private string Where => _files.Count == 1 ? _files[0].Path : Path.Combine(Directory, ShardIndex.FileName);

    private void Validate()
    {
        IEnumerable<ExpectedTensor> expected = CheckpointSchema.Main(Config);
        HashSet<string> mtp = [];
        if (HasMtp)
        {
            IReadOnlyList<ExpectedTensor> mtpTensors = [.. CheckpointSchema.Mtp(Config)];
            mtp = [.. mtpTensors.Select(e => e.Name)];
            expected = expected.Concat(mtpTensors);
        }

        foreach (ExpectedTensor e in expected)
        {
            if (!_owner.TryGetValue(e.Name, out SafetensorsFile? file))
            {
                if (e.Optional)
                {
                    continue;
                }

                throw new CheckpointFormatException(
                    Where, e.Name,
                    mtp.Contains(e.Name)
                        ? $"missing: the checkpoint carries part of the MTP layer (model.layers.{Config.NumHiddenLayers}.*) but not this tensor; "
                          + "remove the layer's tensors and set num_nextn_predict_layers 0 in config.json, or supply it"
                        : "missing: the config requires it");
            }

            TensorInfo t = file.Get(e.Name);
            if (!t.Shape.AsSpan().SequenceEqual(e.Shape))
            {
                throw new CheckpointFormatException(
                    file.Path, e.Name, $"shape {t.ShapeText} disagrees with the config, which implies [{string.Join(", ", e.Shape)}]");
            }

            if (!t.DType.IsFloat())
            {
                throw new CheckpointFormatException(file.Path, e.Name, $"dtype {t.DType.Name()} is not floating point");
            }

            if (t.DType == DType.F8_E4M3)
            {
                if (e.Role != TensorRole.Linear)
                {
                    throw new CheckpointFormatException(file.Path, e.Name, "is F8_E4M3, but only linear weights may be FP8");
                }

                ValidateScale(file, t);
            }
        }
    }

    private void ValidateScale(SafetensorsFile file, TensorInfo weight)
    {
        Fp8Quantization q = Config.Quantization
            ?? throw new CheckpointFormatException(file.Path, weight.Name, "is F8_E4M3 but config.json has no quantization_config");
        string scaleName = Checkpoint.TensorNames.ScaleOf(weight.Name);
        if (!_owner.TryGetValue(scaleName, out SafetensorsFile? scaleFile))
        {
            throw new CheckpointFormatException(file.Path, weight.Name, $"is F8_E4M3 but its scale '{scaleName}' is missing");
        }

        TensorInfo s = scaleFile.Get(scaleName);
        long[] want = Fp8BlockDequantizer.ScaleShape(weight.Shape[0], weight.Shape[1], q);
        if (!s.Shape.AsSpan().SequenceEqual(want))
        {
            throw new CheckpointFormatException(scaleFile.Path, scaleName, $"shape {s.ShapeText} does not match the 128x128 blocks of {weight.ShapeText}: expected [{want[0]}, {want[1]}]");
        }

        if (!s.DType.IsFloat() || s.DType == DType.F8_E4M3)
        {
            throw new CheckpointFormatException(scaleFile.Path, scaleName, $"dtype {s.DType.Name()} is not a float scale type");
        }
    }

    public bool Contains(string name) => _owner.ContainsKey(name);

    public TensorInfo Info(string name) =>
        _owner.TryGetValue(name, out SafetensorsFile? f) ? f.Get(name) : throw new CheckpointFormatException(Directory, name, "not in this checkpoint");

    /// <summary>
    /// Reads a tensor as float32, dequantizing FP8 weights with their 128x128 block scales. Unless
    /// <see cref="CheckpointReadOptions.AllowNonfiniteWeights"/> is set, a NaN or ±Inf fails the read with a
    /// <see cref="CheckpointFormatException"/> naming the tensor and the first bad element (checked chunk by chunk as the
    /// values are produced, not in a second pass).
    /// </summary>
    public float[] ReadWeight(string name)
    {
        if (!_owner.TryGetValue(name, out SafetensorsFile? file))
        {
            throw new CheckpointFormatException(Directory, name, "not in this checkpoint");
        }

        TensorInfo info = file.Get(name);
        if (info.ElementCount > Array.MaxLength)
        {
            throw new CheckpointFormatException(file.Path, name, $"{info.ElementCount} elements do not fit one array");
        }

        if (!info.DType.IsFloat())
        {
            throw new CheckpointFormatException(file.Path, name, $"dtype {info.DType.Name()} cannot be read as floating point");
        }

        var dst = new float[info.ElementCount];
        ReadOnlySpan<byte> bytes = file.Bytes(info);
        Interlocked.Add(ref _bytesRead, bytes.Length);
        if (info.DType == DType.F8_E4M3)
        {
            ReadFp8(file, info, bytes, dst);
        }
        else
        {
            int size = info.DType.ByteSize();
            for (int start = 0; start < dst.Length; start += NonfiniteWeightCheck.ChunkElements)
            {
                int n = Math.Min(NonfiniteWeightCheck.ChunkElements, dst.Length - start);
                Span<float> chunk = dst.AsSpan(start, n);
                ElementConversion.ToFloat32(info.DType, bytes.Slice(start * size, n * size), chunk);
                if (!Options.AllowNonfiniteWeights)
                {
                    NonfiniteWeightCheck.ThrowIfAny(file.Path, info, chunk, start);
                }
            }
        }

        return dst;
    }

    public void Dispose()
    {
        foreach (SafetensorsFile f in _files)
        {
            f.Dispose();
        }
    }
}
