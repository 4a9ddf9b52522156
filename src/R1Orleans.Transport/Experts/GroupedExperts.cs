using R1Orleans.Backend;
using R1Orleans.Model;

namespace R1Orleans.Transport.Experts;

/// <summary>One expert's rows in a batch grouped by expert: rows [FirstRow, FirstRow + Rows).</summary>
public readonly record struct ExpertGroup(int Expert, int FirstRow, int Rows)
{
    /// <summary>The groups of rows listed by expert in ascending order (as a dispatch plan lists them); throws otherwise.</summary>
    public static ExpertGroup[] Of(ReadOnlySpan<int> rowExperts)
    {
        var groups = new List<ExpertGroup>();
        for (int r = 0; r < rowExperts.Length;)
        {
            int start = r;
            if (start > 0 && rowExperts[start] < rowExperts[start - 1])
            {
                throw new ArgumentException("rows must be grouped by expert in ascending order", nameof(rowExperts));
            }

            while (r < rowExperts.Length && rowExperts[r] == rowExperts[start])
            {
                r++;
            }

            groups.Add(new ExpertGroup(rowExperts[start], start, r - start));
        }

        return [.. groups];
    }
}

/// <summary>Rows of a grouped batch, <paramref name="rows"/> rows from <paramref name="firstRow"/> on (each <c>hidden</c> floats).</summary>
public delegate ReadOnlySpan<float> RowSource(int firstRow, int rows);

/// <summary>Where rows of a grouped batch's output go.</summary>
public delegate Span<float> RowTarget(int firstRow, int rows);

/// <summary>
/// Runs one layer's experts over a batch of rows grouped by expert: each expert once, on all of its rows. An output
/// row depends only on its input row and the expert's weights, so the same rows give the same bits whatever else is
/// in the batch, wherever it runs (the in-process exchange, a holder serving a remote rank).
/// </summary>
public static class GroupedExperts
{
    /// <summary>
    /// Runs <paramref name="groups"/>; with <paramref name="parallelism"/> above 1 that many experts run at once (give a
    /// single-threaded backend then, so the parallelism is across experts, not inside each small matrix).
    /// </summary>
    public static void Run(IComputeBackend backend, int parallelism, Func<int, FeedForward> expertOf, ExpertGroup[] groups, int count, RowSource input, RowTarget output)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(expertOf);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        void RunGroup(int g)
        {
            ExpertGroup group = groups[g];
            expertOf(group.Expert).Forward(backend, input(group.FirstRow, group.Rows), group.Rows, output(group.FirstRow, group.Rows));
        }

        if (parallelism > 1 && count > 1)
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, RunGroup);
        }
        else
        {
            for (int g = 0; g < count; g++)
            {
                RunGroup(g);
            }
        }
    }
}
