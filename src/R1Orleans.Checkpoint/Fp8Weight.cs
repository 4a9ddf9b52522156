namespace R1Orleans.Checkpoint;

/// <summary>
/// An FP8 e4m3 weight as stored: codes [Rows, Cols] row-major and its block scales (weight_scale_inv)
/// [ceil(Rows / BlockRows), ceil(Cols / BlockCols)]; w[r, c] = e4m3(code) × scale[r / BlockRows, c / BlockCols].
/// </summary>
public sealed record Fp8Weight(int Rows, int Cols, byte[] Codes, float[] Scales, int BlockRows, int BlockCols);
