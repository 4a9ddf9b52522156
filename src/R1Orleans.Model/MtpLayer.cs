using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>
/// DeepSeek-V3's multi-token prediction module (layer num_hidden_layers): h' = eh_proj([enorm(embed(t+1)); hnorm(h_t)]),
/// one decoder block with its own latent cache layer, then shared_head.norm and shared_head.head give draft logits
/// for token t+2. h_t is the main model's final normed hidden state. Its embedding and head fall back to the main
/// model's when the checkpoint does not repeat them.
/// </summary>
public sealed class MtpLayer
{
    private readonly IComputeBackend _backend;
    private readonly Embedding _embedding;
    private readonly RmsNorm _enorm;
    private readonly RmsNorm _hnorm;
    private readonly Matrix _ehProj;
    private readonly DecoderBlock _block;
    private readonly LanguageModelHead _head;

    public MtpLayer(ModelConfig c, WeightLoader w, IComputeBackend backend, YarnRope rope, IExpertExchange exchange, Embedding mainEmbedding, Matrix mainHead)
    {
        _backend = backend;
        int l = c.NumHiddenLayers;
        Layer = l;
        float eps = (float)c.RmsNormEps;
        string embedName = TensorNames.Mtp(l, "embed_tokens.weight");
        _embedding = w.Reader.Contains(embedName) ? new Embedding(w.Matrix(embedName)) : mainEmbedding;
        _enorm = new RmsNorm(w.Vector(TensorNames.Mtp(l, "enorm.weight")), eps);
        _hnorm = new RmsNorm(w.Vector(TensorNames.Mtp(l, "hnorm.weight")), eps);
        _ehProj = w.Matrix(TensorNames.Mtp(l, "eh_proj.weight"));
        _block = new DecoderBlock(c, l, w, backend, rope, exchange);
        _head = new LanguageModelHead(
            new RmsNorm(w.Vector(TensorNames.Mtp(l, "shared_head.norm.weight")), eps),
            w.MatrixOr(TensorNames.Mtp(l, "shared_head.head.weight"), () => mainHead));
    }

    /// <summary>The layer index of the MTP block, also its latent cache layer.</summary>
    public int Layer { get; }

    /// <summary>The model's online gate bias (the model sets it), read as a pass starts when its batch brings none.</summary>
    public GateBiasSlot? OnlineGateBias { get; init; }

    /// <summary>The MTP layer's own transformer block (MLA and MoE).</summary>
    public DecoderBlock Block => _block;

    /// <summary>
    /// batch.Tokens are the next tokens t+1 at the positions of the hidden states they pair with;
    /// previousHidden [rows, hidden] are the main model's normed hidden states h_t for the same rows.
    /// </summary>
    public ModelOutput Forward(ForwardBatch batch, ReadOnlySpan<float> previousHidden, int[] logitRows)
    {
        batch.Validate();
        int n = batch.Rows;
        int d = _hnorm.Dim;
        if (previousHidden.Length != n * d)
        {
            throw new ArgumentException($"MTP needs {n} hidden rows of {d}, got {previousHidden.Length} values");
        }

        batch = batch.WithGateBias(OnlineGateBias?.Current);
        float[] e = _enorm.Forward(_backend, _embedding.Forward(batch.Tokens), n);
        float[] h = _hnorm.Forward(_backend, previousHidden, n);
        float[] cat = new float[n * 2 * d];
        for (int t = 0; t < n; t++)
        {
            e.AsSpan(t * d, d).CopyTo(cat.AsSpan(t * 2 * d, d));
            h.AsSpan(t * d, d).CopyTo(cat.AsSpan((t * 2 * d) + d, d));
        }

        float[] x = new float[n * d];
        _backend.Linear(cat, n, _ehProj, x);
        _block.Forward(x, batch, batch.Positions());
        return _head.Forward(_backend, x, n, logitRows);
    }
}
