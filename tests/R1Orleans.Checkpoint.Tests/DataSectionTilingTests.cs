using System.Buffers.Binary;
using R1Orleans.TestSupport;

namespace R1Orleans.Checkpoint.Tests;

/// <summary>
/// The tensors of a safetensors file, sorted by offset, must cover its data section exactly (as the reference Rust
/// loader requires): first at byte 0, each where the previous ends, the last at the end of the file. Otherwise a
/// header length that is off by a byte, or a hand-edited header, shifts tensors silently.
/// </summary>
public sealed class DataSectionTilingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> ModelCases => new(GoldenDirectory.ModelCaseNames);

    private string WriteRaw(byte[] bytes, string name = "t.safetensors") => _dir.Write(name, bytes);

    private static CheckpointFormatException OpenFails(string path) => TestFiles.OpenFails(path);

    /// <summary>Lowers the 8-byte header length by one: the header's last byte (padding) becomes the data section's first.</summary>
    private static void LowerHeaderLengthByOne(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal((byte)' ', bytes[8 + (int)n - 1]); // the mutation only makes sense over trailing padding
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, n - 1);
        File.WriteAllBytes(path, bytes);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.EnumerateFiles(from))
        {
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        }
    }

    [Theory]
    [MemberData(nameof(ModelCases))]
    public void Golden_checkpoint_with_header_length_one_short_is_rejected_naming_the_file(string name)
    {
        string dir = Path.Combine(_dir.Path, name);
        CopyDirectory(GoldenDirectory.Case(name), dir);
        string victim = Directory.EnumerateFiles(dir, "model*.safetensors").Order(StringComparer.Ordinal).First();
        LowerHeaderLengthByOne(victim);

        CheckpointFormatException e = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Open(dir).Dispose());
        Assert.Equal(victim, e.File);
        Assert.NotNull(e.Tensor);
        Assert.Contains("1 byte after the last tensor", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_length_one_short_over_space_padding_is_rejected()
    {
        string header = """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   """;
        byte[] file = TestFiles.RawSafetensors(header, dataBytes: 4);
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length - 1);
        CheckpointFormatException e = OpenFails(WriteRaw(file));
        Assert.Equal("a", e.Tensor);
        Assert.Contains("ends at byte 4", e.Problem, StringComparison.Ordinal);
        Assert.Contains("the data section is 5 bytes", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Gap_between_tensors_is_rejected_naming_both_and_the_offsets()
    {
        string header = """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 12)));
        Assert.Equal("b", e.Tensor);
        Assert.Contains("[8, 12)", e.Problem, StringComparison.Ordinal);
        Assert.Contains("'a' ends at byte 4", e.Problem, StringComparison.Ordinal);
        Assert.Contains("gap of 4 bytes", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void First_tensor_not_at_byte_zero_is_rejected()
    {
        string header = """{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 8)));
        Assert.Equal("a", e.Tensor);
        Assert.Contains("[4, 8)", e.Problem, StringComparison.Ordinal);
        Assert.Contains("gap of 4 bytes", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Overlapping_tensors_are_rejected_naming_both_and_the_offsets()
    {
        string header = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 12)));
        Assert.Equal("b", e.Tensor);
        Assert.Contains("[4, 12)", e.Problem, StringComparison.Ordinal);
        Assert.Contains("overlap tensor 'a' [0, 8)", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_tensor_inside_another_is_rejected()
    {
        string header = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 8)));
        Assert.Equal("z", e.Tensor);
        Assert.Contains("overlap tensor 'a'", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Trailing_bytes_after_the_last_tensor_are_rejected()
    {
        string header = """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""";
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 7)));
        Assert.Equal("a", e.Tensor);
        Assert.Contains("3 bytes after the last tensor", e.Problem, StringComparison.Ordinal);
        Assert.Contains("the data section is 7 bytes", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Data_bytes_with_no_tensors_at_all_are_rejected()
    {
        CheckpointFormatException e = OpenFails(WriteRaw(TestFiles.RawSafetensors("{}", dataBytes: 4)));
        Assert.Null(e.Tensor);
        Assert.Contains("no tensors", e.Problem, StringComparison.Ordinal);
        Assert.Contains("4 bytes", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_tensors_at_the_seams_and_an_empty_file_tile_exactly()
    {
        string header = """
            {"z0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},
             "z1":{"dtype":"BF16","shape":[3,0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
             "z2":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}
            """;
        using (SafetensorsFile f = SafetensorsFile.Open(WriteRaw(TestFiles.RawSafetensors(header, dataBytes: 8))))
        {
            Assert.Equal(5, f.Tensors.Count);
        }

        using SafetensorsFile empty = SafetensorsFile.Open(WriteRaw(TestFiles.RawSafetensors("{}"), "empty.safetensors"));
        Assert.Empty(empty.Tensors);
    }

    [Fact]
    public void SafetensorsWriter_output_tiles_its_data_section_exactly()
    {
        string path = _dir.File("written.safetensors");
        SafetensorsWriter.Write(path, [
            SafetensorsTensor.FromFloats("e", DType.F32, [0], []),
            SafetensorsTensor.FromFloats("w", DType.BF16, [3, 5], new float[15]),
            SafetensorsTensor.FromBytes("q", DType.F8_E4M3, [7], new byte[7]),
            SafetensorsTensor.FromInt64("ids", [2], [1, 2]),
            SafetensorsTensor.FromFloats("h", DType.F16, [0, 4], []),
        ], SafetensorsWriter.PtMetadata);

        using SafetensorsFile f = SafetensorsFile.Open(path);
        long dataLength = new FileInfo(path).Length - 8 - (long)BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path));
        long next = 0;
        foreach (TensorInfo t in f.Tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            Assert.Equal(next, t.Begin);
            next = t.End;
        }

        Assert.Equal(dataLength, next);
        Assert.Equal(30 + 7 + 16, dataLength);
    }
}
