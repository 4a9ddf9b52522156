using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>
/// The DeepSeek-V3 causal LM: embedding, decoder blocks (dense first, then MoE), final norm, lm_head, and the
/// optional MTP layer. Routed experts are reached only through the expert exchange; everything else is local.
/// </summary>
public sealed class DeepseekV3Model
{
    private readonly IComputeBackend _backend;
    private readonly Embedding _embedding;
    private readonly DecoderBlock[] _blocks;
    private readonly LanguageModelHead _head;
    private readonly IExpertExchange _exchange;

    private DeepseekV3Model(ModelConfig config, IComputeBackend backend, Embedding embedding, DecoderBlock[] blocks, LanguageModelHead head, MtpLayer? mtp, IExpertExchange exchange)
    {
        Config = config;
        _exchange = exchange;
        _backend = backend;
        _embedding = embedding;
        _blocks = blocks;
        _head = head;
        Mtp = mtp;
    }

    public ModelConfig Config { get; }

    public IComputeBackend Backend => _backend;

    public MtpLayer? Mtp { get; }

    /// <summary>Latent cache layers a sequence needs: one per decoder block, plus the MTP block's.</summary>
    public int CacheLayers => _blocks.Length + (Mtp is null ? 0 : 1);

    public IReadOnlyList<DecoderBlock> Blocks => _blocks;

    /// <summary>Every MoE layer's gate, the MTP layer's included, in layer order.</summary>
    public IEnumerable<(int Layer, NoauxTcGate Gate)> Gates =>
        _blocks.Append(Mtp?.Block).OfType<DecoderBlock>().Where(b => b.Moe is not null).Select(b => (b.Layer, b.Moe!.Gate));

    /// <summary>Routes every MoE layer with (true) or without (false) the checkpoint's e_score_correction_bias.</summary>
    public void UseCorrectionBias(bool use)
    {
        foreach ((_, NoauxTcGate gate) in Gates)
        {
            gate.UseCorrectionBias = use;
        }
    }

    /// <summary>
    /// Builds the model from a checkpoint. Routed experts are not loaded here: the exchange reaches whoever holds them.
    /// progress, if given, is called with each tensor group as it loads.
    /// </summary>
    public static DeepseekV3Model Load(CheckpointReader reader, IComputeBackend backend, IExpertExchange exchange, bool withMtp = true, Action<string>? progress = null)
    {
        ModelConfig c = reader.Config;
        var w = new WeightLoader(reader);
        var rope = new YarnRope(c);
        progress?.Invoke("embedding");
        var embedding = new Embedding(w.Matrix(TensorNames.Embedding));
        var blocks = new DecoderBlock[c.NumHiddenLayers];
        for (int l = 0; l < blocks.Length; l++)
        {
            progress?.Invoke($"layer {l}");
            blocks[l] = new DecoderBlock(c, l, w, backend, rope, exchange);
        }

        progress?.Invoke("head");
        Matrix lmHead = w.Matrix(TensorNames.LmHead);
        var head = new LanguageModelHead(new RmsNorm(w.Vector(TensorNames.FinalNorm), (float)c.RmsNormEps), lmHead);
        MtpLayer? mtp = null;
        if (withMtp && reader.HasMtp)
        {
            progress?.Invoke("mtp");
            mtp = new MtpLayer(c, w, backend, rope, exchange, embedding, lmHead);
        }

        return new DeepseekV3Model(c, backend, embedding, blocks, head, mtp, exchange);
    }

    /// <summary>
    /// Runs the batch through every block, writing each new token's latent entries into its sequence's cache,
    /// and returns the normed hidden states and the logits of logitRows (all rows when null).
    /// </summary>
    public ModelOutput Forward(ForwardBatch batch, int[]? logitRows = null)
    {
        batch.Validate();
        int[] positions = batch.Positions();
        foreach (int p in positions)
        {
            if (p >= Config.MaxPositionEmbeddings)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), $"position {p} is beyond max_position_embeddings {Config.MaxPositionEmbeddings}");
            }
        }

        _exchange.BeginStep();
        float[] h = _embedding.Forward(batch.Tokens);
        foreach (DecoderBlock block in _blocks)
        {
            block.Forward(h, batch, positions);
        }

        return _head.Forward(_backend, h, batch.Rows, logitRows ?? ModelOutput.AllRows(batch.Rows));
    }
}
