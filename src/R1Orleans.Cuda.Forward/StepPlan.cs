namespace R1Orleans.Cuda.Forward;

/// <summary>One sequence's part of a step: its new tokens at positions FirstPosition.., and its block table.</summary>
public sealed record StepSequence(int[] Tokens, int FirstPosition, int[] BlockTable);

/// <summary>
/// A step's metadata as the device forward's kernels read it, built and checked on the host (vLLM's varlen layout):
/// per row its token, position, sequence and cache slot (block × block size + position % block size), and every
/// sequence's block table padded to <see cref="TableWidth"/> entries. A bad batch fails here, never inside a kernel.
/// </summary>
public sealed class StepPlan
{
    private StepPlan(int[] tokens, int[] positions, int[] rowSequence, int[] slots, int[] tables, int tableWidth, int sequences, int[] logitRows)
    {
        LogitRows = logitRows;
        Tokens = tokens;
        Positions = positions;
        RowSequence = rowSequence;
        Slots = slots;
        Tables = tables;
        TableWidth = tableWidth;
        Sequences = sequences;
    }

    public int[] Tokens { get; }

    public int[] Positions { get; }

    public int[] RowSequence { get; }

    public int[] Slots { get; }

    /// <summary>[Sequences, TableWidth] block ids (unused entries 0; kernels never read them).</summary>
    public int[] Tables { get; }

    public int TableWidth { get; }

    public int Sequences { get; }

    public int Rows => Tokens.Length;

    /// <summary>The rows whose logits (and greedy ids) the step computes, in this order.</summary>
    public int[] LogitRows { get; }

    /// <summary>
    /// Lays out <paramref name="sequences"/> in order. Every token id must be in [0, vocab); every block table must
    /// cover the sequence's last position with blocks in [0, blocks) and fit <paramref name="tableWidth"/> entries.
    /// <paramref name="logitRows"/>: the rows to compute logits for (default every row), each in [0, rows).
    /// </summary>
    public static StepPlan Build(IReadOnlyList<StepSequence> sequences, int blockSize, int blocks, int tableWidth, int vocab, int[]? logitRows = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (blockSize <= 0 || blocks <= 0 || tableWidth <= 0)
        {
            throw new ArgumentException($"block size {blockSize}, {blocks} blocks and table width {tableWidth} must be positive");
        }

        int rows = sequences.Sum(s => s.Tokens.Length);
        var tokens = new int[rows];
        var positions = new int[rows];
        var rowSeq = new int[rows];
        var slots = new int[rows];
        var tables = new int[Math.Max(1, sequences.Count) * tableWidth];
        int r = 0;
        for (int s = 0; s < sequences.Count; s++)
        {
            StepSequence q = sequences[s];
            if (q.Tokens.Length == 0 || q.FirstPosition < 0)
            {
                throw new ArgumentException($"sequence {s}: {q.Tokens.Length} tokens at position {q.FirstPosition}; a step needs at least one token at a position ≥ 0");
            }

            int needBlocks = ((q.FirstPosition + q.Tokens.Length) + blockSize - 1) / blockSize;
            if (q.BlockTable.Length < needBlocks || q.BlockTable.Length > tableWidth)
            {
                throw new ArgumentException($"sequence {s}: positions up to {q.FirstPosition + q.Tokens.Length - 1} need {needBlocks} blocks of {blockSize}; its table has {q.BlockTable.Length} (at most {tableWidth})");
            }

            for (int b = 0; b < q.BlockTable.Length; b++)
            {
                if ((uint)q.BlockTable[b] >= (uint)blocks)
                {
                    throw new ArgumentException($"sequence {s}: block {q.BlockTable[b]} is outside the pool of {blocks} blocks");
                }

                tables[(s * tableWidth) + b] = q.BlockTable[b];
            }

            for (int i = 0; i < q.Tokens.Length; i++, r++)
            {
                if ((uint)q.Tokens[i] >= (uint)vocab)
                {
                    throw new ArgumentOutOfRangeException(nameof(sequences), $"sequence {s}: token id {q.Tokens[i]} is outside the vocabulary (0..{vocab - 1})");
                }

                int p = q.FirstPosition + i;
                tokens[r] = q.Tokens[i];
                positions[r] = p;
                rowSeq[r] = s;
                slots[r] = (q.BlockTable[p / blockSize] * blockSize) + (p % blockSize);
            }
        }

        logitRows ??= [.. Enumerable.Range(0, rows)];
        foreach (int l in logitRows)
        {
            if ((uint)l >= (uint)rows)
            {
                throw new ArgumentOutOfRangeException(nameof(logitRows), $"logit row {l} is outside the step's {rows} rows");
            }
        }

        return new StepPlan(tokens, positions, rowSeq, slots, tables, tableWidth, sequences.Count, logitRows);
    }
}
