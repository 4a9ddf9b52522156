namespace R1Orleans.Cuda;

/// <summary>
/// Where an <see cref="MlaDecode"/> step reads and writes when not its own buffers (device addresses): q [batch, heads,
/// 576] bf16, a cache of bf16 rows in blocks of <see cref="BlockSize"/> tokens (a divisor of 64), block tables [batch,
/// <see cref="TableWidth"/>], sequence lengths [batch] int and the output [batch, heads, 512] float32.
/// </summary>
public readonly record struct MlaDecodeInputs(ulong Q, ulong Cache, ulong BlockTable, int TableWidth, int BlockSize, ulong SeqLens, ulong Output);
