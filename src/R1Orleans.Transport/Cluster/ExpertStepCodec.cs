using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using R1Orleans.Placement;
using R1Orleans.Transport.Experts;

namespace R1Orleans.Transport.Cluster;

/// <summary>
/// The bytes of one MoE layer step between a rank and one holder silo: one request carrying all the rows for the
/// experts that silo runs, grouped by expert (DeepEP's dispatch layout), and one reply with their outputs in the same
/// order. Activations travel as float32, so a remote expert's output is bitwise what it would be in process.
/// Little-endian; the rows start 16-byte aligned. No per-element serialization: rows are copied as memory.
/// </summary>
/// <remarks>
/// Request: magic "R1XQ" · layer · version (i64) · epoch (i64) · hidden · rows · groups · 0 · (expert, rows) × groups ·
/// padding · rows × hidden float32. Reply: magic "R1XR" · status · rows · hidden · message bytes · 0 ·
/// rows × hidden float32 when the status is <see cref="ExpertReplyStatus.Ok"/>, else a UTF-8 message.
/// </remarks>
public static class ExpertStepCodec
{
    public const uint RequestMagic = 0x51583152; // "R1XQ"

    public const uint ReplyMagic = 0x52583152; // "R1XR"

    private const int RequestHeader = 40;
    private const int ReplyHeader = 32;

    /// <summary>Bytes of a request with <paramref name="groups"/> expert groups and <paramref name="rows"/> rows of <paramref name="hidden"/> floats.</summary>
    public static int RequestLength(int groups, int rows, int hidden) => RowsOffset(groups) + (rows * hidden * sizeof(float));

    /// <summary>Bytes of a successful reply.</summary>
    public static int ReplyLength(int rows, int hidden) => ReplyHeader + (rows * hidden * sizeof(float));

    private static int RowsOffset(int groups) => Align16(RequestHeader + (groups * 8));

    private static int Align16(int n) => (n + 15) & ~15;

