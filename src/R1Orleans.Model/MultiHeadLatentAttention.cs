using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>
/// Multi-head latent attention (DeepSeek-V2/V3). q = q_b(RMSNorm(q_a(x))) (or q_proj(x)), per head [nope | rope];
/// kv_a_proj_with_mqa(x) = [c | k_rope]; the cache keeps RMSNorm(c) and rotated k_rope (576 floats per token for V3).
/// Naive: k_nope, v = kv_b(c). Absorbed: q_nope·W_UK against c, then W_UV after softmax.
/// </summary>
public sealed class MultiHeadLatentAttention
{
    private readonly IComputeBackend _backend;
    private readonly int _layer;
    private readonly int _heads;
    private readonly int _nope;
    private readonly int _rope;
    private readonly int _v;
    private readonly int _kvRank;
    private readonly Matrix? _qA;
    private readonly RmsNorm? _qANorm;
    private readonly Matrix _qB;
    private readonly Matrix _kvA;
    private readonly RmsNorm _kvANorm;
    private readonly Matrix _kvB;
    private readonly Matrix _o;
    private readonly YarnRope _yarn;

    // Absorbed weights per head: W_UKᵀ [kv_lora, nope] (q_nope → latent) and W_UV [v, kv_lora] (latent → v).
    private readonly Matrix[] _wUkT;
    private readonly Matrix[] _wUv;

    public MultiHeadLatentAttention(ModelConfig c, int layer, WeightLoader w, IComputeBackend backend, YarnRope rope)
    {
        _backend = backend;
        _layer = layer;
        _heads = c.NumAttentionHeads;
        _nope = c.QkNopeHeadDim;
        _rope = c.QkRopeHeadDim;
        _v = c.VHeadDim;
        _kvRank = c.KvLoraRank;
        _yarn = rope;
        float eps = (float)c.RmsNormEps;
        if (c.QLoraRank is not null)
        {
            _qA = w.Matrix(TensorNames.Attn(layer, "q_a_proj"));
            _qANorm = new RmsNorm(w.Vector(TensorNames.Attn(layer, "q_a_layernorm")), eps);
            _qB = w.Matrix(TensorNames.Attn(layer, "q_b_proj"));
        }
        else
        {
            _qB = w.Matrix(TensorNames.Attn(layer, "q_proj"));
        }

        _kvA = w.Matrix(TensorNames.Attn(layer, "kv_a_proj_with_mqa"));
        _kvANorm = new RmsNorm(w.Vector(TensorNames.Attn(layer, "kv_a_layernorm")), eps);
        _kvB = w.Matrix(TensorNames.Attn(layer, "kv_b_proj"));
        _o = w.Matrix(TensorNames.Attn(layer, "o_proj"));

        // The absorbed per-head weights are float32: transposing and slicing at head boundaries need not respect the
        // 128x128 scale blocks. kv_b itself stays as loaded (FP8 when the checkpoint is) for the naive path.
        Matrix kvB = _kvB.ToFloat32();
        _wUkT = new Matrix[_heads];
        _wUv = new Matrix[_heads];
        for (int h = 0; h < _heads; h++)
        {
            int row = h * (_nope + _v);
            _wUkT[h] = w.AddDerived(kvB.SliceRows(row, _nope).Transpose());
            _wUv[h] = w.AddDerived(kvB.SliceRows(row + _nope, _v));
        }
    }

    public int EntryDim => _kvRank + _rope;

    // The weights, for a backend that keeps its own copy (the device-resident forward).

    /// <summary>q_a_proj (null without q_lora_rank).</summary>
    public Matrix? QA => _qA;

    public RmsNorm? QANorm => _qANorm;

    /// <summary>q_b_proj, or q_proj without q_lora_rank.</summary>
    public Matrix QB => _qB;

    public Matrix KvA => _kvA;

    public RmsNorm KvANorm => _kvANorm;

    public Matrix O => _o;

    public YarnRope Rope => _yarn;

