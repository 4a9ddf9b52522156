using R1Orleans.Backend;

namespace R1Orleans.Model;

/// <summary>Final RMSNorm then the (untied) output projection, on the selected rows only.</summary>
public sealed class LanguageModelHead(RmsNorm norm, Matrix head)
{
    public int VocabSize => head.Rows;

    public RmsNorm Norm => norm;

    /// <summary>The output projection [vocab, hidden].</summary>
    public Matrix Weight => head;

    public ModelOutput Forward(IComputeBackend backend, float[] h, int rows, int[] logitRows)
    {
        int d = norm.Dim;
        float[] normed = norm.Forward(backend, h, rows);
        float[] selected = new float[logitRows.Length * d];
        for (int i = 0; i < logitRows.Length; i++)
        {
            int r = logitRows[i];
            if ((uint)r >= (uint)rows)
            {
                throw new ArgumentOutOfRangeException(nameof(logitRows), $"logit row {r} is outside the batch of {rows} rows");
            }

            normed.AsSpan(r * d, d).CopyTo(selected.AsSpan(i * d, d));
        }

        float[] logits = new float[logitRows.Length * head.Rows];
        backend.Linear(selected, logitRows.Length, head, logits);
        return new ModelOutput(normed, rows, d, logitRows, logits, head.Rows);
    }
}
