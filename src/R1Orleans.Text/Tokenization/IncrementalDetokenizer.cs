namespace R1Orleans.Text.Tokenization;

/// <summary>
/// Streaming detokenization for one request: <see cref="Push"/> each generated id as it arrives and send what it
/// returns; call <see cref="Flush"/> at the end. The concatenation of every piece equals
/// <see cref="R1Tokenizer.Decode"/> of all the ids (with the same <c>skipSpecialTokens</c>), and no piece ends inside
/// a character: the bytes of a partly generated UTF-8 character (an emoji or CJK character split over byte-level
/// tokens) are held back until the character is complete, or until something shows it never will be (then it becomes
/// U+FFFD, as in <see cref="R1Tokenizer.Decode"/>).
/// </summary>
/// <remarks>Not thread-safe: one instance per request. Holds at most 3 bytes between calls.</remarks>
public sealed class IncrementalDetokenizer
{
    private readonly R1Tokenizer _tokenizer;
    private readonly List<byte> _pending = new(8);

    /// <summary>A detokenizer for <paramref name="tokenizer"/>.</summary>
    public IncrementalDetokenizer(R1Tokenizer tokenizer, bool skipSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        SkipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Whether special tokens are left out of the text.</summary>
    public bool SkipSpecialTokens { get; }

    /// <summary>Whether bytes of an incomplete character are held back.</summary>
    public bool HasPendingBytes => _pending.Count > 0;

    /// <summary>Adds one id; returns the text it completes (possibly empty).</summary>
    public string Push(int id)
    {
        switch (_tokenizer.Classify(id, SkipSpecialTokens))
        {
            case R1Tokenizer.PieceKind.Bytes:
            {
                _pending.AddRange(_tokenizer.BytesOf(id));
                ReadOnlySpan<byte> bytes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending);
                int ready = Utf8Lossy.CompletePrefixLength(bytes);
                if (ready == 0)
                {
                    return string.Empty;
                }

                string text = Utf8Lossy.Decode(bytes[..ready]);
                _pending.RemoveRange(0, ready);
                return text;
            }

            case R1Tokenizer.PieceKind.Text:
                // An added token ends any pending byte sequence (its text starts a new character), as in Decode.
                return Flush() + _tokenizer.TextOf(id);
            default:
                return string.Empty;
        }
    }

    /// <summary>Adds several ids; returns the text they complete.</summary>
    public string Push(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new System.Text.StringBuilder();
        foreach (int id in ids)
        {
            sb.Append(Push(id));
        }

        return sb.ToString();
    }

    /// <summary>Ends the stream: returns held-back bytes decoded (an incomplete character becomes U+FFFD).</summary>
    public string Flush()
    {
        if (_pending.Count == 0)
        {
            return string.Empty;
        }

        string text = Utf8Lossy.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending));
        _pending.Clear();
        return text;
    }
}
