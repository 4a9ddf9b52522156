namespace R1Orleans.Cuda.Nccl;

/// <summary>One ncclSend or ncclRecv of a group: <paramref name="Count"/> elements of <paramref name="Type"/> at device address <paramref name="Buffer"/>, to or from rank <paramref name="Peer"/>.</summary>
public readonly record struct NcclTransfer(int Peer, ulong Buffer, long Count, NcclDataType Type);
