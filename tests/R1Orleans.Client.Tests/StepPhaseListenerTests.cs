using System.Diagnostics;
using R1Orleans.Client.Benchmarks;
using R1Orleans.Cuda.Forward;
using Xunit;

namespace R1Orleans.Client.Tests;

public class StepPhaseListenerTests
{
    [Fact]
    public void CollectsEachPhaseOfTheDeviceStepMeterAndForgetsOnReset()
    {
        using var listener = new StepPhaseListener();
        long tenMsAgo = Stopwatch.GetTimestamp() - (Stopwatch.Frequency / 100);
        DeviceStepMetrics.Record("logits", tenMsAgo);
        DeviceStepMetrics.Record("device", tenMsAgo);
        DeviceStepMetrics.Record("device", tenMsAgo);

        var medians = listener.Medians();
        Assert.Equal(["device", "logits"], medians.Select(m => m.Phase));
        Assert.All(medians, m => Assert.True(m.MedianMs >= 10, $"{m.Phase}: {m.MedianMs} ms recorded for a start 10 ms back"));

        listener.Reset();
        Assert.Empty(listener.Medians());
    }
}
