namespace R1Orleans.Text.Tokenization;

/// <summary>
/// Finds added tokens in text the way Hugging Face's <c>AddedVocabulary</c> does (an Aho-Corasick automaton with
/// <c>MatchKind::LeftmostLongest</c>): of the matches that start leftmost, the longest wins; scanning resumes after it.
/// A character trie gives the same answer in O(text × longest token), which is small for added-token lists.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Node _root = new();

    /// <summary>Whether no token was added.</summary>
    public bool IsEmpty { get; private set; } = true;

    public void Add(string content, int id)
    {
        if (content.Length == 0)
        {
            return;
        }

        Node node = _root;
        foreach (char c in content)
        {
            node.Children ??= [];
            if (!node.Children.TryGetValue(c, out Node? child))
            {
                child = new Node();
                node.Children[c] = child;
            }

            node = child;
        }

        node.TokenId = id;
        IsEmpty = false;
    }

    /// <summary>
    /// Splits <paramref name="text"/> (a segment at <paramref name="offset"/> of the whole input) into added-token
    /// matches and the text between them, appending to <paramref name="output"/> in order.
    /// </summary>
    public void Split(string text, int offset, int length, List<Segment> output)
    {
        if (IsEmpty)
        {
            output.Add(new Segment(offset, length, -1));
            return;
        }

        int end = offset + length;
        int plainStart = offset;
        int i = offset;
        while (i < end)
        {
            int bestLength = 0;
            int bestId = -1;
            Node? node = _root;
            for (int j = i; j < end; j++)
            {
                if (node.Children is null || !node.Children.TryGetValue(text[j], out node))
                {
                    break;
                }

                if (node.TokenId >= 0)
                {
                    bestLength = j - i + 1;
                    bestId = node.TokenId;
                }
            }

            if (bestId < 0)
            {
                i++;
                continue;
            }

            if (i > plainStart)
            {
                output.Add(new Segment(plainStart, i - plainStart, -1));
            }

            output.Add(new Segment(i, bestLength, bestId));
            i += bestLength;
            plainStart = i;
        }

        if (end > plainStart)
        {
            output.Add(new Segment(plainStart, end - plainStart, -1));
        }
    }

    /// <summary>A run of the input: an added token (<see cref="TokenId"/> ≥ 0) or text still to tokenize (-1).</summary>
    public readonly record struct Segment(int Offset, int Length, int TokenId);

    private sealed class Node
    {
        public Dictionary<char, Node>? Children { get; set; }

        public int TokenId { get; set; } = -1;
    }
}
