using System.Text.Json.Nodes;

namespace R1Orleans.Checkpoint.Tests;

/// <summary>Every malformed file or directory fails with an exception that names the file and, where one is involved, the tensor.</summary>
public sealed class CheckpointErrorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string WriteRaw(byte[] bytes, string name = "broken.safetensors") => _dir.Write(name, bytes);

    private static CheckpointFormatException OpenFails(string path) => TestFiles.OpenFails(path);

    private static CheckpointFormatException ReaderFails(string directory)
    {
        return Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Open(directory).Dispose());
    }

    [Fact]
    public void FileShorterThanLengthPrefix()
    {
        CheckpointFormatException e = OpenFails(WriteRaw([1, 0, 0]));
        Assert.Null(e.Tensor);
        Assert.Contains("shorter than the 8-byte header length", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderLengthBeyondFile()
    {
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors("{}", lengthField: 1000)));
        Assert.Null(e.Tensor);
        Assert.Contains("header length 1000 runs past the end of the 10-byte file", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(100UL * 1024 * 1024 + 1)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    public void HeaderLengthOverCap(ulong length)
    {
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors("{}", lengthField: length)));
        Assert.Contains($"header length {length} exceeds the cap", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"w\": ")]
    [InlineData("{\"w\": {\"dtype\": \"F32\",}}")]
    [InlineData("not json")]
    [InlineData("{\"a\":1}\u0000\u0000")]
    public void HeaderIsNotJson(string header)
    {
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header)));
        Assert.Contains("not valid JSON", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderIsNotAnObject()
    {
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors("[1, 2, 3]")));
        Assert.Contains("expected an object", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void OffsetsOutOfRange()
    {
        string header = """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 4)));
        Assert.Equal("w", e.Tensor);
        Assert.Contains("run past the 4-byte data section", e.Problem, StringComparison.Ordinal);
        Assert.Contains("tensor 'w'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OffsetsEndBeforeBegin()
    {
        string header = """{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 8)));
        Assert.Equal("w", e.Tensor);
        Assert.Contains("end before they begin", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[-1,4]")]
    [InlineData("[0]")]
    [InlineData("[0,\"4\"]")]
    [InlineData("[0,4.5]")]
    [InlineData("[0,4,8]")]
    [InlineData("{\"begin\":0}")]
    public void OffsetsMalformed(string offsets)
    {
        string header = $$$"""{"w":{"dtype":"F32","shape":[1],"data_offsets":{{{offsets}}}}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 8)));
        Assert.Equal("w", e.Tensor);
    }

    [Fact]
    public void ShapeTimesDtypeDisagreesWithByteLength()
    {
        string header = """{"w":{"dtype":"BF16","shape":[3,2],"data_offsets":[0,8]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 8)));
        Assert.Equal("w", e.Tensor);
        Assert.Contains("shape [3, 2] x BF16 is 12 bytes but data_offsets span 8", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ShapeOverflowIsCaught()
    {
        string header = """{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 8)));
        Assert.Equal("w", e.Tensor);
        Assert.Contains("overflows", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"F4\"", "unknown dtype 'F4'")]
    [InlineData("\"f32\"", "unknown dtype 'f32'")]
    [InlineData("7", "non-string 'dtype'")]
    public void UnknownDtype(string dtype, string message)
    {
        string header = $$$"""{"w":{"dtype":{{{dtype}}},"shape":[1],"data_offsets":[0,4]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 4)));
        Assert.Equal("w", e.Tensor);
        Assert.Contains(message, e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[-1]")]
    [InlineData("[1.5]")]
    [InlineData("\"[1]\"")]
    [InlineData("[1,1,1,1,1,1,1,1,1]")]
    public void BadShape(string shape)
    {
        string header = $$$"""{"w":{"dtype":"F32","shape":{{{shape}}},"data_offsets":[0,4]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 4)));
        Assert.Equal("w", e.Tensor);
    }

    [Fact]
    public void DuplicateTensorNameInHeader()
    {
        string header = """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 8)));
        Assert.Equal("w", e.Tensor);
        Assert.Contains("appears twice", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\\ud800")] // a lone surrogate escape in the tensor name
    [InlineData("w\\udc00x")]
    public void InvalidUtf16EscapeInName(string name)
    {
        string header = "{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 4)));
        Assert.Contains("not valid UTF-8 or UTF-16", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidUtf8InName()
    {
        byte[] file = TestFiles.RawSafetensors("{\"wX\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", dataBytes: 4);
        file[8 + 3] = 0xFF; // replaces the X
        CheckpointFormatException e = OpenFails(WriteRaw(file));
        Assert.Contains("not valid UTF-8 or UTF-16", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidUtf8InDtype()
    {
        byte[] file = TestFiles.RawSafetensors("{\"w\":{\"dtype\":\"F3X\",\"shape\":[1],\"data_offsets\":[0,4]}}", dataBytes: 4);
        file[8 + 17] = 0xC3; // a truncated two-byte sequence in place of the X
        CheckpointFormatException e = OpenFails(WriteRaw(file));
        Assert.Null(e.Tensor);
    }

    [Fact]
    public void MetadataMustBeAnObject()
    {
        string header = """{"__metadata__":"pt","w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 4)));
        Assert.Contains("__metadata__", e.Problem, StringComparison.Ordinal);
    }

    // ---- Directory-level errors, against a synthetic checkpoint ----

    private string Synthetic(ModelConfig config, int shards = 1, string name = "ok")
    {
        string dir = _dir.Sub(name);
        SyntheticCheckpoint.Write(dir, config, new SyntheticCheckpointOptions(Seed: 2, Shards: shards));
        return dir;
    }

    [Fact]
    public void SyntheticCheckpointIsValid()
    {
        using CheckpointReader r = CheckpointReader.Open(Synthetic(TestFiles.Micro(fp8: true, mtp: true)));
        Assert.True(r.HasMtp);
    }

    [Fact]
    public void BrokenHeaderInCheckpointNamesTheFile()
    {
        string dir = Synthetic(TestFiles.Micro());
        string file = Path.Combine(dir, CheckpointReader.SingleFileName);
        byte[] bytes = File.ReadAllBytes(file);
        bytes[8] = (byte)'[';
        File.WriteAllBytes(file, bytes);
        CheckpointFormatException e = ReaderFails(dir);
        Assert.Equal(file, e.File);
    }

    [Fact]
    public void TensorMissingVersusSchema()
    {
        string src = Synthetic(TestFiles.Micro());
        string dst = _dir.Sub("missing");
        string victim = TensorNames.Expert(1, 5, "up_proj");
        TestFiles.Rewrite(src, dst, (t, b) => t.Name == victim ? null : TestFiles.Keep(t, b));
        CheckpointFormatException e = ReaderFails(dst);
        Assert.Equal(victim, e.Tensor);
        Assert.Equal(Path.Combine(dst, CheckpointReader.SingleFileName), e.File);
        Assert.Contains("missing", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ShapeDisagreesWithConfig()
    {
        string dir = Synthetic(TestFiles.Micro());
        string configPath = Path.Combine(dir, "config.json");
        JsonObject config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["intermediate_size"] = 64;
        File.WriteAllText(configPath, config.ToJsonString());

        CheckpointFormatException e = ReaderFails(dir);
        Assert.Equal(Path.Combine(dir, CheckpointReader.SingleFileName), e.File);
        Assert.Equal(TensorNames.Mlp(0, "gate_proj"), e.Tensor);
        Assert.Contains("shape [48, 32] disagrees with the config, which implies [64, 32]", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ReplacedTensorWithWrongShape()
    {
        string src = Synthetic(TestFiles.Micro());
        string dst = _dir.Sub("shape");
        string victim = TensorNames.InputNorm(2);
        TestFiles.Rewrite(src, dst, (t, b) => t.Name == victim ? SafetensorsTensor.FromFloats(victim, DType.BF16, [33], new float[33]) : TestFiles.Keep(t, b));
        CheckpointFormatException e = ReaderFails(dst);
        Assert.Equal(victim, e.Tensor);
        Assert.Contains("[33]", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void IntegerTensorWhereFloatExpected()
    {
        string src = Synthetic(TestFiles.Micro());
        string dst = _dir.Sub("int");
        string victim = TensorNames.FinalNorm;
        TestFiles.Rewrite(src, dst, (t, b) => t.Name == victim ? SafetensorsTensor.FromInt64(victim, [32], new long[32]) : TestFiles.Keep(t, b));
        CheckpointFormatException e = ReaderFails(dst);
        Assert.Equal(victim, e.Tensor);
        Assert.Contains("not floating point", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void IndexPointsToMissingShard()
    {
        string dir = Synthetic(TestFiles.Micro(), shards: 3);
        string shard = SafetensorsWriter.ShardFileName(2, 3);
        File.Delete(Path.Combine(dir, shard));
        CheckpointFormatException e = ReaderFails(dir);
        Assert.Equal(Path.Combine(dir, ShardIndex.FileName), e.File);
        Assert.Contains($"shard '{shard}'", e.Problem, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void IndexOmitsAStoredTensor()
    {
        string dir = Synthetic(TestFiles.Micro(), shards: 2);
        string indexPath = Path.Combine(dir, ShardIndex.FileName);
        JsonObject index = JsonNode.Parse(File.ReadAllText(indexPath))!.AsObject();
        string victim = TensorNames.Gate(2);
        string shard = index["weight_map"]![victim]!.GetValue<string>();
        Assert.True(index["weight_map"]!.AsObject().Remove(victim));
        File.WriteAllText(indexPath, index.ToJsonString());
        CheckpointFormatException e = ReaderFails(dir);
        Assert.Equal(Path.Combine(dir, shard), e.File);
        Assert.Equal(victim, e.Tensor);
        Assert.Contains("missing from", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void IndexPlacesTensorInTheWrongShard()
    {
        string dir = Synthetic(TestFiles.Micro(), shards: 2);
        string indexPath = Path.Combine(dir, ShardIndex.FileName);
        JsonObject index = JsonNode.Parse(File.ReadAllText(indexPath))!.AsObject();
        string victim = TensorNames.Embedding;
        string actual = index["weight_map"]![victim]!.GetValue<string>();
        string other = actual == SafetensorsWriter.ShardFileName(1, 2) ? SafetensorsWriter.ShardFileName(2, 2) : SafetensorsWriter.ShardFileName(1, 2);
        index["weight_map"]![victim] = other;
        File.WriteAllText(indexPath, index.ToJsonString());
        CheckpointFormatException e = ReaderFails(dir);
        Assert.Equal(victim, e.Tensor);
        Assert.Equal(Path.Combine(dir, actual), e.File);
        Assert.Contains($"'{other}'", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"weight_map\": [] }", "no 'weight_map'")]
    [InlineData("{\"weight_map\": {\"a\": \"../x.safetensors\"}}", "not a plain .safetensors file name")]
    [InlineData("{\"weight_map\": {\"a\": 3}}", "not a file name string")]
    [InlineData("{\"weight_map\": ", "not valid JSON")]
    [InlineData("{\"weight_map\": {\"\\ud800\": \"model-00001-of-00002.safetensors\"}}", "not valid UTF-8 or UTF-16")]
    [InlineData("{\"weight_map\": {\"a\": \"\\udc00.safetensors\"}}", "not valid UTF-8 or UTF-16")]
    public void MalformedIndex(string text, string message)
    {
        string dir = Synthetic(TestFiles.Micro(), shards: 2);
        string indexPath = Path.Combine(dir, ShardIndex.FileName);
        File.WriteAllText(indexPath, text);
        CheckpointFormatException e = ReaderFails(dir);
        Assert.Equal(indexPath, e.File);
        Assert.Contains(message, e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void NoWeightFilesAtAll()
    {
        string dir = _dir.Sub("empty");
        ModelConfigWriter.Write(Path.Combine(dir, "config.json"), TestFiles.Micro());
        CheckpointFormatException e = ReaderFails(dir);
        Assert.Equal(dir, e.File);
        Assert.Contains("neither", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Fp8WeightWithoutScale()
    {
        string src = Synthetic(TestFiles.Micro(fp8: true));
        string dst = _dir.Sub("noscale");
        string weight = TensorNames.Attn(1, "kv_b_proj");
        TestFiles.Rewrite(src, dst, (t, b) => t.Name == TensorNames.ScaleOf(weight) ? null : TestFiles.Keep(t, b));
        CheckpointFormatException e = ReaderFails(dst);
        Assert.Equal(weight, e.Tensor);
        Assert.Equal(Path.Combine(dst, CheckpointReader.SingleFileName), e.File);
        Assert.Contains($"scale '{TensorNames.ScaleOf(weight)}' is missing", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ScaleOfWrongShape()
    {
        ModelConfig config = TestFiles.Micro(fp8: true) with { HiddenSize = 130 };
        string src = Synthetic(config);
        string dst = _dir.Sub("badscale");
        string scale = TensorNames.ScaleOf(TensorNames.Mlp(0, "down_proj"));
        TestFiles.Rewrite(src, dst, (t, b) => t.Name == scale ? SafetensorsTensor.FromFloats(scale, DType.F32, [1, 1], [1f]) : TestFiles.Keep(t, b));
        CheckpointFormatException e = ReaderFails(dst);
        Assert.Equal(scale, e.Tensor);
        Assert.Contains("shape [1, 1]", e.Problem, StringComparison.Ordinal);
        Assert.Contains("expected [2, 1]", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ScaleOfWrongType()
    {
        string src = Synthetic(TestFiles.Micro(fp8: true));
        string dst = _dir.Sub("scaletype");
        string scale = TensorNames.ScaleOf(TensorNames.Expert(2, 0, "gate_proj"));
        TestFiles.Rewrite(src, dst, (t, b) => t.Name == scale ? SafetensorsTensor.FromBytes(scale, DType.F8_E4M3, [1, 1], new byte[] { 0x38 }) : TestFiles.Keep(t, b));
        CheckpointFormatException e = ReaderFails(dst);
        Assert.Equal(scale, e.Tensor);
        Assert.Contains("not a float scale type", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Fp8OnANormIsRejected()
    {
        string src = Synthetic(TestFiles.Micro(fp8: true));
        string dst = _dir.Sub("fp8norm");
        string victim = TensorNames.PostAttentionNorm(1);
        TestFiles.Rewrite(src, dst, (t, b) => t.Name == victim ? SafetensorsTensor.FromBytes(victim, DType.F8_E4M3, [32], new byte[32]) : TestFiles.Keep(t, b));
        CheckpointFormatException e = ReaderFails(dst);
        Assert.Equal(victim, e.Tensor);
        Assert.Contains("only linear weights may be FP8", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Fp8WithoutQuantizationConfig()
    {
        string dir = Synthetic(TestFiles.Micro(fp8: true));
        ModelConfigWriter.Write(Path.Combine(dir, "config.json"), TestFiles.Micro(fp8: false));
        CheckpointFormatException e = ReaderFails(dir);
        Assert.NotNull(e.Tensor);
        Assert.Contains("no quantization_config", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void BadConfigInCheckpointIsAConfigException()
    {
        string dir = Synthetic(TestFiles.Micro());
        string configPath = Path.Combine(dir, "config.json");
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"sigmoid\"", "\"softmax\"", StringComparison.Ordinal));
        ConfigException e = Assert.Throws<ConfigException>(() => CheckpointReader.Open(dir).Dispose());
        Assert.Equal("scoring_func", e.Field);
        Assert.Contains("'softmax'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadingAnUnknownTensorNamesIt()
    {
        using CheckpointReader r = CheckpointReader.Open(Synthetic(TestFiles.Micro()));
        CheckpointFormatException e = Assert.Throws<CheckpointFormatException>(() => r.ReadWeight("model.layers.99.mlp.gate.weight"));
        Assert.Equal("model.layers.99.mlp.gate.weight", e.Tensor);
    }
}
