using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace R1Orleans.Checkpoint.Tests;

public class SyntheticCheckpointTests
{
    [Fact]
    public void TinyCheckpointHasEveryTensorOfTheSchema()
    {
        using var dir = new TempDirectory();
        ModelConfig config = SyntheticCheckpoint.TinyConfig();
        SyntheticCheckpoint.Write(dir.Path, config);
        Assert.True(File.Exists(dir.File("config.json")));
        Assert.Equal(config, ModelConfigParser.Load(dir.File("config.json")));

        using CheckpointReader reader = CheckpointReader.Open(dir.Path);
        Assert.False(reader.HasMtp);
        var expected = CheckpointSchema.Main(config).Select(e => e.Name).ToHashSet();
        Assert.Equal(expected.Order(StringComparer.Ordinal), reader.TensorNames.Order(StringComparer.Ordinal));
        Assert.Equal(DType.F32, reader.Info(TensorNames.GateBias(1)).DType);
        Assert.Equal(DType.BF16, reader.Info(TensorNames.Expert(1, 0, "up_proj")).DType);
        Assert.Equal(DType.BF16, reader.Info(TensorNames.FinalNorm).DType);
    }

    [Fact]
    public void ValuesHaveTheIntendedScale()
    {
        using var dir = new TempDirectory();
        ModelConfig config = SyntheticCheckpoint.TinyConfig();
        SyntheticCheckpoint.Write(dir.Path, config);
        using CheckpointReader reader = CheckpointReader.Open(dir.Path);

        float[] norm = reader.ReadWeight(TensorNames.InputNorm(2));
        Assert.InRange(norm.Average(), 0.98, 1.02);
        Assert.All(norm, v => Assert.InRange(v, 0.8f, 1.2f));
        Assert.True(norm.Distinct().Count() > 10);

        float[] bias = reader.ReadWeight(TensorNames.GateBias(2));
        Assert.All(bias, v => Assert.InRange(v, -0.05f, 0.05f));

        float[] up = reader.ReadWeight(TensorNames.Expert(2, 7, "up_proj"));
        double rms = Math.Sqrt(up.Average(v => (double)v * v));
        Assert.InRange(rms, 0.9 / Math.Sqrt(config.HiddenSize), 1.1 / Math.Sqrt(config.HiddenSize));
        Assert.InRange(up.Average(), -0.01, 0.01);

        float[] down = reader.ReadWeight(TensorNames.Expert(2, 7, "down_proj"));
        rms = Math.Sqrt(down.Average(v => (double)v * v));
        Assert.InRange(rms, 0.9 / Math.Sqrt(config.MoeIntermediateSize), 1.1 / Math.Sqrt(config.MoeIntermediateSize));

        float[] embed = reader.ReadWeight(TensorNames.Embedding);
        Assert.InRange(Math.Sqrt(embed.Average(v => (double)v * v)), 0.95, 1.05);
    }

