using R1Orleans.Backend;

namespace R1Orleans.Model;

/// <summary>Token embedding: row lookup in [vocab, hidden].</summary>
public sealed class Embedding(Matrix table)
{
    public int VocabSize => table.Rows;

    /// <summary>[vocab, hidden] (a backend that keeps its own copy reads it).</summary>
    public Matrix Table => table;

    public int Dim => table.Cols;

    public float[] Forward(ReadOnlySpan<int> tokens)
    {
        var x = new float[tokens.Length * Dim];
        for (int i = 0; i < tokens.Length; i++)
        {
            int t = tokens[i];
            if ((uint)t >= (uint)VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {t} at index {i} is outside the vocabulary (0..{VocabSize - 1})");
            }

            table.CopyRow(t, x.AsSpan(i * Dim, Dim));
        }

        return x;
    }
}
