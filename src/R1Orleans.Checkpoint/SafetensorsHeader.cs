using System.Text.Json;

namespace R1Orleans.Checkpoint;

/// <summary>
/// Parses and validates the JSON header of a safetensors file. Everything in it is untrusted: each field is type
/// checked, sizes are computed with overflow checks, and the byte ranges must tile the data section exactly (no gap,
/// no overlap, no spare bytes). Failures are <see cref="CheckpointFormatException"/> naming the file and tensor.
/// </summary>
public static class SafetensorsHeader
{
    /// <summary>Headers larger than this are rejected before any allocation (DeepSeek-V3's largest is under 1 MiB).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    public const int MaxRank = 8;

    /// <summary>Reads the 8-byte little-endian header length and checks it against the file size.</summary>
    public static int ReadHeaderLength(string file, ReadOnlySpan<byte> first8, long fileLength)
    {
        if (fileLength < 8 || first8.Length < 8)
        {
            throw new CheckpointFormatException(file, null, $"file is {fileLength} bytes, shorter than the 8-byte header length");
        }

        ulong n = BitConverter.ToUInt64(first8[..8]);
        if (!BitConverter.IsLittleEndian)
        {
            n = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(n);
        }

        if (n > MaxHeaderBytes)
        {
            throw new CheckpointFormatException(file, null, $"header length {n} exceeds the cap of {MaxHeaderBytes} bytes");
        }

        if ((long)n > fileLength - 8)
        {
            throw new CheckpointFormatException(file, null, $"header length {n} runs past the end of the {fileLength}-byte file");
        }

        if (n < 2)
        {
            throw new CheckpointFormatException(file, null, $"header length {n} is too short for a JSON object");
        }

        return (int)n;
    }

    /// <summary>Parses the header JSON and validates every entry against a data section of <paramref name="dataLength"/> bytes.</summary>
    public static IReadOnlyList<TensorInfo> Parse(string file, ReadOnlySpan<byte> json, long dataLength)
    {
        try
        {
            return ParseDocument(file, json, dataLength);
        }
        catch (InvalidOperationException e)
        {
            // JsonDocument checks strings lazily: invalid UTF-8 or a lone surrogate escape surfaces only when a name or value is read.
            throw new CheckpointFormatException(file, null, $"header holds a string that is not valid UTF-8 or UTF-16: {e.Message}", e);
        }
    }

    private static IReadOnlyList<TensorInfo> ParseDocument(string file, ReadOnlySpan<byte> json, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(file, null, $"header is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointFormatException(file, null, $"header is a JSON {doc.RootElement.ValueKind}, expected an object");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            var tensors = new List<TensorInfo>();
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(p.Name))
                {
                    throw new CheckpointFormatException(file, p.Name, "appears twice in the header");
                }

                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object)
                    {
                        throw new CheckpointFormatException(file, null, "__metadata__ is not an object");
                    }

