using System.Buffers.Binary;
using System.Text;
using CsCheck;

namespace R1Orleans.Checkpoint.Tests;

/// <summary>
/// Untrusted bytes fed to the header parser and the file opener only ever produce <see cref="CheckpointFormatException"/>
/// (never another exception type, a crash or a hang).
/// </summary>
public class SafetensorsFuzzTests
{
    private static readonly byte[] ValidHeader = BuildValidHeader(out s_validDataLength);
    private static readonly long s_validDataLength;

    private static byte[] BuildValidHeader(out long dataLength)
    {
        SafetensorsTensor[] tensors =
        [
            SafetensorsTensor.FromFloats("model.embed_tokens.weight", DType.BF16, [4, 3], new float[12]),
            SafetensorsTensor.FromBytes("model.layers.0.mlp.down_proj.weight", DType.F8_E4M3, [3, 5], new byte[15]),
            SafetensorsTensor.FromFloats("model.layers.0.mlp.down_proj.weight_scale_inv", DType.F32, [1, 1], [1f]),
            SafetensorsTensor.FromInt64("ids", [2], [1, 2]),
            SafetensorsTensor.FromFloats("h", DType.F16, [0], []),
        ];
        dataLength = tensors.Sum(t => t.ByteLength);
        byte[] withPrefix = SafetensorsWriter.BuildHeader(tensors, SafetensorsWriter.PtMetadata);
        return withPrefix[8..];
    }

    /// <summary>Runs <paramref name="action"/>; a <see cref="CheckpointFormatException"/> is an accepted outcome, anything else fails.</summary>
    private static void OnlyFormatErrors(Action action)
    {
        try
        {
            action();
        }
        catch (CheckpointFormatException)
        {
        }
    }

    /// <summary>What <see cref="SafetensorsFile.Open"/> does with a file's bytes, in memory: length prefix, then header.</summary>
    private static void ParseWholeFile(byte[] file)
    {
        int headerLength = SafetensorsHeader.ReadHeaderLength("fuzz", file.AsSpan(0, Math.Min(8, file.Length)), file.Length);
        IReadOnlyList<TensorInfo> tensors = SafetensorsHeader.Parse("fuzz", file.AsSpan(8, headerLength), file.Length - 8 - headerLength);
        foreach (TensorInfo t in tensors)
        {
            Assert.InRange(t.End, t.Begin, file.Length - 8 - headerLength);
            Assert.Equal(t.ElementCount * t.DType.ByteSize(), t.ByteLength);
        }

        AssertTiles(tensors, file.Length - 8 - headerLength);
    }

    /// <summary>What an accepted header guarantees: sorted by offset, the tensors cover [0, dataLength) with no gap and no overlap.</summary>
    private static void AssertTiles(IReadOnlyList<TensorInfo> tensors, long dataLength)
    {
        long next = 0;
        foreach (TensorInfo t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            Assert.Equal(next, t.Begin);
            next = t.End;
        }

        Assert.Equal(dataLength, next);
    }

    [Fact]
    public void ValidHeaderParses()
    {
        IReadOnlyList<TensorInfo> tensors = SafetensorsHeader.Parse("valid", ValidHeader, s_validDataLength);
        Assert.Equal(5, tensors.Count);
    }

    [Fact]
    public void RandomBytesAsHeader()
    {
        Gen.Select(Gen.Byte.Array[0, 300], Gen.Long[0, 1 << 20])
            .Sample((json, dataLength) => OnlyFormatErrors(() => SafetensorsHeader.Parse("fuzz", json, dataLength)), iter: 20_000);
    }

