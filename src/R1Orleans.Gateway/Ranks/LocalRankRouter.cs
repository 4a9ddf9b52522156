using R1Orleans.Engine.Api;

namespace R1Orleans.Gateway.Ranks;

/// <summary>One silo: every request runs on this silo's engine.</summary>
public sealed class LocalRankRouter(ModelHost host) : IRankRouter
{
    public const string LocalName = "local";

    public string? Unready => null;

    public IRank? Pick(int count, int maxWaiting, IReadOnlyCollection<string>? exclude = null)
    {
        InferenceEngine engine = host.Engine ?? throw new InvalidOperationException("the model is not loaded yet");
        return engine.Core.Admits(count, maxWaiting) && exclude?.Contains(LocalName) != true ? new EngineRank(LocalName, engine) : null;
    }

    public string BusySummary(int maxWaiting) => host.Engine?.Core.LoadSummary(maxWaiting) ?? "the model is loading";
}
