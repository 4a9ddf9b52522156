namespace R1Orleans.Text.Chat;

/// <summary>
/// How a Jinja template is lexed and how far a render may go. The defaults are those of Hugging Face
/// <c>apply_chat_template</c> (<c>trim_blocks</c> and <c>lstrip_blocks</c> on, trailing newline dropped) plus limits
/// that keep an untrusted template from running away.
/// </summary>
public sealed record JinjaOptions
{
    public static JinjaOptions Default { get; } = new();

    /// <summary>Remove the first newline after a block tag or comment (Jinja <c>trim_blocks</c>).</summary>
    public bool TrimBlocks { get; init; } = true;

    /// <summary>Strip spaces and tabs from the start of a line up to a block tag or comment (Jinja <c>lstrip_blocks</c>).</summary>
    public bool LstripBlocks { get; init; } = true;

    /// <summary>Keep a single trailing newline of the template source (Jinja <c>keep_trailing_newline</c>).</summary>
    public bool KeepTrailingNewline { get; init; }

    /// <summary>Most characters that a render may produce, and the longest string it may build.</summary>
    public int MaxOutputLength { get; init; } = 16 * 1024 * 1024;

    /// <summary>Most elements of a list that a render may build (<c>range</c> is capped at 100,000 as in Jinja's sandbox).</summary>
    public int MaxSequenceLength { get; init; } = 1_000_000;

    /// <summary>Most expression and statement evaluations in one render.</summary>
    public long MaxSteps { get; init; } = 10_000_000;

    /// <summary>Deepest nesting of evaluation (expressions, blocks and macro calls together) in one render.</summary>
    public int MaxDepth { get; init; } = 400;

    /// <summary>Deepest nesting of parentheses, operators and blocks that the parser accepts.</summary>
    public int MaxParseDepth { get; init; } = 100;

    /// <summary>The clock behind <c>strftime_now(format)</c> (local time).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
