using System.Text.Json;

namespace R1Orleans.Text.Tokenization;

/// <summary>How a Split pre-tokenizer treats the matches of its pattern (Hugging Face <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

/// <summary>One step of a pre-tokenizer: turns each piece into zero or more pieces.</summary>
internal abstract class PreTokenizerStep
{
    public abstract void Apply(ReadOnlyMemory<char> piece, List<ReadOnlyMemory<char>> output);
}

/// <summary>
/// Hugging Face's <c>Split</c> pre-tokenizer: finds the pattern's matches in a piece and cuts the piece at them.
/// With <see cref="SplitBehavior.Isolated"/> every match and every stretch between matches becomes its own piece.
/// The pattern only ever sees one piece at a time (a lookahead cannot look past the end of its piece), as in
/// <c>tokenizers</c>.
/// </summary>
internal sealed class SplitStep(CodePointRegex pattern, SplitBehavior behavior, bool invert) : PreTokenizerStep
{
    public CodePointRegex Pattern { get; } = pattern;

    public override void Apply(ReadOnlyMemory<char> piece, List<ReadOnlyMemory<char>> output)
    {
        if (piece.IsEmpty)
        {
            return;
        }

        // (start, end, isMatch) covering the whole piece, like tokenizers' Pattern::find_matches.
        var parts = new List<(int Start, int End, bool IsMatch)>();
        int prev = 0;
        foreach ((int s, int e) in Pattern.FindAll(piece.Span))
        {
            if (s > prev)
            {
                parts.Add((prev, s, false));
            }

            parts.Add((s, e, true));
            prev = e;
        }

        if (prev < piece.Length)
        {
            parts.Add((prev, piece.Length, false));
        }

        if (invert)
        {
            for (int i = 0; i < parts.Count; i++)
            {
                parts[i] = (parts[i].Start, parts[i].End, !parts[i].IsMatch);
            }
        }

        foreach ((int start, int end) in Combine(parts))
        {
            if (end > start)
            {
                output.Add(piece[start..end]);
            }
        }
    }

    private List<(int Start, int End)> Combine(List<(int Start, int End, bool IsMatch)> parts)
    {
        var result = new List<(int Start, int End)>(parts.Count);
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach ((int s, int e, _) in parts)
                {
                    result.Add((s, e));
                }

                break;
            case SplitBehavior.Removed:
                foreach ((int s, int e, bool isMatch) in parts)
                {
                    if (!isMatch)
                    {
                        result.Add((s, e));
                    }
                }

                break;
            case SplitBehavior.MergedWithPrevious:
            {
                bool previousMatch = false;
                foreach ((int s, int e, bool isMatch) in parts)
                {
                    if (isMatch && !previousMatch && result.Count > 0)
                    {
                        result[^1] = (result[^1].Start, e);
                    }
                    else
                    {
                        result.Add((s, e));
                    }

                    previousMatch = isMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithNext:
            {
                bool previousMatch = false;
                for (int i = parts.Count - 1; i >= 0; i--)
                {
                    (int s, int e, bool isMatch) = parts[i];
                    if (isMatch && !previousMatch && result.Count > 0)
                    {
                        result[^1] = (s, result[^1].End);
                    }
                    else
                    {
                        result.Add((s, e));
                    }

                    previousMatch = isMatch;
                }

                result.Reverse();
                break;
            }

            case SplitBehavior.Contiguous:
            {
                bool previousMatch = false;
                foreach ((int s, int e, bool isMatch) in parts)
                {
                    if (isMatch == previousMatch && result.Count > 0)
                    {
                        result[^1] = (result[^1].Start, e);
                    }
                    else
                    {
                        result.Add((s, e));
                    }

                    previousMatch = isMatch;
                }

                break;
            }
        }

        return result;
    }
}

/// <summary>
/// The ByteLevel pre-tokenizer's splitting part: optionally a leading space, optionally GPT-2's regex split. The
/// byte-to-character mapping itself is done by the byte-level BPE model, after all splits.
/// </summary>
internal sealed class ByteLevelStep(bool addPrefixSpace, bool useRegex) : PreTokenizerStep
{
    /// <summary>GPT-2's pre-tokenization pattern, as in tokenizers' byte_level.rs.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly SplitStep? _split = useRegex ? new SplitStep(CodePointRegex.Compile(Gpt2Pattern), SplitBehavior.Isolated, invert: false) : null;

    public override void Apply(ReadOnlyMemory<char> piece, List<ReadOnlyMemory<char>> output)
    {
        if (addPrefixSpace && (piece.IsEmpty || piece.Span[0] != ' '))
        {
            piece = (" " + piece.ToString()).AsMemory();
        }

        if (_split is null)
        {
            if (!piece.IsEmpty)
            {
                output.Add(piece);
            }

            return;
        }

        _split.Apply(piece, output);
    }
}

/// <summary>
/// A pre-tokenizer read from tokenizer.json: its steps run in order, each on every piece the previous step produced
/// (Hugging Face's <c>Sequence</c>; not one alternation of all patterns, and not Microsoft.ML.Tokenizers'
/// <c>CompositePreTokenizer</c>, which passes only the text between matches on to the next step).
/// </summary>
internal sealed class PreTokenizerPipeline
{
    private readonly PreTokenizerStep[] _steps;

