namespace R1Orleans.Model;

/// <summary>
/// The expert exchange of one MoE layer step: dispatch each token's hidden state to the holders of its routed
/// experts, run the experts there, and combine the weighted outputs back in token order:
/// y[t] = Σ_k w[t,k] · Expert_{id[t,k]}(x[t]). In-process today; across silos or GPUs later, with no change to the
/// model code.
/// </summary>
public interface IExpertExchange
{
    void DispatchCombine(int layer, ReadOnlySpan<float> x, ExpertRouting routing, Span<float> y);
}
