namespace R1Orleans.Backend;

/// <summary>
/// FP8 E4M3 ("fn": no infinities, 0x7F/0xFF are NaN) to float32, by table. The same table, built by the same
/// expression, as the checkpoint reader's (R1Orleans.Checkpoint.ElementConversion; a test compares them bit by bit),
/// so that a weight dequantized on use is the very float the reader's load-time dequantization gives.
/// </summary>
public static class Fp8E4M3
{
    private static readonly float[] s_table = Build();

    /// <summary>code → float32 for all 256 codes (every finite e4m3 value is exact in float32).</summary>
    public static ReadOnlySpan<float> Table => s_table;

    private static float[] Build()
    {
        var table = new float[256];
        for (int b = 0; b < 256; b++)
        {
            int sign = b >> 7;
            int exp = (b >> 3) & 0xF;
            int man = b & 0x7;
            float v;
            if (exp == 0xF && man == 0x7)
            {
                v = float.NaN;
            }
            else if (exp == 0)
            {
                v = man / 8f * MathF.Pow(2, -6);
            }
            else
            {
                v = (1 + (man / 8f)) * MathF.Pow(2, exp - 7);
            }

            table[b] = sign == 1 ? -v : v;
        }

        return table;
    }
}
