using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>One decoder layer: h += MLA(RMSNorm(h)); h += FFN(RMSNorm(h)), where FFN is the dense MLP or the MoE.</summary>
public sealed class DecoderBlock
{
    private readonly IComputeBackend _backend;
    private readonly RmsNorm _inputNorm;
    private readonly RmsNorm _postAttentionNorm;
    private readonly FeedForward? _mlp;

    public DecoderBlock(ModelConfig c, int layer, WeightLoader w, IComputeBackend backend, YarnRope rope, IExpertExchange exchange)
    {
        _backend = backend;
        Layer = layer;
        float eps = (float)c.RmsNormEps;
        _inputNorm = new RmsNorm(w.Vector(TensorNames.InputNorm(layer)), eps);
        _postAttentionNorm = new RmsNorm(w.Vector(TensorNames.PostAttentionNorm(layer)), eps);
        Attention = new MultiHeadLatentAttention(c, layer, w, backend, rope);
        if (c.IsMoeLayer(layer))
        {
            Moe = DeepseekMoE.Load(c, layer, w, exchange);
        }
        else
        {
            _mlp = FeedForward.Load(w, part => TensorNames.Mlp(layer, part));
        }
    }

    public int Layer { get; }

    public RmsNorm InputNorm => _inputNorm;

    public RmsNorm PostAttentionNorm => _postAttentionNorm;

    /// <summary>The dense MLP (null in an MoE layer).</summary>
    public FeedForward? Mlp => _mlp;

    public MultiHeadLatentAttention Attention { get; }

    public DeepseekMoE? Moe { get; }

    /// <summary>Updates the residual stream h [rows, hidden] in place.</summary>
    public void Forward(float[] h, ForwardBatch batch, int[] positions)
    {
        int n = batch.Rows;
        float[] normed = _inputNorm.Forward(_backend, h, n);
        float[] attn = Attention.Forward(normed, batch, positions);
        System.Numerics.Tensors.TensorPrimitives.Add(h, attn, h);

        _postAttentionNorm.Forward(_backend, h, n, normed);
        float[] ffn = new float[h.Length];
        if (Moe is not null)
        {
            Moe.Forward(_backend, normed, batch, ffn);
        }
        else
        {
            _mlp!.Forward(_backend, normed, n, ffn);
        }

        System.Numerics.Tensors.TensorPrimitives.Add(h, ffn, h);
    }
}
