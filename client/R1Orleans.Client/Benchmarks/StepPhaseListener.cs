using System.Diagnostics.Metrics;
using R1Orleans.Cuda.Forward;

namespace R1Orleans.Client.Benchmarks;

/// <summary>
/// Collects the device forward's per-phase step times (<see cref="DeviceStepMetrics"/>) while it lives; bench-engine
/// prints their medians beside each decode result, so that what an engine step costs beyond the device's work is shown.
/// </summary>
public sealed class StepPhaseListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, List<double>> _values = [];
    private readonly Lock _gate = new();

    public StepPhaseListener()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == DeviceStepMetrics.MeterName && instrument.Name == DeviceStepMetrics.PhaseHistogram)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "phase" && tag.Value is string phase)
                {
                    lock (_gate)
                    {
                        (_values.TryGetValue(phase, out List<double>? list) ? list : _values[phase] = []).Add(value);
                    }
                }
            }
        });
        _listener.Start();
    }

    /// <summary>Forgets what was collected so far.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _values.Clear();
        }
    }

    /// <summary>Each phase's median in milliseconds, in the order the phases run; empty when no device step ran.</summary>
    public IReadOnlyList<(string Phase, double MedianMs)> Medians()
    {
        string[] order = ["prepare", "plan", "device", "hidden", "logits", "routing", "observers"];
        lock (_gate)
        {
            return [.. _values.OrderBy(p => Array.IndexOf(order, p.Key) is int i and >= 0 ? i : order.Length).Select(p => (p.Key, HardwareCeiling.Median(p.Value)))];
        }
    }

    public void Dispose() => _listener.Dispose();
}
