namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// An ncclUniqueId: the 128 opaque bytes rank 0 makes (ncclGetUniqueId) and every rank of one communicator passes to
/// ncclCommInitRankConfig. It travels between silos through the control plane as bytes or base64.
/// </summary>
public sealed class NcclUniqueId : IEquatable<NcclUniqueId>
{
    /// <summary>NCCL_UNIQUE_ID_BYTES.</summary>
    public const int Bytes = 128;

    private readonly byte[] _bytes;

    private NcclUniqueId(byte[] bytes) => _bytes = bytes;

    /// <summary>A copy of the id's bytes.</summary>
    public byte[] ToBytes() => (byte[])_bytes.Clone();

    public ReadOnlySpan<byte> Span => _bytes;

    public string ToBase64() => Convert.ToBase64String(_bytes);

    /// <summary>An id from exactly <see cref="Bytes"/> bytes (copied).</summary>
    public static NcclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Bytes)
        {
            throw new ArgumentException($"an ncclUniqueId is {Bytes} bytes, got {bytes.Length}", nameof(bytes));
        }

        return new NcclUniqueId(bytes.ToArray());
    }

    public static NcclUniqueId FromBase64(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(text);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"an ncclUniqueId in base64 was expected: {e.Message}", nameof(text), e);
        }

        return FromBytes(bytes);
    }

    /// <summary>A new id from the loaded NCCL library (rank 0 of a communicator calls this once per generation).</summary>
    public static unsafe NcclUniqueId Create()
    {
        NcclLibrary.Load();
        NcclNativeUniqueId native;
        NcclStatus.Check(NcclApi.ncclGetUniqueId(&native), "ncclGetUniqueId");
        return new NcclUniqueId(new ReadOnlySpan<byte>(native.Internal, Bytes).ToArray());
    }

    internal unsafe NcclNativeUniqueId ToNative()
    {
        NcclNativeUniqueId native;
        _bytes.CopyTo(new Span<byte>(native.Internal, Bytes));
        return native;
    }

    public bool Equals(NcclUniqueId? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => Equals(obj as NcclUniqueId);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_bytes);
        return hash.ToHashCode();
    }

    /// <summary>The first bytes in hex, enough to tell ids apart in a log.</summary>
    public override string ToString() => Convert.ToHexString(_bytes, 0, 8);
}