    /// <summary>Per head W_UKᵀ [kv_lora_rank, qk_nope_head_dim], float32.</summary>
    public IReadOnlyList<Matrix> AbsorbedKeys => _wUkT;

    /// <summary>Per head W_UV [v_head_dim, kv_lora_rank], float32.</summary>
    public IReadOnlyList<Matrix> AbsorbedValues => _wUv;

    /// <summary>x [rows, hidden] → attention output [rows, hidden]; writes this layer's cache entries for the new tokens.</summary>
    public float[] Forward(ReadOnlySpan<float> x, ForwardBatch batch, int[] positions)
    {
        int n = batch.Rows;
        int qWidth = _heads * (_nope + _rope);

        // [n, heads, nope + rope]
        float[] q = new float[n * qWidth];
        if (_qA is not null)
        {
            float[] qa = new float[n * _qA.Rows];
            _backend.Linear(x, n, _qA, qa);
            _qANorm!.Forward(_backend, qa, n, qa);
            _backend.Linear(qa, n, _qB, q);
        }
        else
        {
            _backend.Linear(x, n, _qB, q);
        }

        // [n, kv_lora + rope] → cache entries [RMSNorm(c) | rope(k_rope)]
        float[] entries = new float[n * EntryDim];
        _backend.Linear(x, n, _kvA, entries);
        Span<float> cos = stackalloc float[_rope / 2];
        Span<float> sin = stackalloc float[_rope / 2];
        for (int t = 0; t < n; t++)
        {
            Span<float> e = entries.AsSpan(t * EntryDim, EntryDim);
            _kvANorm.Forward(_backend, e[.._kvRank], 1, e[.._kvRank]);
            _yarn.CosSin(positions[t], cos, sin);
            YarnRope.Rotate(e[_kvRank..], cos, sin);
            for (int h = 0; h < _heads; h++)
            {
                YarnRope.Rotate(q.AsSpan((t * qWidth) + (h * (_nope + _rope)) + _nope, _rope), cos, sin);
            }
        }

        foreach (SequenceSlice s in batch.Sequences)
        {
            for (int i = 0; i < s.Length; i++)
            {
                s.Cache.Write(_layer, s.FirstPosition + i, entries.AsSpan((s.Start + i) * EntryDim, EntryDim));
            }
        }

        float[] attn = new float[n * _heads * _v];
        var absorbedRows = new List<int>();
        foreach (SequenceSlice s in batch.Sequences)
        {
            if (s.UsesAbsorbed(batch.Attention))
            {
                absorbedRows.AddRange(Enumerable.Range(s.Start, s.Length));
            }
            else
            {
                AttendNaive(s, q, attn);
            }
        }

        if (absorbedRows.Count > 0)
        {
            AttendAbsorbed(batch, q, absorbedRows, attn);
        }

        float[] output = new float[n * _o.Rows];
        _backend.Linear(attn, n, _o, output);
        return output;
    }

    private void AttendNaive(SequenceSlice s, float[] q, float[] attn)
    {
        int ctx = s.ContextLength;
        float[] latent = new float[ctx * EntryDim];
        s.Cache.Gather(_layer, ctx, latent);
        float[] c = new float[ctx * _kvRank];
        for (int u = 0; u < ctx; u++)
        {
            latent.AsSpan(u * EntryDim, _kvRank).CopyTo(c.AsSpan(u * _kvRank, _kvRank));
        }

        // [ctx, heads, nope + v]
        float[] kv = new float[ctx * _kvB.Rows];
        _backend.Linear(c, ctx, _kvB, kv);
        int qWidth = _heads * (_nope + _rope);
        _backend.Attention(new AttentionProblem
        {
            Q = q.AsSpan(s.Start * qWidth, s.Length * qWidth),
            KeyValue = kv,
            KeyRope = latent,
            KeyRopeStride = EntryDim,
            KeyRopeOffset = _kvRank,
            Output = attn.AsSpan(s.Start * _heads * _v, s.Length * _heads * _v),
            Queries = s.Length,
            Keys = ctx,
            FirstQueryPosition = s.FirstPosition,
            Heads = _heads,
            NopeDim = _nope,
            RopeDim = _rope,
            VDim = _v,
            Scale = _yarn.SoftmaxScale,
        });
    }

