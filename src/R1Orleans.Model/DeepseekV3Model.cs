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
    private readonly GateBiasSlot _onlineBias;
    private readonly Lazy<GateBias> _checkpointBias;

    private DeepseekV3Model(ModelConfig config, IComputeBackend backend, Embedding embedding, DecoderBlock[] blocks, LanguageModelHead head, MtpLayer? mtp, IExpertExchange exchange, GateBiasSlot onlineBias)
    {
        _onlineBias = onlineBias;
        _checkpointBias = new(() => new GateBias(0, Gates.ToDictionary(g => g.Layer, g => g.Gate.Bias.ToArray())));
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

    /// <summary>Where every step runs when set (the device-resident forward); null: through the backend, op by op.</summary>
    public IModelAccelerator? Accelerator { get; private set; }

    /// <summary>Runs every later step through <paramref name="accelerator"/> (set once, before the first step).</summary>
    public void UseAccelerator(IModelAccelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (Accelerator is not null)
        {
            throw new InvalidOperationException("this model already runs through an accelerator");
        }

        Accelerator = accelerator;
    }

    public MtpLayer? Mtp { get; }

    /// <summary>Latent cache layers a sequence needs: one per decoder block, plus the MTP block's.</summary>
    public int CacheLayers => _blocks.Length + (Mtp is null ? 0 : 1);

    public IReadOnlyList<DecoderBlock> Blocks => _blocks;

    public Embedding Embedding => _embedding;

    public LanguageModelHead Head => _head;

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

    /// <summary>Every MoE layer's e_score_correction_bias as the checkpoint has it (version 0; never changed).</summary>
    public GateBias CheckpointGateBias => _checkpointBias.Value;

    /// <summary>The online gate bias set by the load balancer, or null while the checkpoint's routes.</summary>
    public GateBias? OnlineGateBias => _onlineBias.Current;

    /// <summary>The bias the next step routes with: the online one, or the checkpoint's.</summary>
    public GateBias CurrentGateBias => OnlineGateBias ?? CheckpointGateBias;

    /// <summary>
    /// Sets an online gate bias (any thread): the next step that starts routes every MoE layer with it; a step already
    /// running keeps the version it started with. It must give every MoE layer of this model (<see cref="Gates"/>) one
    /// finite value per routed expert and have a version above the current one; an older or equal version is ignored
    /// (false), so pushes that arrive late or twice do nothing.
    /// </summary>
    public bool ApplyGateBias(GateBias bias)
    {
        ArgumentNullException.ThrowIfNull(bias);
        int[] layers = [.. Gates.Select(g => g.Layer)];
        if (!bias.Layers.SequenceEqual(layers))
        {
            throw new ArgumentException($"gate bias version {bias.Version} covers layers [{string.Join(", ", bias.Layers)}]; this model's MoE layers are [{string.Join(", ", layers)}]", nameof(bias));
        }

        foreach (int layer in layers)
        {
            if (bias.For(layer).Length != Config.NRoutedExperts)
            {
                throw new ArgumentException($"gate bias version {bias.Version}, layer {layer}: {bias.For(layer).Length} values for {Config.NRoutedExperts} routed experts", nameof(bias));
            }
        }

        return _onlineBias.TrySet(bias);
    }

    /// <summary>
    /// Builds the model from a checkpoint. Routed experts are not loaded here: the exchange reaches whoever holds them.
    /// progress, if given, is called with each tensor group as it loads. weights: the loader to read through (FP8 kept
    /// or not, bytes counted); a new one over reader that keeps FP8 weights when null.
    /// </summary>
    public static DeepseekV3Model Load(CheckpointReader reader, IComputeBackend backend, IExpertExchange exchange, bool withMtp = true, Action<string>? progress = null, WeightLoader? weights = null)
    {
        ModelConfig c = reader.Config;
        WeightLoader w = weights ?? new WeightLoader(reader);
        var rope = new YarnRope(c);
        progress?.Invoke("embedding");
        var embedding = new Embedding(w.Matrix(TensorNames.Embedding));
        var onlineBias = new GateBiasSlot();
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
            mtp = new MtpLayer(c, w, backend, rope, exchange, embedding, lmHead) { OnlineGateBias = onlineBias };
        }

        return new DeepseekV3Model(c, backend, embedding, blocks, head, mtp, exchange, onlineBias);
    }

    /// <summary>
    /// Runs the batch through every block, writing each new token's latent entries into its sequence's cache,
    /// routing every MoE layer with the batch's gate bias (or the online one as the pass starts, or the checkpoint's), and returns the normed hidden states and the logits of logitRows (all rows when null).
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

        // One gate-bias version for the whole pass: a bias set while it runs waits for the next.
        batch = batch.WithGateBias(_onlineBias.Current);
        if (Accelerator is { } accelerator)
        {
            return accelerator.Forward(batch, logitRows ?? ModelOutput.AllRows(batch.Rows), batch.GateBias);
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
