using System.Diagnostics.Metrics;
using System.Globalization;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Balancing;
using R1Orleans.Model;

namespace R1Orleans.Gateway;

/// <summary>
/// The gate bias on the gateway's meter, read at scrape time: the version in use (0: the checkpoint's), each MoE layer's
/// drift from the checkpoint (max |b − b₀|), and with online balancing on (<c>--online-bias</c>), each layer's expert
/// imbalance (max/mean routed tokens) in the first window (before: the checkpoint's bias) and in the latest (after), and
/// the windows closed. Labelled with model_name and, per layer, <c>layer</c>.
/// </summary>
internal static class GateBiasMetrics
{
    /// <summary>Creates the instruments on <paramref name="meter"/>; <paramref name="engine"/> gives the served engine (null while loading) and its model_name label.</summary>
    public static void Create(Meter meter, Func<(InferenceEngine? Engine, KeyValuePair<string, object?> Model)> engine)
    {
        string prefix = GatewayMetrics.InstrumentPrefix;
        meter.CreateObservableGauge(prefix + "gate_bias_version", () => Version(engine()), null,
            "Version of the gate bias the engine routes with: 0 the checkpoint's e_score_correction_bias, above it an online one.");
        meter.CreateObservableGauge(prefix + "gate_bias_drift", () => Drift(engine()), null,
            "Per MoE layer, max over experts of |b - b0|: how far the gate bias in use is from the checkpoint's.");
        meter.CreateObservableGauge(prefix + "gate_bias_imbalance_before", () => Imbalance(engine(), r => r.ImbalanceFirstWindow), null,
            "Per MoE layer, max over mean routed tokens in the first online-bias window (routed with the checkpoint's bias).");
        meter.CreateObservableGauge(prefix + "gate_bias_imbalance_after", () => Imbalance(engine(), r => r.ImbalanceLastWindow), null,
            "Per MoE layer, max over mean routed tokens in the latest online-bias window (routed with the online bias of that window).");
        meter.CreateObservableCounter(prefix + "gate_bias_windows", () => Windows(engine()), null,
            "Online-bias load windows closed (each gives the next bias version).");
    }

    private static Measurement<long>[] Version((InferenceEngine? Engine, KeyValuePair<string, object?> Model) e) =>
        e.Engine is null ? [] : [new(e.Engine.CurrentGateBias.Version, e.Model)];

    private static Measurement<long>[] Windows((InferenceEngine? Engine, KeyValuePair<string, object?> Model) e) =>
        e.Engine?.OnlineBias is { } online ? [new(online.Report.Windows, e.Model)] : [];

    private static List<Measurement<double>> Drift((InferenceEngine? Engine, KeyValuePair<string, object?> Model) e)
    {
        var series = new List<Measurement<double>>();
        if (e.Engine is not { } engine)
        {
            return series;
        }

        GateBias current = engine.CurrentGateBias;
        GateBias checkpoint = engine.CheckpointGateBias;
        foreach (int layer in current.Layers)
        {
            series.Add(new Measurement<double>(current.Drift(checkpoint, layer), e.Model, Layer(layer)));
        }

        return series;
    }

    private static List<Measurement<double>> Imbalance((InferenceEngine? Engine, KeyValuePair<string, object?> Model) e, Func<OnlineGateBiasReport, IReadOnlyDictionary<int, double>> pick)
    {
        var series = new List<Measurement<double>>();
        if (e.Engine?.OnlineBias is not { } online)
        {
            return series;
        }

        foreach ((int layer, double value) in pick(online.Report))
        {
            // A layer that routed nothing in the window (the MTP layer without --speculative-mtp) has no figure.
            if (!double.IsNaN(value))
            {
                series.Add(new Measurement<double>(value, e.Model, Layer(layer)));
            }
        }

        return series;
    }

    private static KeyValuePair<string, object?> Layer(int layer) => new("layer", layer.ToString(CultureInfo.InvariantCulture));
}
