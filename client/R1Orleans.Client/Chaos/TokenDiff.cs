using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// Says how a token sequence differs from the reference's: tokens repeated (the same run twice in a row), extra, missing
/// (a gap in the middle or a short end), or different from some position on. Tokens compare by text and logprob bits.
/// </summary>
public static class TokenDiff
{
    /// <summary>Null when equal; else a violation kind (<see cref="ViolationKind"/>) and a message naming the position.</summary>
    public static (string Kind, string Message)? Diagnose(IReadOnlyList<StreamedToken> got, IReadOnlyList<StreamedToken> want)
    {
        ArgumentNullException.ThrowIfNull(got);
        ArgumentNullException.ThrowIfNull(want);
        int i = 0;
        while (i < got.Count && i < want.Count && got[i] == want[i])
        {
            i++;
        }

        if (i == got.Count && i == want.Count)
        {
            return null;
        }

        if (got.Count > want.Count)
        {
            int d = got.Count - want.Count;
            if (EqualRange(got, i + d, want, i, want.Count - i))
            {
                bool repeat = i >= d && EqualRange(got, i, got, i - d, d);
                return repeat
                    ? (ViolationKind.TokenRepeated, $"token {i}{Span(d)} ({Quote(got, i, d)}) repeated: sent twice in a row")
                    : (ViolationKind.TokenExtra, $"token {i}{Span(d)} ({Quote(got, i, d)}) is not in the reference");
            }
        }
        else if (got.Count < want.Count)
        {
            int d = want.Count - got.Count;
            if (EqualRange(got, i, want, i + d, got.Count - i))
            {
                return (ViolationKind.TokenMissing, $"token {i}{Span(d)} ({Quote(want, i, d)}) missing: {got.Count} tokens instead of {want.Count}");
            }
        }

        string gotText = i < got.Count ? Quote(got, i, 1) : "the end";
        string wantText = i < want.Count ? Quote(want, i, 1) : "the end";
        return (ViolationKind.Differs, $"tokens differ from token {i} on: got {gotText}, the reference has {wantText} ({got.Count} tokens, reference {want.Count})");
    }

    private static bool EqualRange(IReadOnlyList<StreamedToken> a, int aStart, IReadOnlyList<StreamedToken> b, int bStart, int count)
    {
        for (int k = 0; k < count; k++)
        {
            if (a[aStart + k] != b[bStart + k])
            {
                return false;
            }
        }

        return true;
    }

    private static string Span(int d) => d == 1 ? "" : $" and the {d - 1} after it";

    private static string Quote(IReadOnlyList<StreamedToken> tokens, int start, int count) =>
        "\"" + CompletionChunkParser.Truncate(string.Concat(tokens.Skip(start).Take(count).Select(t => t.Text)), 60).ReplaceLineEndings("\\n") + "\"";
}
