namespace R1Orleans.Model;

/// <summary>
/// The expert exchange of one MoE layer step: dispatch each token's hidden state to the holders of its routed
/// experts, run the experts there, and combine the weighted outputs back in token order:
/// y[t] = Σ_k w[t,k] · Expert_{id[t,k]}(x[t]), summed in slot order k = 0..K−1. In one process, across silos or GPUs,
/// with no change to the model code. <see cref="Dispatch"/> and <see cref="Combine"/> are apart so that the layer
/// computes its shared experts while the routed ones run elsewhere (DeepEP's dispatch / combine).
/// </summary>
public interface IExpertExchange
{
    /// <summary>Sends the step's rows on their way; <paramref name="x"/> may be reused once this returns.</summary>
    ExpertStep Dispatch(int layer, ReadOnlySpan<float> x, ExpertRouting routing);

    /// <summary>Waits for the step's expert outputs and writes their weighted sum per token into <paramref name="y"/>.</summary>
    void Combine(ExpertStep step, Span<float> y);

    /// <summary>Called once at the start of every forward pass: a new placement is taken up here, never inside a pass.</summary>
    void BeginStep()
    {
    }
}

/// <summary>Helpers over <see cref="IExpertExchange"/>.</summary>
public static class ExpertExchangeExtensions
{
    /// <summary>Dispatch and combine with nothing in between.</summary>
    public static void DispatchCombine(this IExpertExchange exchange, int layer, ReadOnlySpan<float> x, ExpertRouting routing, Span<float> y)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        exchange.Combine(exchange.Dispatch(layer, x, routing), y);
    }
}

/// <summary>One MoE layer step between <see cref="IExpertExchange.Dispatch"/> and <see cref="IExpertExchange.Combine"/>.</summary>
public abstract class ExpertStep
{
    protected ExpertStep(int layer, ExpertRouting routing, int hidden)
    {
        Layer = layer;
        Routing = routing ?? throw new ArgumentNullException(nameof(routing));
        Hidden = hidden;
    }

    public int Layer { get; }

    public ExpertRouting Routing { get; }

    public int Hidden { get; }
}