    /// <summary>Per head: [q_nope · W_UK (kv_lora) | rotated q_rope (rope)] for the given rows, in their order.</summary>
    private float[] AbsorbQueries(float[] q, List<int> rows)
    {
        int m = rows.Count;
        int qWidth = _heads * (_nope + _rope);
        float[] qa = new float[m * _heads * EntryDim];
        float[] qn = new float[m * _nope];
        float[] proj = new float[m * _kvRank];
        for (int h = 0; h < _heads; h++)
        {
            for (int i = 0; i < m; i++)
            {
                q.AsSpan((rows[i] * qWidth) + (h * (_nope + _rope)), _nope).CopyTo(qn.AsSpan(i * _nope, _nope));
            }

            _backend.Linear(qn, m, _wUkT[h], proj);
            for (int i = 0; i < m; i++)
            {
                Span<float> dst = qa.AsSpan(((i * _heads) + h) * EntryDim, EntryDim);
                proj.AsSpan(i * _kvRank, _kvRank).CopyTo(dst);
                q.AsSpan((rows[i] * qWidth) + (h * (_nope + _rope)) + _nope, _rope).CopyTo(dst[_kvRank..]);
            }
        }

        return qa;
    }

    /// <summary>
    /// Absorbed attention for every absorbed slice: attention over each sequence's cached latents, then W_UV applied
    /// once per head to all absorbed rows together (each head's W_UV is read once per step, not once per sequence).
    /// </summary>
    private void AttendAbsorbed(ForwardBatch batch, float[] q, List<int> rows, float[] attn)
    {
        int m = rows.Count;
        float[] qa = AbsorbQueries(q, rows);
        float[] oLatent = new float[m * _heads * _kvRank];
        var work = new List<(SequenceSlice Slice, int Offset)>();
        int offset = 0;
        foreach (SequenceSlice s in batch.Sequences)
        {
            if (s.UsesAbsorbed(batch.Attention))
            {
                work.Add((s, offset));
                offset += s.Length;
            }
        }

        // Sequences attend independently: run them side by side (each decode-sized problem stays on one thread).
        void Attend(int i)
        {
            (SequenceSlice s, int at) = work[i];
            int ctx = s.ContextLength;

            // The latents are read where the cache keeps them (no per-step copy of the whole context).
            LatentPages pages = s.Cache.Pages(_layer, ctx);
            _backend.LatentAttention(new LatentAttentionProblem
            {
                Q = qa.AsSpan(at * _heads * EntryDim, s.Length * _heads * EntryDim),
                Latent = pages.Pool,
                BlockTable = pages.BlockTable,
                BlockSize = pages.BlockSize,
                Output = oLatent.AsSpan(at * _heads * _kvRank, s.Length * _heads * _kvRank),
                Queries = s.Length,
                Keys = ctx,
                FirstQueryPosition = s.FirstPosition,
                Heads = _heads,
                LatentDim = _kvRank,
                RopeDim = _rope,
                Scale = _yarn.SoftmaxScale,
            });
        }

        if (work.Count > 1)
        {
            Parallel.For(0, work.Count, Attend);
        }
        else if (work.Count == 1)
        {
            Attend(0);
        }

        float[] lat = new float[m * _kvRank];
        float[] vh = new float[m * _v];
        for (int h = 0; h < _heads; h++)
        {
            for (int i = 0; i < m; i++)
            {
                oLatent.AsSpan(((i * _heads) + h) * _kvRank, _kvRank).CopyTo(lat.AsSpan(i * _kvRank, _kvRank));
            }

            _backend.Linear(lat, m, _wUv[h], vh);
            for (int i = 0; i < m; i++)
            {
                vh.AsSpan(i * _v, _v).CopyTo(attn.AsSpan(((rows[i] * _heads) + h) * _v, _v));
            }
        }
    }
}
