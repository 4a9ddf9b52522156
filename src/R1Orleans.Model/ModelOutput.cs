namespace R1Orleans.Model;

/// <summary>
/// What one forward step returns: the final normed hidden state of every row [rows, hidden] (MTP's h_t input) and
/// logits [LogitRows.Length, vocab] of the selected rows, in the order given.
/// </summary>
public sealed record ModelOutput(float[] Hidden, int Rows, int HiddenSize, int[] LogitRows, float[] Logits, int VocabSize)
{
    public ReadOnlySpan<float> LogitsOf(int index) => Logits.AsSpan(index * VocabSize, VocabSize);

    public ReadOnlySpan<float> HiddenOf(int row) => Hidden.AsSpan(row * HiddenSize, HiddenSize);

    /// <summary>Every row of a batch (golden checks, prompt logprobs).</summary>
    public static int[] AllRows(int rows) => Enumerable.Range(0, rows).ToArray();

    /// <summary>The last row of each sequence (the next-token logits of a serving step).</summary>
    public static int[] LastRows(ForwardBatch batch) => batch.Sequences.Select(s => s.Start + s.Length - 1).ToArray();
}
