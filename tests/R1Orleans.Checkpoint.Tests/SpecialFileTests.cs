using R1Orleans.TestSupport;

namespace R1Orleans.Checkpoint.Tests;

/// <summary>
/// A checkpoint file that is a FIFO, a device (a symlink to /dev/zero) or a directory is rejected before it is opened,
/// with an error naming the path and saying it is not a regular file: never a hang, an endless read or another exception.
/// </summary>
public sealed class SpecialFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Synthetic(int shards = 1, string name = "ckpt")
    {
        string dir = _dir.Sub(name);
        SyntheticCheckpoint.Write(dir, TestFiles.Micro(), new SyntheticCheckpointOptions(Seed: 3, Shards: shards));
        return dir;
    }

    private static void Replace(string path, string kind)
    {
        File.Delete(path);
        switch (kind)
        {
            case "dev-zero":
                File.CreateSymbolicLink(path, "/dev/zero");
                break;
            case "fifo":
                SpecialFiles.MakeFifo(path);
                break;
            case "directory":
                Directory.CreateDirectory(path);
                break;
            default:
                throw new ArgumentException(kind);
        }
    }

    private static string Described(string kind) => kind switch
    {
        "dev-zero" => "it is a character device (a symbolic link to /dev/zero)",
        "fifo" => "it is a FIFO (named pipe)",
        _ => "it is a directory",
    };

    private static void AssertRejected(Exception? thrown, string path, string kind)
    {
        CheckpointFormatException e = Assert.IsType<CheckpointFormatException>(thrown);
        Assert.Equal(path, e.File);
        Assert.Contains("not a regular file", e.Problem, StringComparison.Ordinal);
        Assert.Contains(Described(kind), e.Problem, StringComparison.Ordinal);
    }

    public static TheoryData<string> Kinds => new() { "dev-zero", "fifo", "directory" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Single_weights_file_that_is_not_regular_is_rejected(string kind)
    {
        string dir = Synthetic();
        string path = Path.Combine(dir, CheckpointReader.SingleFileName);
        Replace(path, kind);
        AssertRejected(SpecialFiles.RunBounded(() => CheckpointReader.Open(dir).Dispose(), path), path, kind);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Shard_named_by_the_index_that_is_not_regular_is_rejected(string kind)
    {
        string dir = Synthetic(shards: 3);
        string path = Path.Combine(dir, SafetensorsWriter.ShardFileName(2, 3));
        Replace(path, kind);
        AssertRejected(SpecialFiles.RunBounded(() => CheckpointReader.Open(dir).Dispose(), path), path, kind);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Index_that_is_not_regular_is_rejected(string kind)
    {
        string dir = Synthetic(shards: 2);
        string path = Path.Combine(dir, ShardIndex.FileName);
        Replace(path, kind);
        AssertRejected(SpecialFiles.RunBounded(() => CheckpointReader.Open(dir).Dispose(), path), path, kind);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Config_that_is_not_regular_is_rejected(string kind)
    {
        string dir = Synthetic();
        string path = Path.Combine(dir, "config.json");
        Replace(path, kind);
        AssertRejected(SpecialFiles.RunBounded(() => CheckpointReader.Open(dir).Dispose(), path), path, kind);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Safetensors_file_opened_directly_that_is_not_regular_is_rejected(string kind)
    {
        string path = _dir.File("x.safetensors");
        Replace(path, kind);
        AssertRejected(SpecialFiles.RunBounded(() => SafetensorsFile.Open(path).Dispose(), path), path, kind);
    }

    [Fact]
    public void A_symlink_to_a_regular_weights_file_is_accepted()
    {
        string dir = Synthetic();
        string weights = Path.Combine(dir, CheckpointReader.SingleFileName);
        string elsewhere = _dir.File("weights-elsewhere.safetensors");
        File.Move(weights, elsewhere);
        File.CreateSymbolicLink(weights, elsewhere);

        using CheckpointReader r = CheckpointReader.Open(dir);
        Assert.Equal(TestFiles.Micro().HiddenSize, r.ReadWeight(TensorNames.FinalNorm).Length);
    }

    [Fact]
    public void KindOf_tells_the_kinds_apart()
    {
        string fifo = _dir.File("fifo");
        SpecialFiles.MakeFifo(fifo);
        string file = _dir.File("regular");
        File.WriteAllText(file, "x");
        string dangling = _dir.File("dangling");
        File.CreateSymbolicLink(dangling, _dir.File("nowhere"));

        Assert.Equal(FileKind.Regular, RegularFile.KindOf(file));
        Assert.Equal(FileKind.Fifo, RegularFile.KindOf(fifo));
        Assert.Equal(FileKind.CharacterDevice, RegularFile.KindOf("/dev/zero"));
        Assert.Equal(FileKind.Directory, RegularFile.KindOf(_dir.Path));
        Assert.Equal(FileKind.Missing, RegularFile.KindOf(_dir.File("absent")));
        Assert.Equal(FileKind.Missing, RegularFile.KindOf(dangling));
        Assert.False(RegularFile.Exists(dangling));
        Assert.True(RegularFile.Exists(file));
        Assert.Throws<CheckpointFormatException>(() => RegularFile.Exists(fifo));
    }
}
