using R1Orleans.Backend;

namespace R1Orleans.Model;

/// <summary>
/// SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)). The dense MLP, each routed expert and the shared experts
/// (whose intermediate size is n_shared_experts × moe_intermediate_size) all have this form.
/// </summary>
public sealed class FeedForward
{
    private readonly Matrix _gate;
    private readonly Matrix _up;
    private readonly Matrix _down;

    public FeedForward(Matrix gate, Matrix up, Matrix down)
    {
        if (gate.Rows != up.Rows || gate.Cols != up.Cols || down.Cols != gate.Rows || down.Rows != gate.Cols)
        {
            throw new ArgumentException($"feed-forward shapes disagree: gate [{gate.Rows}, {gate.Cols}], up [{up.Rows}, {up.Cols}], down [{down.Rows}, {down.Cols}]");
        }

        _gate = gate;
        _up = up;
        _down = down;
    }

    /// <summary>Loads gate_proj, up_proj and down_proj; name maps a part name to its tensor name.</summary>
    public static FeedForward Load(WeightLoader w, Func<string, string> name) =>
        new(w.Matrix(name("gate_proj")), w.Matrix(name("up_proj")), w.Matrix(name("down_proj")));

    public Matrix Gate => _gate;

    public Matrix Up => _up;

    public Matrix Down => _down;

    public int Hidden => _gate.Cols;

    public int Intermediate => _gate.Rows;

    public long WeightBytes => _gate.ByteSize + _up.ByteSize + _down.ByteSize;

    /// <summary>y [n, hidden] = FFN(x [n, hidden]).</summary>
    public void Forward(IComputeBackend backend, ReadOnlySpan<float> x, int n, Span<float> y)
    {
        float[] g = new float[n * Intermediate];
        float[] u = new float[n * Intermediate];
        backend.Linear(x, n, _gate, g);
        backend.Linear(x, n, _up, u);
        backend.SiluMul(g, u, g);
        backend.Linear(g, n, _down, y);
    }
}
