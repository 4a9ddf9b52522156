using System.Text;

namespace R1Orleans.Text.Tokenization;

/// <summary>
/// Byte-level BPE for long pieces, in O(n log n): the merge loop of Hugging Face's <c>word.rs</c> (a priority queue of
/// candidate merges by rank, then position; stale entries skipped), over linked symbols that are compacted once at the end.
/// </summary>
/// <remarks>
/// Why this exists beside Microsoft.ML.Tokenizers' <c>BpeTokenizer</c>, which encodes every other piece: its
/// <c>Word.MergeAll</c> (2.0.1) removes merged symbols one by one from an array list, which is quadratic in the piece
/// length. A single piece can be as long as the input (100k CJK characters or emoji are one pre-tokenizer piece), and
/// that took over 10 s for 100k characters; here it takes milliseconds. Both follow the same algorithm, so they give
/// the same ids (a property test checks it).
/// </remarks>
internal sealed class LongPieceBpe
{
    private readonly int[] _byteIds;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;

    [ThreadStatic]
    private static long t_queueSteps;

    /// <summary>Merge candidates taken off the queue by encodings on the calling thread so far: the work done (O(n) per piece of n bytes).</summary>
    internal static long QueueStepsOnThisThread => t_queueSteps;

    private LongPieceBpe(int[] byteIds, Dictionary<long, (int Rank, int NewId)> merges)
    {
        _byteIds = byteIds;
        _merges = merges;
    }

    /// <summary>
    /// Builds the model, or returns null when some byte has no token of its own (then BPE needs the unknown-token
    /// handling of the full model).
    /// </summary>
    public static LongPieceBpe? TryCreate(Dictionary<string, int> vocab, List<string> merges)
    {
        var byteIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            if (!vocab.TryGetValue(ByteLevelAlphabet.ToChar((byte)b).ToString(), out byteIds[b]))
            {
                return null;
            }
        }

        var map = new Dictionary<long, (int Rank, int NewId)>(merges.Count, PairKeyComparer.Instance);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            string m = merges[rank];
            int space = m.IndexOf(' ', StringComparison.Ordinal);
            string a = m[..space];
            string b = m[(space + 1)..];
            if (!vocab.TryGetValue(a, out int aId) || !vocab.TryGetValue(b, out int bId) || !vocab.TryGetValue(a + b, out int newId))
            {
                return null; // the full model reports the inconsistency
            }

            map[Key(aId, bId)] = (rank, newId);
        }

        return new LongPieceBpe(byteIds, map);
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    /// <summary>Appends the ids of one pre-tokenized piece.</summary>
    public void Encode(ReadOnlySpan<char> piece, List<int> ids)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(piece.ToArray());
        int n = bytes.Length;
        if (n == 0)
        {
            return;
        }

        int[] c = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        bool[] removed = new bool[n];
        for (int i = 0; i < n; i++)
        {
            c[i] = _byteIds[bytes[i]];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }

        // Priority: lowest rank first, then leftmost position.
        var queue = new PriorityQueue<(int Pos, int NewId), long>(n);
        for (int i = 0; i + 1 < n; i++)
        {
            if (_merges.TryGetValue(Key(c[i], c[i + 1]), out (int Rank, int NewId) m))
            {
                queue.Enqueue((i, m.NewId), Priority(m.Rank, i));
            }
        }

        while (queue.TryDequeue(out (int Pos, int NewId) top, out _))
        {
            t_queueSteps++;
            int pos = top.Pos;
            if (removed[pos] || next[pos] < 0)
            {
                continue;
            }

            int right = next[pos];
            if (!_merges.TryGetValue(Key(c[pos], c[right]), out (int Rank, int NewId) current) || current.NewId != top.NewId)
            {
                continue; // stale entry: one of the two symbols changed since it was queued
            }

            c[pos] = top.NewId;
            removed[right] = true;
            next[pos] = next[right];
            if (next[right] >= 0)
            {
                prev[next[right]] = pos;
            }

            if (prev[pos] >= 0 && _merges.TryGetValue(Key(c[prev[pos]], c[pos]), out (int Rank, int NewId) left))
            {
                queue.Enqueue((prev[pos], left.NewId), Priority(left.Rank, prev[pos]));
            }

            if (next[pos] >= 0 && _merges.TryGetValue(Key(c[pos], c[next[pos]]), out (int Rank, int NewId) after))
            {
                queue.Enqueue((pos, after.NewId), Priority(after.Rank, pos));
            }
        }

        for (int i = 0; i >= 0; i = next[i])
        {
            ids.Add(c[i]);
        }
    }

    private static long Priority(int rank, int pos) => ((long)rank << 32) | (uint)pos;

    /// <summary>A hash that mixes both halves of a pair key (long's own hash, a XOR b, collides heavily for small ids).</summary>
    private sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static PairKeyComparer Instance { get; } = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> 32);
    }
}
