using System.Buffers;
using System.Text.Json;

namespace R1Orleans.Checkpoint;

/// <summary>
/// One tensor to be written by <see cref="SafetensorsWriter"/>: its name, element type and shape, and a callback that
/// writes exactly <see cref="ByteLength"/> little-endian bytes of data when the writer reaches it. The callback runs
/// once, in file order, so data can be produced just in time instead of being held in memory.
/// </summary>
public sealed class SafetensorsTensor
{
    private readonly Action<Stream> _writeData;

    private SafetensorsTensor(string name, DType dtype, long[] shape, Action<Stream> writeData)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        long elements = 1;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"tensor '{name}': negative dimension in shape [{string.Join(", ", shape)}]", nameof(shape));
            }

            elements = checked(elements * d);
        }

        Name = name;
        DType = dtype;
        Shape = (long[])shape.Clone();
        ByteLength = checked(elements * dtype.ByteSize());
        _writeData = writeData;
    }

    public string Name { get; }

    public DType DType { get; }

    public long[] Shape { get; }

    public long ByteLength { get; }

    /// <summary>A tensor whose data is produced by <paramref name="writeData"/>, which must write exactly the tensor's byte length.</summary>
    public static SafetensorsTensor Deferred(string name, DType dtype, long[] shape, Action<Stream> writeData)
    {
        ArgumentNullException.ThrowIfNull(writeData);
        return new SafetensorsTensor(name, dtype, shape, writeData);
    }

    /// <summary>A tensor from raw little-endian bytes already in the stored type.</summary>
    public static SafetensorsTensor FromBytes(string name, DType dtype, long[] shape, ReadOnlyMemory<byte> bytes)
    {
        var t = new SafetensorsTensor(name, dtype, shape, s => s.Write(bytes.Span));
        if (t.ByteLength != bytes.Length)
        {
            throw new ArgumentException($"tensor '{name}': shape {t.ShapeText} x {dtype.Name()} is {t.ByteLength} bytes, got {bytes.Length}", nameof(bytes));
        }

        return t;
    }

    /// <summary>A floating-point tensor from float32 values, encoded to <paramref name="dtype"/> (round to nearest even; FP8 saturates).</summary>
    public static SafetensorsTensor FromFloats(string name, DType dtype, long[] shape, float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (!dtype.IsFloat())
        {
            throw new ArgumentException($"tensor '{name}': {dtype.Name()} is not a floating-point type", nameof(dtype));
        }

        var t = new SafetensorsTensor(name, dtype, shape, s => WriteEncoded(s, dtype, values));
        if (t.ByteLength != (long)values.Length * dtype.ByteSize())
        {
            throw new ArgumentException($"tensor '{name}': shape {t.ShapeText} needs {t.ByteLength / dtype.ByteSize()} values, got {values.Length}", nameof(values));
        }

        return t;
    }

    /// <summary>An I64 tensor.</summary>
    public static SafetensorsTensor FromInt64(string name, long[] shape, long[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var t = new SafetensorsTensor(name, DType.I64, shape, s =>
        {
            byte[] buffer = new byte[checked(values.Length * 8)];
            ElementEncoding.EncodeInt64(values, buffer);
            s.Write(buffer);
        });
        if (t.ByteLength != (long)values.Length * 8)
        {
            throw new ArgumentException($"tensor '{name}': shape {t.ShapeText} needs {t.ByteLength / 8} values, got {values.Length}", nameof(values));
        }

        return t;
    }

    /// <summary>
    /// A linear weight [rows, cols] as DeepSeek block FP8: the F8_E4M3 weight named <paramref name="name"/> and its F32
    /// <c>name_scale_inv</c> (see <see cref="SafetensorsWriter.QuantizeFp8Blocks"/>).
    /// </summary>
    public static (SafetensorsTensor Weight, SafetensorsTensor Scale) Fp8Blocks(string name, int rows, int cols, float[] values, Fp8Quantization q)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(q);
        if ((long)rows * cols != values.Length)
        {
            throw new ArgumentException($"tensor '{name}': [{rows}, {cols}] needs {(long)rows * cols} values, got {values.Length}", nameof(values));
        }

        long[] scaleShape = Fp8BlockDequantizer.ScaleShape(rows, cols, q);
        byte[] codes = new byte[values.Length];
        float[] scale = new float[scaleShape[0] * scaleShape[1]];
        SafetensorsWriter.QuantizeFp8Blocks(values, rows, cols, q, codes, scale);
        return (FromBytes(name, DType.F8_E4M3, [rows, cols], codes), FromFloats(TensorNames.ScaleOf(name), DType.F32, scaleShape, scale));
    }

    internal string ShapeText => "[" + string.Join(", ", Shape) + "]";

    internal void WriteData(Stream s) => _writeData(s);

    private static void WriteEncoded(Stream s, DType dtype, float[] values)
    {
        const int chunk = 1 << 16;
        int size = dtype.ByteSize();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunk * size);
        try
        {
            for (int i = 0; i < values.Length; i += chunk)
            {
                int n = Math.Min(chunk, values.Length - i);
                Span<byte> dst = buffer.AsSpan(0, n * size);
                ElementEncoding.Encode(dtype, values.AsSpan(i, n), dst);
                s.Write(dst);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// Writes safetensors files: an 8-byte little-endian header length, a JSON header (<c>dtype</c>, <c>shape</c>,
/// <c>data_offsets</c> relative to the data start, optional <c>__metadata__</c> of strings) padded with spaces so the
/// data starts 8-byte aligned, then the tensors' bytes back to back in the order given. Also writes sharded
/// checkpoints: <c>model-0000i-of-0000N.safetensors</c> plus <c>model.safetensors.index.json</c>.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Metadata written by PyTorch's safetensors, which some readers expect.</summary>
    public static IReadOnlyDictionary<string, string> PtMetadata { get; } = new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>Writes one safetensors file; returns the number of tensor data bytes written.</summary>
    public static long Write(string path, IReadOnlyList<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        byte[] header = BuildHeader(tensors, metadata);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        file.Write(header);
        long total = 0;
        var counting = new CountingStream(file);
        foreach (SafetensorsTensor t in tensors)
        {
            counting.Reset();
            t.WriteData(counting);
            if (counting.Count != t.ByteLength)
            {
                throw new InvalidOperationException($"tensor '{t.Name}': wrote {counting.Count} bytes, its shape {t.ShapeText} x {t.DType.Name()} needs {t.ByteLength}");
            }

            total += t.ByteLength;
        }

        return total;
    }

    /// <summary>
    /// The 8-byte length prefix and the space-padded JSON header for <paramref name="tensors"/> laid out back to back,
    /// ready to be followed by their data.
    /// </summary>
    public static byte[] BuildHeader(IReadOnlyList<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var names = new HashSet<string>(StringComparer.Ordinal) { "__metadata__" };
        var json = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach ((string k, string v) in metadata)
                {
                    w.WriteString(k, v);
                }

                w.WriteEndObject();
            }

            long offset = 0;
            foreach (SafetensorsTensor t in tensors)
            {
                if (!names.Add(t.Name))
                {
                    throw new ArgumentException($"tensor name '{t.Name}' is used twice (or is reserved)", nameof(tensors));
                }

                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.Name());
                w.WriteStartArray("shape");
                foreach (long d in t.Shape)
                {
                    w.WriteNumberValue(d);
                }

                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset = checked(offset + t.ByteLength);
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        int jsonLength = json.WrittenCount;
        int padded = (jsonLength + 7) & ~7;
        byte[] result = new byte[8 + padded];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)padded);
        json.WrittenSpan.CopyTo(result.AsSpan(8));
        result.AsSpan(8 + jsonLength).Fill((byte)' ');
        return result;
    }

    /// <summary>
    /// DeepSeek's block FP8 quantization of a [rows, cols] weight: per block, scale_inv = max |w| / 448 (1 for an all-zero
    /// block) and code = E4M3(w / scale_inv), rounded to nearest even, so that w ≈ fp8(code) × scale_inv
    /// (<see cref="Fp8BlockDequantizer"/>). <paramref name="scaleInv"/> is [ceil(rows/br), ceil(cols/bc)] row-major.
    /// </summary>
    public static void QuantizeFp8Blocks(ReadOnlySpan<float> w, int rows, int cols, Fp8Quantization q, Span<byte> codes, Span<float> scaleInv)
    {
        ArgumentNullException.ThrowIfNull(q);
        int scaleRows = (rows + q.BlockRows - 1) / q.BlockRows;
        int scaleCols = (cols + q.BlockCols - 1) / q.BlockCols;
        if (w.Length != (long)rows * cols || codes.Length != w.Length || scaleInv.Length != (long)scaleRows * scaleCols)
        {
            throw new ArgumentException($"[{rows}, {cols}] needs {(long)rows * cols} values and codes and {(long)scaleRows * scaleCols} scales; got {w.Length}, {codes.Length}, {scaleInv.Length}");
        }

        scaleInv.Clear();
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = w.Slice(r * cols, cols);
            Span<float> scaleRow = scaleInv.Slice(r / q.BlockRows * scaleCols, scaleCols);
            for (int b = 0; b < scaleCols; b++)
            {
                int start = b * q.BlockCols;
                int len = Math.Min(q.BlockCols, cols - start);
                scaleRow[b] = MathF.Max(scaleRow[b], MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(row.Slice(start, len))));
            }
        }

        for (int i = 0; i < scaleInv.Length; i++)
        {
            scaleInv[i] = scaleInv[i] > 0 ? scaleInv[i] / ElementEncoding.Fp8E4M3Max : 1f;
        }

        Span<float> scaled = stackalloc float[Math.Min(q.BlockCols, 4096)];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = w.Slice(r * cols, cols);
            ReadOnlySpan<float> scaleRow = scaleInv.Slice(r / q.BlockRows * scaleCols, scaleCols);
            Span<byte> dst = codes.Slice(r * cols, cols);
            for (int b = 0; b < scaleCols; b++)
            {
                int start = b * q.BlockCols;
                int len = Math.Min(q.BlockCols, cols - start);
                for (int off = 0; off < len; off += scaled.Length)
                {
                    int n = Math.Min(scaled.Length, len - off);
                    Span<float> tmp = scaled[..n];
                    System.Numerics.Tensors.TensorPrimitives.Divide(row.Slice(start + off, n), scaleRow[b], tmp);
                    Span<byte> out8 = dst.Slice(start + off, n);
                    for (int k = 0; k < n; k++)
                    {
                        out8[k] = FloatToFp8E4M3Fast(tmp[k]);
                    }
                }
            }
        }
    }

    /// <summary>Bitwise equivalent of <see cref="ElementEncoding.FloatToFp8E4M3"/> (nearest even, saturating), several times faster.</summary>
    internal static byte FloatToFp8E4M3Fast(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = (bits >> 24) & 0x80;
        uint abs = bits & 0x7FFFFFFF;
        if (abs > 0x7F800000)
        {
            return 0x7F;
        }

        if (abs >= 0x43E00000)
        {
            // |value| >= 448, the largest finite E4M3 value: saturate.
            return (byte)(sign | 0x7E);
        }

        if (abs < 0x3C800000)
        {
            // Below 2^-6: subnormal codes are multiples of 2^-9 (code 8 is exactly the smallest normal).
            float a = BitConverter.UInt32BitsToSingle(abs);
            return (byte)(sign | (uint)MathF.Round(a * 512f, MidpointRounding.ToEven));
        }

        // Normal: round the 23-bit mantissa to 3 bits, nearest even; a carry bumps the exponent, as it should.
        uint rounded = abs + 0x7FFFF + ((abs >> 20) & 1);
        uint code = ((((rounded >> 23) - 127 + 7) << 3) | ((rounded >> 20) & 7));
        return (byte)(sign | Math.Min(code, 0x7Eu));
    }

    /// <summary>The shard file name Hugging Face uses: <c>model-00002-of-00005.safetensors</c> (1-based).</summary>
    public static string ShardFileName(int shard, int shards) => $"model-{shard:D5}-of-{shards:D5}.safetensors";

    /// <summary>
    /// Writes <paramref name="shards"/> files in <paramref name="directory"/> plus <see cref="ShardIndex.FileName"/>.
    /// Tensors keep their order and are cut into contiguous runs of about equal byte size; <paramref name="groups"/>
    /// (optional, one id per tensor) keeps tensors with equal adjacent ids in the same shard (a weight and its scale).
    /// Returns the shard file names.
    /// </summary>
    public static IReadOnlyList<string> WriteSharded(
        string directory,
        IReadOnlyList<SafetensorsTensor> tensors,
        int shards,
        IReadOnlyDictionary<string, string>? metadata = null,
        IReadOnlyList<int>? groups = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        if (groups is not null && groups.Count != tensors.Count)
        {
            throw new ArgumentException($"{groups.Count} group ids for {tensors.Count} tensors", nameof(groups));
        }

        List<List<SafetensorsTensor>> parts = Partition(tensors, shards, groups);
        System.IO.Directory.CreateDirectory(directory);
        var files = new List<string>(shards);
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long totalSize = 0;
        for (int i = 0; i < shards; i++)
        {
            string fileName = ShardFileName(i + 1, shards);
            files.Add(fileName);
            foreach (SafetensorsTensor t in parts[i])
            {
                if (!weightMap.TryAdd(t.Name, fileName))
                {
                    throw new ArgumentException($"tensor name '{t.Name}' is used twice", nameof(tensors));
                }
            }

            totalSize += Write(Path.Combine(directory, fileName), parts[i], metadata);
        }

        WriteIndex(Path.Combine(directory, ShardIndex.FileName), weightMap, totalSize);
        return files;
    }

    /// <summary>Writes a <c>model.safetensors.index.json</c>: <c>{"metadata":{"total_size":N},"weight_map":{name:file}}</c>.</summary>
    public static void WriteIndex(string path, IEnumerable<KeyValuePair<string, string>> weightMap, long totalSize)
    {
        ArgumentNullException.ThrowIfNull(weightMap);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        using var w = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteStartObject("metadata");
        w.WriteNumber("total_size", totalSize);
        w.WriteEndObject();
        w.WriteStartObject("weight_map");
        foreach ((string name, string shard) in weightMap)
        {
            w.WriteString(name, shard);
        }

        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
        file.Write("\n"u8);
    }

    private static List<List<SafetensorsTensor>> Partition(IReadOnlyList<SafetensorsTensor> tensors, int shards, IReadOnlyList<int>? groups)
    {
        // Units are runs of tensors that must stay together.
        var units = new List<(int Start, int Count, long Bytes)>();
        for (int i = 0; i < tensors.Count; i++)
        {
            if (groups is not null && units.Count > 0 && groups[i] == groups[i - 1])
            {
                (int s, int c, long b) = units[^1];
                units[^1] = (s, c + 1, b + tensors[i].ByteLength);
            }
            else
            {
                units.Add((i, 1, tensors[i].ByteLength));
            }
        }

        if (units.Count < shards)
        {
            throw new ArgumentException($"{tensors.Count} tensors ({units.Count} groups) cannot fill {shards} shards", nameof(shards));
        }

        long total = units.Sum(u => u.Bytes);
        var parts = new List<List<SafetensorsTensor>>(shards);
        int next = 0;
        long done = 0;
        for (int s = 0; s < shards; s++)
        {
            var part = new List<SafetensorsTensor>();
            long target = total * (s + 1) / shards;
            int unitsLeftAfter = shards - s - 1;
            do
            {
                (int start, int count, long bytes) = units[next++];
                for (int k = 0; k < count; k++)
                {
                    part.Add(tensors[start + k]);
                }

                done += bytes;
            }
            while (next < units.Count - unitsLeftAfter && (s == shards - 1 || done + (units[next].Bytes / 2) <= target));

            parts.Add(part);
        }

        return parts;
    }

    /// <summary>Forwards writes and counts bytes, so a tensor's callback can be checked against its declared length.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Count { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => Count;
            set => throw new NotSupportedException();
        }

        public void Reset() => Count = 0;

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Count += count;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Count += buffer.Length;
        }

        public override void WriteByte(byte value)
        {
            inner.WriteByte(value);
            Count++;
        }
    }
}
