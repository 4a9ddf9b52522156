using R1Orleans.Checkpoint;
using R1Orleans.TestSupport;

namespace R1Orleans.Engine.Tests;

/// <summary>A random-weight tiny checkpoint with the golden R1-style tokenizer beside it, written once per test run.</summary>
public sealed class SyntheticChatModel : IDisposable
{
    public SyntheticChatModel()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("r1-chat-model-").FullName;
        ModelConfig config = SyntheticCheckpoint.TinyConfig() with { VocabSize = 4096, NumNextnPredictLayers = 1, BosTokenId = 0, EosTokenId = 1 };
        SyntheticCheckpoint.Write(Directory, config, new SyntheticCheckpointOptions(Seed: 5));
        string tok = GoldenDirectory.Case("tokenizer-bpe");
        File.Copy(Path.Combine(tok, "tokenizer.json"), Path.Combine(Directory, "tokenizer.json"));
        File.Copy(Path.Combine(tok, "tokenizer_config.json"), Path.Combine(Directory, "tokenizer_config.json"));
    }

    public string Directory { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, true);
}