    [Fact]
    public void DeterministicPerSeedAndIndependentOfSharding()
    {
        using var dir = new TempDirectory();
        ModelConfig config = TestFiles.Micro(fp8: true, mtp: true);
        string a = dir.Sub("a"), b = dir.Sub("b"), c = dir.Sub("c"), sharded = dir.Sub("sharded");
        SyntheticCheckpoint.Write(a, config, new SyntheticCheckpointOptions(Seed: 9));
        SyntheticCheckpoint.Write(b, config, new SyntheticCheckpointOptions(Seed: 9));
        SyntheticCheckpoint.Write(c, config, new SyntheticCheckpointOptions(Seed: 10));
        SyntheticCheckpoint.Write(sharded, config, new SyntheticCheckpointOptions(Seed: 9, Shards: 4));

        Assert.Equal(File.ReadAllBytes(Path.Combine(a, CheckpointReader.SingleFileName)), File.ReadAllBytes(Path.Combine(b, CheckpointReader.SingleFileName)));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a, CheckpointReader.SingleFileName)), File.ReadAllBytes(Path.Combine(c, CheckpointReader.SingleFileName)));

        using CheckpointReader ra = CheckpointReader.Open(a);
        using CheckpointReader rs = CheckpointReader.Open(sharded);
        Assert.Equal(4, rs.Files.Count);
        Assert.Equal(ra.TensorNames.Order(StringComparer.Ordinal), rs.TensorNames.Order(StringComparer.Ordinal));
        foreach (string name in ra.TensorNames)
        {
            Assert.Equal(ra.ReadWeight(name), rs.ReadWeight(name));
        }

        Assert.Equal(ra.TotalTensorBytes, rs.TotalTensorBytes);
    }

    [Fact]
    public void ShardsKeepWeightsWithTheirScalesAndIndexIsConsistent()
    {
        using var dir = new TempDirectory();
        IReadOnlyList<string> expectedFiles = [.. Enumerable.Range(1, 3).Select(i => SafetensorsWriter.ShardFileName(i, 3))];
        SyntheticCheckpoint.Write(dir.Path, TestFiles.Micro(fp8: true, mtp: true), new SyntheticCheckpointOptions(Shards: 3, IncludeMtpCopies: true));
        Assert.Equal("model-00002-of-00003.safetensors", expectedFiles[1]);
        foreach (string f in expectedFiles)
        {
            Assert.True(File.Exists(dir.File(f)), f);
        }

        Assert.False(File.Exists(dir.File(CheckpointReader.SingleFileName)));
        using JsonDocument index = JsonDocument.Parse(File.ReadAllText(dir.File(ShardIndex.FileName)));
        JsonElement map = index.RootElement.GetProperty("weight_map");
        long totalSize = index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64();
        using CheckpointReader reader = CheckpointReader.Open(dir.Path);
        Assert.Equal(reader.TotalTensorBytes, totalSize);
        Assert.Equal(reader.TensorNames.Count(), map.EnumerateObject().Count());
        foreach (JsonProperty p in map.EnumerateObject())
        {
            if (p.Name.EndsWith(TensorNames.ScaleSuffix, StringComparison.Ordinal))
            {
                string weight = p.Name[..^TensorNames.ScaleSuffix.Length];
                Assert.Equal(map.GetProperty(weight).GetString(), p.Value.GetString());
            }
        }

        // Every shard holds data.
        Assert.All(expectedFiles, f => Assert.Contains(map.EnumerateObject(), p => p.Value.GetString() == f));
    }

    [Fact]
    public void MtpLayerWithOptionalCopies()
    {
        using var dir = new TempDirectory();
        ModelConfig config = TestFiles.Micro(mtp: true);
        int mtp = config.NumHiddenLayers;

        SyntheticCheckpoint.Write(dir.Path, config, new SyntheticCheckpointOptions(IncludeMtpCopies: false));
        using (CheckpointReader reader = CheckpointReader.Open(dir.Path))
        {
            Assert.True(reader.HasMtp);
            Assert.True(reader.Contains(TensorNames.Mtp(mtp, "eh_proj.weight")));
            Assert.True(reader.Contains(TensorNames.Expert(mtp, 7, "down_proj")));
            Assert.False(reader.Contains(TensorNames.Mtp(mtp, "embed_tokens.weight")));
            Assert.False(reader.Contains(TensorNames.Mtp(mtp, "shared_head.head.weight")));
        }

        SyntheticCheckpoint.Write(dir.Path, config, new SyntheticCheckpointOptions(IncludeMtpCopies: true));
        using (CheckpointReader reader = CheckpointReader.Open(dir.Path))
        {
            Assert.Equal(reader.ReadWeight(TensorNames.Embedding), reader.ReadWeight(TensorNames.Mtp(mtp, "embed_tokens.weight")));
            Assert.Equal(reader.ReadWeight(TensorNames.LmHead), reader.ReadWeight(TensorNames.Mtp(mtp, "shared_head.head.weight")));
            Assert.Equal(
                SyntheticCheckpoint.Tensors(config, new SyntheticCheckpointOptions(IncludeMtpCopies: true)).Select(e => e.Name).Order(StringComparer.Ordinal),
                reader.TensorNames.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public void RewritingWithFewerShardsRemovesOldFiles()
    {
        using var dir = new TempDirectory();
        ModelConfig config = TestFiles.Micro();
        SyntheticCheckpoint.Write(dir.Path, config, new SyntheticCheckpointOptions(Shards: 3));
        SyntheticCheckpoint.Write(dir.Path, config, new SyntheticCheckpointOptions(Shards: 1));
        Assert.Equal(["config.json", CheckpointReader.SingleFileName], Directory.EnumerateFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using CheckpointReader reader = CheckpointReader.Open(dir.Path);
        Assert.Single(reader.Files);
    }

    [Fact]
    public void NoQLoraUngroupedConfig()
    {
        using var dir = new TempDirectory();
        ModelConfig config = TestFiles.Micro() with { QLoraRank = null, NGroup = 1, TopkGroup = 1, NSharedExperts = 2, RopeScaling = null };
        SyntheticCheckpoint.Write(dir.Path, config);
        using CheckpointReader reader = CheckpointReader.Open(dir.Path);
        Assert.True(reader.Contains(TensorNames.Attn(1, "q_proj")));
        Assert.Equal([2L * 16, 32], reader.Info(TensorNames.SharedExpert(1, "up_proj")).Shape);
    }

    [Fact]
    public void InvalidConfigIsRejectedBeforeWriting()
    {
        using var dir = new TempDirectory();
        ConfigException e = Assert.Throws<ConfigException>(() => SyntheticCheckpoint.Write(dir.Path, TestFiles.Micro() with { NGroup = 3 }));
        Assert.Equal("n_group", e.Field);
        Assert.Empty(Directory.EnumerateFiles(dir.Path));
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticCheckpoint.Write(dir.Path, TestFiles.Micro(), new SyntheticCheckpointOptions(Shards: 0)));
    }

    [Fact]
    public void MediumPresetIsValidAndSizedForBenchmarks()
    {
        ModelConfig m = SyntheticCheckpoint.MediumConfig();
        Assert.Equal(m, ModelConfigParser.Parse(ModelConfigWriter.ToJson(m)));
        Assert.Equal(1, m.NumNextnPredictLayers);
        Assert.NotNull(m.Quantization);
        long fp8Bytes = SyntheticCheckpoint.Tensors(m).Where(e => e.Role == TensorRole.Linear).Sum(e => e.Shape[0] * e.Shape[1]);
        Assert.InRange(fp8Bytes, 300_000_000, 500_000_000);
    }

    [Fact]
    public void V3ReducedPresetHasDeepSeekV3sWidthsAtFourLayersAndNoMtp()
    {
        ModelConfig v = SyntheticCheckpoint.V3ReducedConfig();
        Assert.Equal(v, ModelConfigParser.Parse(ModelConfigWriter.ToJson(v)));
        Assert.Equal((7168, 129280, 128, 256, 8, 2048, 18432), (v.HiddenSize, v.VocabSize, v.NumAttentionHeads, v.NRoutedExperts, v.NumExpertsPerTok, v.MoeIntermediateSize, v.IntermediateSize));
        Assert.Equal((1536, 512, 128, 64, 128), (v.QLoraRank ?? 0, v.KvLoraRank, v.QkNopeHeadDim, v.QkRopeHeadDim, v.VHeadDim));
        Assert.Equal((4, 1, 0), (v.NumHiddenLayers, v.FirstKDenseReplace, v.NumNextnPredictLayers));
        IReadOnlyList<ExpectedTensor> tensors = SyntheticCheckpoint.Tensors(v);
        Assert.DoesNotContain(tensors, e => e.Name.StartsWith("model.layers.4.", StringComparison.Ordinal));

        // FP8 linears: four layers' MLA, the dense MLP, three MoE layers of 256 experts (44 MB each) and a shared one.
        long fp8Bytes = tensors.Where(e => e.Role == TensorRole.Linear).Sum(e => e.Shape[0] * e.Shape[1]);
        Assert.InRange(fp8Bytes, 34_500_000_000, 36_000_000_000);
    }
}

public class SafetensorsWriterTests
{
    [Fact]
    public void HeaderIsPaddedWithSpacesToEightBytes()
    {
        for (int nameLength = 1; nameLength <= 16; nameLength++)
        {
            byte[] header = SafetensorsWriter.BuildHeader([SafetensorsTensor.FromFloats(new string('a', nameLength), DType.F32, [1], [1f])]);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            Assert.Equal((ulong)header.Length - 8, length);
            Assert.Equal(0UL, length % 8);
            string json = Encoding.UTF8.GetString(header, 8, header.Length - 8);
            Assert.Equal('}', json.TrimEnd(' ')[^1]);
            using JsonDocument doc = JsonDocument.Parse(json);
        }
    }

    [Fact]
    public void RoundTripsEverySupportedType()
    {
        using var dir = new TempDirectory();
        string path = dir.File("t.safetensors");
        float[] values = [0f, 1f, -1.5f, 0.25f, 288f, -7f]; // exact in every float type, FP8 included
        long[] ids = [1, -2, long.MaxValue];
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "x\"y" };
        long written = SafetensorsWriter.Write(path,
        [
            SafetensorsTensor.FromFloats("f32", DType.F32, [2, 3], values),
            SafetensorsTensor.FromFloats("bf16", DType.BF16, [6], values),
            SafetensorsTensor.FromFloats("f16", DType.F16, [3, 2], values),
            SafetensorsTensor.FromFloats("f8", DType.F8_E4M3, [1, 6], values),
            SafetensorsTensor.FromInt64("i64", [3], ids),
            SafetensorsTensor.FromFloats("empty", DType.F32, [0, 4], []),
            SafetensorsTensor.FromFloats("scalar", DType.F32, [], [42f]),
        ], meta);
        Assert.Equal((6 * 4) + (6 * 2) + (6 * 2) + 6 + 24 + 4, written);

        using SafetensorsFile f = SafetensorsFile.Open(path);
        Assert.Equal(7, f.Tensors.Count);
        float[] Read(string name)
        {
            TensorInfo t = f.Get(name);
            float[] dst = new float[t.ElementCount];
            ElementConversion.ToFloat32(path, t, f.Bytes(t), dst);
            return dst;
        }

        Assert.Equal(values, Read("f32"));
        Assert.Equal(values, Read("bf16"));
        Assert.Equal(values, Read("f16"));
        Assert.Equal(values, Read("f8"));
        Assert.Equal([3L, 2L], f.Get("f16").Shape);
        Assert.Equal(ids, ElementConversion.ToInt64(path, f.Get("i64"), f.Bytes(f.Get("i64"))));
        Assert.Empty(Read("empty"));
        Assert.Equal([42f], Read("scalar"));

        byte[] raw = File.ReadAllBytes(path);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(raw);
        using JsonDocument doc = JsonDocument.Parse(raw.AsMemory(8, headerLength));
        Assert.Equal("x\"y", doc.RootElement.GetProperty("__metadata__").GetProperty("note").GetString());
        Assert.Equal(8 + headerLength + written, raw.Length);
    }

    [Fact]
    public void RejectsDuplicateNamesAndWrongDataLengths()
    {
        using var dir = new TempDirectory();
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.BuildHeader(
            [SafetensorsTensor.FromFloats("w", DType.F32, [1], [1f]), SafetensorsTensor.FromFloats("w", DType.F32, [1], [1f])]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.BuildHeader([SafetensorsTensor.FromFloats("__metadata__", DType.F32, [1], [1f])]));
        Assert.Throws<ArgumentException>(() => SafetensorsTensor.FromFloats("w", DType.F32, [2], [1f]));
        Assert.Throws<ArgumentException>(() => SafetensorsTensor.FromFloats("w", DType.I64, [1], [1f]));
        Assert.Throws<ArgumentException>(() => SafetensorsTensor.FromFloats("w", DType.F32, [-1], []));
        Assert.Throws<ArgumentException>(() => SafetensorsTensor.FromBytes("w", DType.BF16, [3], new byte[4]));
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(dir.File("x.safetensors"),
            [SafetensorsTensor.Deferred("short", DType.F32, [4], s => s.Write(new byte[12]))]));
        Assert.Contains("short", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeferredTensorsAreWrittenInOrderOnce()
    {
        using var dir = new TempDirectory();
        var calls = new List<string>();
        SafetensorsTensor Make(string name) => SafetensorsTensor.Deferred(name, DType.U8, [3], s =>
        {
            calls.Add(name);
            s.Write([(byte)name[0], (byte)name[0], (byte)name[0]]);
        });

        string path = dir.File("d.safetensors");
        SafetensorsWriter.Write(path, [Make("c"), Make("a"), Make("b")]);
        Assert.Equal(["c", "a", "b"], calls);
        using SafetensorsFile f = SafetensorsFile.Open(path);
        Assert.Equal("aaa"u8.ToArray(), f.Bytes(f.Get("a")).ToArray());
        Assert.Equal(3, f.Get("a").Begin);
    }

    [Fact]
    public void ShardedWriteSplitsByBytesAndWritesIndex()
    {
        using var dir = new TempDirectory();
        SafetensorsTensor[] tensors = [.. Enumerable.Range(0, 10).Select(i => SafetensorsTensor.FromFloats($"t{i}", DType.F32, [100], new float[100]))];
        IReadOnlyList<string> files = SafetensorsWriter.WriteSharded(dir.Path, tensors, 4);
        Assert.Equal(4, files.Count);
        IReadOnlyDictionary<string, string> map = ShardIndex.Load(dir.File(ShardIndex.FileName));
        Assert.Equal(10, map.Count);
        Assert.Equal(files.Order(StringComparer.Ordinal), map.Values.Distinct().Order(StringComparer.Ordinal));
        var perShard = map.GroupBy(kv => kv.Value).Select(g => g.Count()).ToList();
        Assert.All(perShard, n => Assert.InRange(n, 2, 3));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.WriteSharded(dir.Sub("x"), tensors, 11));
    }
}