    private PreTokenizerPipeline(PreTokenizerStep[] steps, bool hasByteLevel)
    {
        _steps = steps;
        HasByteLevel = hasByteLevel;
    }

    /// <summary>Whether the pipeline ends in a ByteLevel step (required for byte-level BPE).</summary>
    public bool HasByteLevel { get; }

    /// <summary>Splits <paramref name="text"/> into the pieces the BPE model encodes one by one.</summary>
    public List<ReadOnlyMemory<char>> Run(ReadOnlyMemory<char> text)
    {
        var pieces = new List<ReadOnlyMemory<char>> { text };
        var next = new List<ReadOnlyMemory<char>>();
        foreach (PreTokenizerStep step in _steps)
        {
            next.Clear();
            foreach (ReadOnlyMemory<char> piece in pieces)
            {
                step.Apply(piece, next);
            }

            (pieces, next) = (next, pieces);
        }

        pieces.RemoveAll(p => p.IsEmpty);
        return pieces;
    }

    /// <summary>Builds the pipeline from tokenizer.json's <c>pre_tokenizer</c> (null or a JSON null: no splitting).</summary>
    public static PreTokenizerPipeline FromJson(JsonElement? element)
    {
        var steps = new List<PreTokenizerStep>();
        bool byteLevel = false;
        if (element is { ValueKind: not JsonValueKind.Null } e)
        {
            Collect(e, steps, ref byteLevel, depth: 0);
        }

        return new PreTokenizerPipeline([.. steps], byteLevel);
    }

    private static void Collect(JsonElement e, List<PreTokenizerStep> steps, ref bool byteLevel, int depth)
    {
        if (depth > 8)
        {
            throw new InvalidDataException("tokenizer.json: pre_tokenizer nested too deeply");
        }

        string type = TokenizerJson.RequiredString(e, "type", "pre_tokenizer");
        if (byteLevel)
        {
            throw new NotSupportedException(
                $"tokenizer.json: pre_tokenizer step '{type}' after ByteLevel is not supported (ByteLevel must come last)");
        }

        switch (type)
        {
            case "Sequence":
                foreach (JsonElement child in TokenizerJson.RequiredArray(e, "pretokenizers", "pre_tokenizer Sequence"))
                {
                    Collect(child, steps, ref byteLevel, depth + 1);
                }

                break;
            case "Split":
                steps.Add(ParseSplit(e));
                break;
            case "ByteLevel":
                bool addPrefixSpace = TokenizerJson.OptionalBool(e, "add_prefix_space") ?? true;
                bool useRegex = TokenizerJson.OptionalBool(e, "use_regex") ?? true;
                if (addPrefixSpace || useRegex)
                {
                    steps.Add(new ByteLevelStep(addPrefixSpace, useRegex));
                }

                byteLevel = true;
                break;
            default:
                throw new NotSupportedException(
                    $"tokenizer.json: pre_tokenizer type '{type}' is not supported (supported: Sequence, Split, ByteLevel)");
        }
    }

    private static SplitStep ParseSplit(JsonElement e)
    {
        if (!e.TryGetProperty("pattern", out JsonElement pattern) || pattern.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("tokenizer.json: Split pre_tokenizer without a 'pattern' object");
        }

        CodePointRegex regex;
        if (pattern.TryGetProperty("Regex", out JsonElement re) && re.ValueKind == JsonValueKind.String)
        {
            try
            {
                regex = CodePointRegex.Compile(re.GetString()!);
            }
            catch (ArgumentException malformed)
            {
                throw new InvalidDataException($"tokenizer.json: Split pattern: {malformed.Message}", malformed);
            }
        }
        else if (pattern.TryGetProperty("String", out JsonElement literal) && literal.ValueKind == JsonValueKind.String)
        {
            regex = CodePointRegex.Literal(literal.GetString()!);
        }
        else
        {
            throw new InvalidDataException("tokenizer.json: Split pattern must be {\"Regex\": ...} or {\"String\": ...}");
        }

        string behaviorName = TokenizerJson.RequiredString(e, "behavior", "Split pre_tokenizer");
        SplitBehavior behavior = behaviorName switch
        {
            "Removed" => SplitBehavior.Removed,
            "Isolated" => SplitBehavior.Isolated,
            "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
            "MergedWithNext" => SplitBehavior.MergedWithNext,
            "Contiguous" => SplitBehavior.Contiguous,
            _ => throw new InvalidDataException($"tokenizer.json: unknown Split behavior '{behaviorName}'"),
        };
        bool invert = TokenizerJson.OptionalBool(e, "invert") ?? false;
        return new SplitStep(regex, behavior, invert);
    }
}
