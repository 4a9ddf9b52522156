using R1Orleans.Cuda.Nccl;

namespace R1Orleans.Cuda.Tests;

public class NcclUniqueIdTests
{
    private static byte[] Sample()
    {
        byte[] bytes = new byte[NcclUniqueId.Bytes];
        new Random(20261205).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void Bytes_and_base64_round_trip_exactly()
    {
        byte[] bytes = Sample();
        NcclUniqueId id = NcclUniqueId.FromBytes(bytes);

        Assert.Equal(bytes, id.ToBytes());
        Assert.Equal(id, NcclUniqueId.FromBase64(id.ToBase64()));
        Assert.Equal(bytes, NcclUniqueId.FromBase64(id.ToBase64()).ToBytes());
    }

    [Fact]
    public void The_id_keeps_its_own_copy()
    {
        byte[] bytes = Sample();
        NcclUniqueId id = NcclUniqueId.FromBytes(bytes);
        bytes[0] ^= 0xFF;
        byte[] copy = id.ToBytes();
        copy[1] ^= 0xFF;

        Assert.NotEqual(bytes[0], id.Span[0]);
        Assert.NotEqual(copy[1], id.Span[1]);
    }

    [Fact]
    public void Ids_differing_in_the_last_byte_differ()
    {
        byte[] bytes = Sample();
        NcclUniqueId a = NcclUniqueId.FromBytes(bytes);
        bytes[^1] ^= 1;
        Assert.NotEqual(a, NcclUniqueId.FromBytes(bytes));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(127)]
    [InlineData(129)]
    public void An_id_of_the_wrong_length_is_refused(int length)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => NcclUniqueId.FromBytes(new byte[length]));
        Assert.Contains($"128 bytes, got {length}", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => NcclUniqueId.FromBase64(Convert.ToBase64String(new byte[length])));
        Assert.Throws<ArgumentException>(() => NcclUniqueId.FromBase64("not base64!"));
    }

    [Fact]
    public unsafe void The_native_id_carries_the_same_128_bytes()
    {
        byte[] bytes = Sample();
        NcclNativeUniqueId native = NcclUniqueId.FromBytes(bytes).ToNative();

        Assert.Equal(128, sizeof(NcclNativeUniqueId));
        Assert.Equal(bytes, new ReadOnlySpan<byte>(native.Internal, 128).ToArray());
    }
}
