namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// One array that moves row by row in an all-to-all: a send and a receive buffer on the device, <see cref="ElementsPerRow"/>
/// elements of <see cref="Type"/> per row (the activations: hidden × float32; their slot experts: K × int32).
/// </summary>
public readonly record struct NcclRowPlane(ulong Send, ulong Receive, int ElementsPerRow, NcclDataType Type);