    /// <summary>
    /// Writes a request into <paramref name="destination"/> (at least <see cref="RequestLength"/> bytes): the rows of
    /// <paramref name="x"/> named by <paramref name="rowTokens"/> (tokens × hidden), in <paramref name="groupsOfRows"/>
    /// (<see cref="ExpertGroup.Of"/> of the rows' experts). Returns the bytes written.
    /// </summary>
    public static int WriteRequest(Span<byte> destination, PlacementStamp stamp, int layer, int hidden, ReadOnlySpan<int> rowTokens, ExpertGroup[] groupsOfRows, ReadOnlySpan<float> x)
    {
        ArgumentNullException.ThrowIfNull(groupsOfRows);
        int rows = rowTokens.Length;
        int groups = groupsOfRows.Length;
        int covered = groups == 0 ? 0 : groupsOfRows[^1].FirstRow + groupsOfRows[^1].Rows;
        if (covered != rows)
        {
            throw new ArgumentException($"the groups cover {covered} rows, the request has {rows}", nameof(groupsOfRows));
        }

        int length = RequestLength(groups, rows, hidden);
        if (destination.Length < length)
        {
            throw new ArgumentException($"the request needs {length} bytes, the buffer holds {destination.Length}", nameof(destination));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(destination, RequestMagic);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], layer);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], stamp.Version);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], stamp.Epoch);
        BinaryPrimitives.WriteInt32LittleEndian(destination[24..], hidden);
        BinaryPrimitives.WriteInt32LittleEndian(destination[28..], rows);
        BinaryPrimitives.WriteInt32LittleEndian(destination[32..], groups);
        BinaryPrimitives.WriteInt32LittleEndian(destination[36..], 0);
        for (int g = 0; g < groups; g++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(destination[(RequestHeader + (g * 8))..], groupsOfRows[g].Expert);
            BinaryPrimitives.WriteInt32LittleEndian(destination[(RequestHeader + (g * 8) + 4)..], groupsOfRows[g].Rows);
        }

        int offset = RowsOffset(groups);
        destination[(RequestHeader + (groups * 8))..offset].Clear();
        Span<float> payload = MemoryMarshal.Cast<byte, float>(destination[offset..length]);
        for (int r = 0; r < rows; r++)
        {
            x.Slice(rowTokens[r] * hidden, hidden).CopyTo(payload.Slice(r * hidden, hidden));
        }

        return length;
    }

    /// <summary>Reads a request's header and groups; its rows are <see cref="ExpertStepRequest.RowBytes"/> of the same buffer.</summary>
    public static ExpertStepRequest ReadRequest(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < RequestHeader || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != RequestMagic)
        {
            throw new InvalidDataException($"not an expert step request ({bytes.Length} bytes)");
        }

        int layer = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        var stamp = new PlacementStamp(BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]));
        int hidden = BinaryPrimitives.ReadInt32LittleEndian(bytes[24..]);
        int rows = BinaryPrimitives.ReadInt32LittleEndian(bytes[28..]);
        int groups = BinaryPrimitives.ReadInt32LittleEndian(bytes[32..]);
        if (hidden <= 0 || rows < 0 || groups < 0 || groups > rows || (long)RowsOffset(groups) + ((long)rows * hidden * sizeof(float)) != bytes.Length)
        {
            throw new InvalidDataException($"expert step request: {rows} rows × {hidden} in {groups} groups do not fill its {bytes.Length} bytes");
        }

        var list = new ExpertGroup[groups];
        int first = 0;
        for (int g = 0; g < groups; g++)
        {
            int expert = BinaryPrimitives.ReadInt32LittleEndian(bytes[(RequestHeader + (g * 8))..]);
            int count = BinaryPrimitives.ReadInt32LittleEndian(bytes[(RequestHeader + (g * 8) + 4)..]);
            if (count <= 0 || first + count > rows)
            {
                throw new InvalidDataException($"expert step request: group {g} (expert {expert}) has {count} rows");
            }

            list[g] = new ExpertGroup(expert, first, count);
            first += count;
        }

        if (first != rows)
        {
            throw new InvalidDataException($"expert step request: the groups hold {first} of its {rows} rows");
        }

        return new ExpertStepRequest(stamp, layer, hidden, rows, list, RowsOffset(groups));
    }

    /// <summary>Writes a successful reply's header; its rows follow at <see cref="ReplyRowsOffset"/>.</summary>
    public static void WriteReplyHeader(Span<byte> destination, int rows, int hidden)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, ReplyMagic);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], (int)ExpertReplyStatus.Ok);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], rows);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], hidden);
        destination[16..ReplyHeader].Clear();
    }

    public const int ReplyRowsOffset = ReplyHeader;

    /// <summary>Writes a refusal or failure reply; returns its length.</summary>
    public static int WriteErrorReply(Span<byte> destination, ExpertReplyStatus status, string message)
    {
        byte[] text = Encoding.UTF8.GetBytes(message);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, ReplyMagic);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], (int)status);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(destination[16..], text.Length);
        destination[20..ReplyHeader].Clear();
        text.CopyTo(destination[ReplyHeader..]);
        return ReplyHeader + text.Length;
    }

    /// <summary>Bytes an error reply with <paramref name="message"/> needs.</summary>
    public static int ErrorReplyLength(string message) => ReplyHeader + Encoding.UTF8.GetByteCount(message);

    /// <summary>
    /// Checks a reply for <paramref name="rows"/> rows of <paramref name="hidden"/> floats and gives its rows in
    /// <paramref name="data"/>; a refusal or failure comes back as its status and <paramref name="message"/>, with no rows.
    /// </summary>
    public static ExpertReplyStatus ReadReply(ReadOnlySpan<byte> bytes, int rows, int hidden, out string? message, out ReadOnlySpan<float> data)
    {
        data = default;
        message = null;
        if (bytes.Length < ReplyHeader || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != ReplyMagic)
        {
            throw new InvalidDataException($"not an expert step reply ({bytes.Length} bytes)");
        }

        var status = (ExpertReplyStatus)BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        if (status != ExpertReplyStatus.Ok)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes[16..]);
            message = length >= 0 && ReplyHeader + length <= bytes.Length ? Encoding.UTF8.GetString(bytes.Slice(ReplyHeader, length)) : "(no message)";
            return status;
        }

        if (BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]) != rows || BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]) != hidden || bytes.Length != ReplyLength(rows, hidden))
        {
            throw new InvalidDataException($"expert step reply: expected {rows} rows × {hidden}, got a {bytes.Length}-byte reply");
        }

        data = MemoryMarshal.Cast<byte, float>(bytes[ReplyHeader..]);
        return status;
    }
}

/// <summary>What a holder answered.</summary>
public enum ExpertReplyStatus
{
    Ok = 0,

    /// <summary>The holder does not serve the step's placement version (fenced); the rank re-plans or waits for the switch.</summary>
    Fenced = 1,

    /// <summary>The holder could not run the step (an expert it does not hold, a malformed request).</summary>
    Failed = 2,
}

/// <summary>A decoded request's header: what to run, and where its rows are in the request's bytes.</summary>
public sealed record ExpertStepRequest(PlacementStamp Stamp, int Layer, int Hidden, int Rows, ExpertGroup[] Groups, int RowsOffset);
