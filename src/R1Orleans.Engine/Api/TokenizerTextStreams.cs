using R1Orleans.Engine.Scheduling;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Engine.Api;

/// <summary>Gives the engine core one incremental detokenizer per request.</summary>
public sealed class TokenizerTextStreams(R1Tokenizer tokenizer) : ITextStreamFactory
{
    public IIncrementalText Create(bool skipSpecialTokens) => new Stream(tokenizer.CreateDetokenizer(skipSpecialTokens));

    private sealed class Stream(IncrementalDetokenizer d) : IIncrementalText
    {
        public string Push(int token) => d.Push(token);

        public string Flush() => d.Flush();
    }
}
