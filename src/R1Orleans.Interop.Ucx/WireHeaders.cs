using System.Buffers.Binary;

namespace R1Orleans.Interop.Ucx;

/// <summary>
/// The active-message ids and headers of the request/reply protocol. Every header is 16 bytes, little-endian:
/// hello = [node id | 0], request = [correlation id | sender node id], reply = [correlation id | status | 0].
/// A hello (payload: the sender's worker address) is the first message on every endpoint, so the receiver knows
/// which of its endpoints answers that node.
/// </summary>
internal static class WireHeaders
{
    public const uint HelloId = 0;
    public const uint RequestId = 1;
    public const uint ReplyId = 2;
    public const int Length = 16;

    public const uint ReplyOk = 0;
    public const uint ReplyHandlerFailed = 1;

    public static void Write(Span<byte> header, ulong first, ulong second)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(header, first);
        BinaryPrimitives.WriteUInt64LittleEndian(header[8..], second);
    }

    public static (ulong First, ulong Second) Read(ReadOnlySpan<byte> header) =>
        (BinaryPrimitives.ReadUInt64LittleEndian(header), BinaryPrimitives.ReadUInt64LittleEndian(header[8..]));
}
