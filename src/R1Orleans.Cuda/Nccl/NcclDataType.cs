namespace R1Orleans.Cuda.Nccl;

/// <summary>NCCL's ncclDataType_t (nccl.h): the element type of a send or receive, which sets how many bytes a count is.</summary>
public enum NcclDataType
{
    ncclInt8 = 0,
    ncclUint8 = 1,
    ncclInt32 = 2,
    ncclUint32 = 3,
    ncclInt64 = 4,
    ncclUint64 = 5,
    ncclFloat16 = 6,
    ncclFloat32 = 7,
    ncclFloat64 = 8,
    ncclBfloat16 = 9,
    ncclFloat8e4m3 = 10,
    ncclFloat8e5m2 = 11,
}

/// <summary>Sizes of the NCCL element types.</summary>
public static class NcclDataTypes
{
    public static int SizeOf(NcclDataType type) => type switch
    {
        NcclDataType.ncclInt8 or NcclDataType.ncclUint8 or NcclDataType.ncclFloat8e4m3 or NcclDataType.ncclFloat8e5m2 => 1,
        NcclDataType.ncclFloat16 or NcclDataType.ncclBfloat16 => 2,
        NcclDataType.ncclInt32 or NcclDataType.ncclUint32 or NcclDataType.ncclFloat32 => 4,
        NcclDataType.ncclInt64 or NcclDataType.ncclUint64 or NcclDataType.ncclFloat64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not an NCCL data type"),
    };
}