    [Fact]
    public void RandomBytesAsWholeFile()
    {
        Gen.Byte.Array[0, 200].Sample(file => OnlyFormatErrors(() => ParseWholeFile(file)), iter: 20_000);

        // Plausible length prefixes followed by random bytes, so the parser is reached more often.
        Gen.Select(Gen.Int[0, 120], Gen.Byte.Array[0, 160]).Sample((length, rest) =>
        {
            byte[] file = new byte[8 + rest.Length];
            BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)length);
            rest.CopyTo(file, 8);
            OnlyFormatErrors(() => ParseWholeFile(file));
        }, iter: 20_000);
    }

    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "0", "1e309", "-0", "4.5", "9223372036854775808",
        "18446744073709551616", "\"F32\"", "\"F8_E4M3\"", "\"BOOL\"", "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"",
        "\\u0000", "\\ud800", "\\udc00\\ud800", "\\\"", "\u00e9", "\xff", "[[[[[[[[[[[[[[[[[[[[", "\"\":", " ",
    ];

    private static readonly Gen<byte[]> MutatedHeader =
        Gen.Int[1, 6].SelectMany(n => Gen.Select(Gen.Int[0, 3], Gen.Int[0, ValidHeader.Length], Gen.Int[0, Tokens.Length - 1], Gen.Byte).Array[n])
            .Select(ops =>
            {
                var bytes = new List<byte>(ValidHeader);
                foreach ((int kind, int pos, int token, byte b) in ops)
                {
                    int p = Math.Min(pos, bytes.Count);
                    switch (kind)
                    {
                        case 0:
                            if (p < bytes.Count)
                            {
                                bytes[p] = b;
                            }

                            break;
                        case 1:
                            bytes.InsertRange(p, Encoding.UTF8.GetBytes(Tokens[token]));
                            break;
                        case 2:
                            bytes.RemoveRange(p, Math.Min(1 + (token % 8), bytes.Count - p));
                            break;
                        default:
                            bytes.RemoveRange(p, bytes.Count - p);
                            break;
                    }
                }

                return bytes.ToArray();
            });

    [Fact]
    public void MutatedValidHeaders()
    {
        Gen.Select(MutatedHeader, Gen.Long[0, 200])
            .Sample((json, extra) => OnlyFormatErrors(() =>
            {
                long dataLength = s_validDataLength - 50 + extra;
                AssertTiles(SafetensorsHeader.Parse("fuzz", json, dataLength), dataLength);
            }), iter: 30_000);
    }

    private static readonly Gen<string> JsonNumberish = Gen.OneOf<string>(
        "0", "1", "2", "3", "4", "8", "12", "-1", "1.5", "1e3", "1e400", "-0", "9223372036854775807", "9223372036854775808",
        "\"4\"", "null", "[]", "{}", "true");

    private static readonly Gen<string> Entry =
        Gen.Select(
            Gen.OneOf<string>("\"w\"", "\"x\"", "\"__metadata__\"", "\"\"", "\"\\ud800\"", "\"w\\u0000\""),
            Gen.OneOf<string>("\"F32\"", "\"BF16\"", "\"F16\"", "\"F8_E4M3\"", "\"I64\"", "\"BOOL\"", "\"U8\"", "\"F4\"", "7", "null", "[\"F32\"]"),
            JsonNumberish.Array[0, 3],
            JsonNumberish.Array[0, 3],
            Gen.Int[0, 7])
        .Select((name, dtype, shape, offsets, drop) =>
        {
            var fields = new List<string>();
            if ((drop & 1) == 0)
            {
                fields.Add($"\"dtype\":{dtype}");
            }

            if ((drop & 2) == 0)
            {
                fields.Add($"\"shape\":[{string.Join(",", shape)}]");
            }

            if ((drop & 4) == 0 || drop == 7)
            {
                fields.Add($"\"data_offsets\":[{string.Join(",", offsets)}]");
            }

            return $"{name}:{{{string.Join(",", fields)}}}";
        });

    [Fact]
    public void StructuredRandomHeaders()
    {
        Gen.Select(Entry.Array[0, 4], Gen.Long[0, 16], Gen.Bool)
            .Sample((entries, dataLength, asArray) =>
            {
                string json = asArray ? $"[{string.Join(",", entries)}]" : $"{{{string.Join(",", entries)}}}";
                OnlyFormatErrors(() => AssertTiles(SafetensorsHeader.Parse("fuzz", Encoding.UTF8.GetBytes(json), dataLength), dataLength));
            }, iter: 30_000);
    }

    [Fact]
    public void FileOpenerOnRandomAndMutatedFiles()
    {
        string dir = Path.Combine(Path.GetTempPath(), "r1o-fuzz-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Gen<byte[]> files = Gen.OneOf(
                Gen.Byte.Array[0, 64],
                Gen.Select(MutatedHeader, Gen.Int[0, 100], (header, extra) =>
                {
                    byte[] file = new byte[8 + header.Length + (int)s_validDataLength - 50 + extra];
                    BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
                    header.CopyTo(file, 8);
                    return file;
                }));
            files.Sample(bytes =>
            {
                string path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".safetensors");
                File.WriteAllBytes(path, bytes);
                try
                {
                    OnlyFormatErrors(() =>
                    {
                        using SafetensorsFile f = SafetensorsFile.Open(path);
                        foreach (TensorInfo t in f.Tensors)
                        {
                            ReadOnlySpan<byte> data = f.Bytes(t);
                            if (t.DType.IsFloat())
                            {
                                ElementConversion.ToFloat32(path, t, data, new float[t.ElementCount]);
                            }
                        }
                    });
                }
                finally
                {
                    File.Delete(path);
                }
            }, iter: 1_500);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
