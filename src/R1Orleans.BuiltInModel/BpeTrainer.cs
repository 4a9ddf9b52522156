namespace R1Orleans.BuiltInModel;

/// <summary>
/// A small, deterministic byte-level BPE trainer: words (pre-tokenized pieces in byte-level form, with their counts)
/// start as single characters; each round merges the most frequent adjacent pair (ties broken by the pair's ordinal
/// order) until the wanted number of merges is reached or every word is one symbol. Once no pair occurs twice, the
/// remaining merges spell out whole words seen once (a small text cannot teach more; a random model does not mind).
/// </summary>
internal static class BpeTrainer
{
    /// <summary>The learned merges, in rank order.</summary>
    public static List<(string Left, string Right)> Train(IReadOnlyDictionary<string, int> wordCounts, int maxMerges)
    {
        ArgumentNullException.ThrowIfNull(wordCounts);
        var words = wordCounts
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value))
            .ToList();
        var merges = new List<(string, string)>(maxMerges);
        var pairs = new Dictionary<(string, string), long>();
        while (merges.Count < maxMerges)
        {
            pairs.Clear();
            foreach ((List<string> symbols, int count) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    (string, string) pair = (symbols[i], symbols[i + 1]);
                    pairs[pair] = pairs.GetValueOrDefault(pair) + count;
                }
            }

            (string Left, string Right) best = default;
            long bestCount = 0;
            foreach (((string left, string right), long count) in pairs)
            {
                if (count > bestCount || (count == bestCount && best.Left is not null && Compare((left, right), best) < 0))
                {
                    best = (left, right);
                    bestCount = count;
                }
            }

            if (best.Left is null)
            {
                break;
            }

            merges.Add(best);
            string merged = best.Left + best.Right;
            foreach ((List<string> symbols, _) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == best.Left && symbols[i + 1] == best.Right)
                    {
                        symbols[i] = merged;
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }

        return merges;
    }

    private static int Compare((string Left, string Right) a, (string Left, string Right) b)
    {
        int c = string.CompareOrdinal(a.Left, b.Left);
        return c != 0 ? c : string.CompareOrdinal(a.Right, b.Right);
    }
}
