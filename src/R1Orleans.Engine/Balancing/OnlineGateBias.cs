using R1Orleans.Model;
using R1Orleans.Transport;

namespace R1Orleans.Engine.Balancing;

/// <summary>
/// Online gate-bias balancing on one silo: every <see cref="OnlineGateBiasOptions.WindowSteps"/> engine steps it takes
/// the window's routed tokens per (layer, expert) from the engine's load counter, asks <see cref="GateBiasBalancer"/>
/// for the next bias and applies it to the model before the next step starts (<see cref="EngineCore.BeforeStep"/>), so
/// every window is routed with one bias version. <see cref="Report"/> says what it did: versions, each layer's drift
/// from the checkpoint and the expert imbalance (max/mean) of the first window (the checkpoint's bias: before) and of the
/// latest (after).
/// </summary>
public sealed class OnlineGateBias
{
    private readonly DeepseekV3Model _model;
    private readonly ExpertLoadDelta _window;
    private readonly GateBiasBalancer _balancer;
    private readonly int _windowSteps;
    private long _boundaries;
    private OnlineGateBiasReport _report;

    public OnlineGateBias(DeepseekV3Model model, ExpertLoadCounter counter, OnlineGateBiasOptions options)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentNullException.ThrowIfNull(counter);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.WindowSteps);
        _balancer = new GateBiasBalancer(options.Gamma, options.MaxDrift);
        _windowSteps = options.WindowSteps;
        Options = options;
        _window = new ExpertLoadDelta(counter, model.Gates.Select(g => g.Layer), model.Config.NRoutedExperts);
        _report = OnlineGateBiasReport.Empty;
    }

    public OnlineGateBiasOptions Options { get; }

    /// <summary>What the balancing has done so far (an immutable snapshot; read from any thread).</summary>
    public OnlineGateBiasReport Report => Volatile.Read(ref _report);

    /// <summary>The step boundary (engine thread, before each forward step): closes a window every WindowSteps steps and applies the next bias.</summary>
    public void OnStepBoundary()
    {
        // The first call comes before step 1; the call before step WindowSteps + 1 closes the first window.
        long stepsRun = _boundaries++;
        if (stepsRun == 0 || stepsRun % _windowSteps != 0)
        {
            return;
        }

        IReadOnlyDictionary<int, long[]> window = _window.Take();
        GateBias current = _model.CurrentGateBias;
        GateBiasUpdate update = _balancer.Update(window, current, _model.CheckpointGateBias);

        // False only when the cluster's load balancer pushed a newer version meanwhile: that one stays.
        bool applied = _model.ApplyGateBias(update.Bias);
        GateBias now = _model.CurrentGateBias;
        OnlineGateBiasReport last = _report;
        Volatile.Write(ref _report, new OnlineGateBiasReport(
            last.Windows + 1,
            last.Updates + (applied ? 1 : 0),
            now.Version,
            last.Windows == 0 ? update.ImbalanceBefore : last.ImbalanceFirstWindow,
            update.ImbalanceBefore,
            update.WindowTokens,
            now.Layers.ToDictionary(l => l, l => now.Drift(_model.CheckpointGateBias, l))));
    }
}
