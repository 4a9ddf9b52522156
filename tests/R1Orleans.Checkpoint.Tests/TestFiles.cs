using System.Buffers.Binary;
using System.Text;
using R1Orleans.Checkpoint;

namespace R1Orleans.Checkpoint.Tests;

/// <summary>A fresh directory under the system temp folder, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "r1o-ckpt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="bytes"/> to a file of this directory and returns its path.</summary>
    public string Write(string name, byte[] bytes)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public string Sub(string name)
    {
        string p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(p);
        return p;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Builders for raw (possibly broken) safetensors bytes and for edited copies of checkpoints.</summary>
internal static class TestFiles
{
    /// <summary>8-byte length (the JSON's unless overridden), the JSON text as given, then <paramref name="dataBytes"/> zero bytes.</summary>
    /// <summary>Opening the file fails with a <see cref="CheckpointFormatException"/> that names the file first.</summary>
    public static CheckpointFormatException OpenFails(string path)
    {
        CheckpointFormatException e = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(path, e.File);
        Assert.StartsWith(path + ":", e.Message, StringComparison.Ordinal);
        return e;
    }

    public static byte[] RawSafetensors(string headerJson, int dataBytes = 0, ulong? lengthField = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(headerJson);
        byte[] file = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, lengthField ?? (ulong)json.Length);
        json.CopyTo(file, 8);
        return file;
    }

    /// <summary>The tiny preset with block FP8 linear weights.</summary>
    public static ModelConfig TinyFp8() => SyntheticCheckpoint.TinyConfig() with { Quantization = new Fp8Quantization("e4m3", 128, 128) };

    /// <summary>A smaller MoE config than the tiny preset (fast to write), optionally FP8 and with an MTP layer.</summary>
    public static ModelConfig Micro(bool fp8 = false, bool mtp = false) => SyntheticCheckpoint.TinyConfig() with
    {
        VocabSize = 96,
        HiddenSize = 32,
        IntermediateSize = 48,
        MoeIntermediateSize = 16,
        NumHiddenLayers = 3,
        NRoutedExperts = 8,
        NumExpertsPerTok = 2,
        NGroup = 2,
        TopkGroup = 1,
        QLoraRank = 24,
        KvLoraRank = 16,
        QkNopeHeadDim = 8,
        QkRopeHeadDim = 4,
        VHeadDim = 8,
        NumAttentionHeads = 2,
        NumNextnPredictLayers = mtp ? 1 : 0,
        Quantization = fp8 ? new Fp8Quantization("e4m3", 128, 128) : null,
    };

    /// <summary>
    /// Copies the single-file checkpoint <paramref name="source"/> to <paramref name="target"/>, passing each tensor through
    /// <paramref name="edit"/> (return null to drop it, or a replacement); <paramref name="extra"/> are appended.
    /// </summary>
    public static void Rewrite(string source, string target, Func<TensorInfo, byte[], SafetensorsTensor?> edit, params SafetensorsTensor[] extra)
    {
        Directory.CreateDirectory(target);
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(target, "config.json"), overwrite: true);
        var tensors = new List<SafetensorsTensor>();
        using (SafetensorsFile f = SafetensorsFile.Open(Path.Combine(source, CheckpointReader.SingleFileName)))
        {
            foreach (TensorInfo t in f.Tensors.OrderBy(t => t.Begin))
            {
                byte[] bytes = f.Bytes(t).ToArray();
                SafetensorsTensor? replacement = edit(t, bytes);
                if (replacement is not null)
                {
                    tensors.Add(replacement);
                }
            }
        }

        tensors.AddRange(extra);
        SafetensorsWriter.Write(Path.Combine(target, CheckpointReader.SingleFileName), tensors);
    }

    /// <summary>Overwrites element <paramref name="index"/> of <paramref name="tensor"/> in a safetensors file in place with <paramref name="bytes"/> (little-endian, the stored type).</summary>
    public static void PatchElement(string file, string tensor, long index, byte[] bytes)
    {
        long offset;
        using (SafetensorsFile f = SafetensorsFile.Open(file))
        {
            TensorInfo info = f.Get(tensor);
            if (bytes.Length != info.DType.ByteSize() || index < 0 || index >= info.ElementCount)
            {
                throw new ArgumentException($"{tensor} is {info.DType.Name()} {info.ShapeText}: cannot put {bytes.Length} bytes at element {index}");
            }

            byte[] prefix = new byte[8];
            using (FileStream s = File.OpenRead(file))
            {
                s.ReadExactly(prefix);
            }

            offset = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(prefix) + info.Begin + (index * bytes.Length);
        }

        using FileStream w = File.Open(file, FileMode.Open, FileAccess.Write);
        w.Position = offset;
        w.Write(bytes);
    }

    /// <summary>The tensor unchanged.</summary>
    public static SafetensorsTensor Keep(TensorInfo t, byte[] bytes) => SafetensorsTensor.FromBytes(t.Name, t.DType, t.Shape, bytes);
}
