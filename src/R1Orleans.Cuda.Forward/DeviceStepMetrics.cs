using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace R1Orleans.Cuda.Forward;

/// <summary>
/// Host time of each phase of a device-resident forward step (<see cref="DeviceModelAccelerator.Forward"/>), as a
/// histogram in milliseconds tagged with the phase: "prepare" (block tables, the device cache and bias, output arrays),
/// "plan" (the step's metadata built on the host), "device" (upload, launch or graph replay, and the wait for it),
/// "hidden" (with an MTP layer), "logits" and "routing" (the downloads), "observers" (routing handed to the engine). What an engine step costs beyond
/// the device's own work; exported like every other meter, and summed by bench-engine.
/// </summary>
public static class DeviceStepMetrics
{
    public const string MeterName = "R1Orleans.Cuda.Forward";

    public const string PhaseHistogram = "r1orleans.device.step.phase";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> Phase = Meter.CreateHistogram<double>(PhaseHistogram, "ms", "Host time of one phase of a device forward step");

    /// <summary>Records the time since <paramref name="startTicks"/> (<see cref="Stopwatch.GetTimestamp"/>) under <paramref name="phase"/>; returns now.</summary>
    public static long Record(string phase, long startTicks)
    {
        long now = Stopwatch.GetTimestamp();
        if (Phase.Enabled)
        {
            Phase.Record(Stopwatch.GetElapsedTime(startTicks, now).TotalMilliseconds, new KeyValuePair<string, object?>("phase", phase));
        }

        return now;
    }
}
