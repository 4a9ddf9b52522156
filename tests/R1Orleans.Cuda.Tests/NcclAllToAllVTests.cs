using R1Orleans.Cuda.Nccl;

namespace R1Orleans.Cuda.Tests;

public class NcclAllToAllVTests
{
    [Fact]
    public void Each_peer_with_rows_gets_every_plane_in_order_at_its_rows_byte_address()
    {
        // 3 ranks: send 2 rows to rank 0, none to rank 1, 3 to rank 2; receive 1 row from rank 1 only.
        NcclRowPlane[] planes = [new(0x10000, 0x90000, 4, NcclDataType.ncclFloat32), new(0x20000, 0xA0000, 2, NcclDataType.ncclInt32)];

        (NcclTransfer[] sends, NcclTransfer[] receives) = NcclAllToAllV.Transfers([0, 2, 2, 5], [0, 0, 1, 1], planes);

        Assert.Equal(
            [
                new NcclTransfer(0, 0x10000, 8, NcclDataType.ncclFloat32), new NcclTransfer(0, 0x20000, 4, NcclDataType.ncclInt32),
                new NcclTransfer(2, 0x10000 + (2 * 16), 12, NcclDataType.ncclFloat32), new NcclTransfer(2, 0x20000 + (2 * 8), 6, NcclDataType.ncclInt32),
            ],
            sends);
        Assert.Equal([new NcclTransfer(1, 0x90000, 4, NcclDataType.ncclFloat32), new NcclTransfer(1, 0xA0000, 2, NcclDataType.ncclInt32)], receives);
    }

    [Fact]
    public void Offsets_that_do_not_ascend_or_do_not_match_are_refused()
    {
        NcclRowPlane[] planes = [new(1, 2, 1, NcclDataType.ncclUint8)];
        Assert.Throws<ArgumentException>(() => NcclAllToAllV.Transfers([0, 3, 2], [0, 0, 0], planes));
        Assert.Throws<ArgumentException>(() => NcclAllToAllV.Transfers([0, 1], [0, 0, 1], planes));
    }

    [Theory]
    [InlineData(NcclDataType.ncclFloat8e4m3, 1)]
    [InlineData(NcclDataType.ncclBfloat16, 2)]
    [InlineData(NcclDataType.ncclFloat32, 4)]
    [InlineData(NcclDataType.ncclInt64, 8)]
    public void Element_sizes_are_ncclDataType_ts(NcclDataType type, int bytes) => Assert.Equal(bytes, NcclDataTypes.SizeOf(type));
}
