namespace R1Orleans.Engine.Scheduling;

/// <summary>Turns a request's tokens into text pieces as they arrive (the tokenizer's incremental detokenizer).</summary>
public interface IIncrementalText
{
    /// <summary>The text completed by this token (never ends inside a UTF-8 character); may be empty.</summary>
    string Push(int token);

    /// <summary>Whatever is held back at the end of the stream.</summary>
    string Flush();
}

/// <summary>Creates a text stream per request; the engine runs token-only when none is given.</summary>
public interface ITextStreamFactory
{
    IIncrementalText Create(bool skipSpecialTokens);
}