                    continue;
                }

                tensors.Add(ParseEntry(file, p.Name, p.Value, dataLength));
            }

            CheckTiling(file, tensors, dataLength);
            return tensors;
        }
    }

    private static TensorInfo ParseEntry(string file, string name, JsonElement e, long dataLength)
    {
        if (name.Length == 0)
        {
            throw new CheckpointFormatException(file, name, "empty tensor name");
        }

        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new CheckpointFormatException(file, name, $"entry is a JSON {e.ValueKind}, expected an object");
        }

        if (!e.TryGetProperty("dtype", out JsonElement dt) || dt.ValueKind != JsonValueKind.String)
        {
            throw new CheckpointFormatException(file, name, "missing or non-string 'dtype'");
        }

        string dtypeText = dt.GetString()!;
        if (!DTypes.TryParse(dtypeText, out DType dtype))
        {
            throw new CheckpointFormatException(file, name, $"unknown dtype '{dtypeText}'");
        }

        if (!e.TryGetProperty("shape", out JsonElement shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
        {
            throw new CheckpointFormatException(file, name, "missing or non-array 'shape'");
        }

        int rank = shapeEl.GetArrayLength();
        if (rank > MaxRank)
        {
            throw new CheckpointFormatException(file, name, $"rank {rank} exceeds the maximum of {MaxRank}");
        }

        var shape = new long[rank];
        long elements = 1;
        for (int i = 0; i < rank; i++)
        {
            JsonElement d = shapeEl[i];
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
            {
                throw new CheckpointFormatException(file, name, $"shape[{i}] is not a non-negative integer");
            }

            shape[i] = dim;
            elements = MultiplyOrThrow(file, name, elements, dim);
        }

        long bytes = MultiplyOrThrow(file, name, elements, dtype.ByteSize());

        if (!e.TryGetProperty("data_offsets", out JsonElement offs) || offs.ValueKind != JsonValueKind.Array || offs.GetArrayLength() != 2)
        {
            throw new CheckpointFormatException(file, name, "missing 'data_offsets' or it is not an array of two integers");
        }

        if (!TryOffset(offs[0], out long begin) || !TryOffset(offs[1], out long end))
        {
            throw new CheckpointFormatException(file, name, "data_offsets are not non-negative integers");
        }

        if (end < begin)
        {
            throw new CheckpointFormatException(file, name, $"data_offsets [{begin}, {end}] end before they begin");
        }

        if (end > dataLength)
        {
            throw new CheckpointFormatException(file, name, $"data_offsets [{begin}, {end}] run past the {dataLength}-byte data section");
        }

        if (end - begin != bytes)
        {
            throw new CheckpointFormatException(
                file, name, $"shape [{string.Join(", ", shape)}] x {dtype.Name()} is {bytes} bytes but data_offsets span {end - begin}");
        }

        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static bool TryOffset(JsonElement e, out long value)
    {
        value = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out value) && value >= 0;
    }

    private static long MultiplyOrThrow(string file, string name, long a, long b)
    {
        try
        {
            return checked(a * b);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException(file, name, "shape is too large (size overflows 64 bits)");
        }
    }

    /// <summary>
    /// The reference loader's rule (Rust safetensors: InvalidOffset, MetadataIncompleteBuffer): sorted by offset, the
    /// tensors cover the data section exactly, the first at byte 0, each where the previous ends, the last at its end.
    /// A gap, an overlap or spare bytes mean a hand-edited header or a header length that is off, which would shift
    /// every tensor silently.
    /// </summary>
    private static void CheckTiling(string file, List<TensorInfo> tensors, long dataLength)
    {
        // Empty tensors sort before a non-empty one that begins at the same byte, as in the reference (by begin, then end).
        TensorInfo[] sorted = [.. tensors.OrderBy(t => t.Begin).ThenBy(t => t.End)];
        long next = 0;
        TensorInfo? previous = null;
        foreach (TensorInfo t in sorted)
        {
            if (t.Begin > next)
            {
                string after = previous is null ? "the data section starts at byte 0" : $"tensor '{previous.Name}' ends at byte {next}";
                throw new CheckpointFormatException(
                    file, t.Name, $"bytes [{t.Begin}, {t.End}) leave a gap of {t.Begin - next} bytes: {after}; the tensors must tile the data section with no gap");
            }

            if (t.Begin < next)
            {
                throw new CheckpointFormatException(
                    file, t.Name, $"bytes [{t.Begin}, {t.End}) overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End})");
            }

            next = t.End;
            previous = t;
        }

        if (next != dataLength)
        {
            long spare = dataLength - next;
            string bytes = spare == 1 ? "1 byte after the last tensor belongs" : $"{spare} bytes after the last tensor belong";
            throw previous is null
                ? new CheckpointFormatException(file, null, $"the header lists no tensors but the data section is {dataLength} bytes (is the header length right?)")
                : new CheckpointFormatException(
                    file, previous.Name, $"the last tensor ends at byte {next} but the data section is {dataLength} bytes (file length - 8 - header length): {bytes} to no tensor (is the header length right?)");
        }
    }
}
