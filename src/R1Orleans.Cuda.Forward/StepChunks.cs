namespace R1Orleans.Cuda.Forward;

/// <summary>One chunk of a batch: its first row in the batch and its sequences' parts.</summary>
public sealed record StepChunk(int StartRow, int Rows, IReadOnlyList<StepSequence> Sequences);

/// <summary>
/// Splits a batch's rows (sequences in order, each a run of consecutive rows) into chunks of at most maxRows rows: a
/// sequence that does not fit is cut, its later part starting the next chunk at the next position. Running the chunks
/// in order gives the same attention as one step, since absorbed attention reads the cache the earlier rows wrote.
/// </summary>
public static class StepChunks
{
    public static IReadOnlyList<StepChunk> Split(IReadOnlyList<StepSequence> sequences, int maxRows)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        var chunks = new List<StepChunk>();
        var current = new List<StepSequence>();
        int start = 0, used = 0;
        foreach (StepSequence s in sequences)
        {
            int done = 0;
            while (done < s.Tokens.Length)
            {
                int take = Math.Min(s.Tokens.Length - done, maxRows - used);
                current.Add(new StepSequence(s.Tokens[done..(done + take)], s.FirstPosition + done, s.BlockTable));
                done += take;
                used += take;
                if (used == maxRows)
                {
                    chunks.Add(new StepChunk(start, used, current));
                    start += used;
                    used = 0;
                    current = [];
                }
            }
        }

        if (used > 0)
        {
            chunks.Add(new StepChunk(start, used, current));
        }

        return chunks;
    }
}
