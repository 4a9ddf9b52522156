namespace R1Orleans.Text.Tokenization;

/// <summary>Limits applied to untrusted input.</summary>
public sealed record R1TokenizerOptions
{
    /// <summary>The default <see cref="MaxInputChars"/>: 1 Mi UTF-16 characters.</summary>
    public const int DefaultMaxInputChars = 1 << 20;

    /// <summary>Texts longer than this (in UTF-16 characters) are refused by <see cref="R1Tokenizer.Encode"/> with an <see cref="ArgumentException"/>.</summary>
    public int MaxInputChars { get; init; } = DefaultMaxInputChars;

    /// <summary>tokenizer.json files larger than this are refused by <see cref="R1Tokenizer.Load"/> (default 256 MiB).</summary>
    public long MaxTokenizerFileBytes { get; init; } = 256L << 20;
}
