using R1Orleans.Backend;

namespace R1Orleans.Client.Tests;

public class EngineBenchCommandTests
{
    [Fact]
    public void The_full_width_synthetic_model_is_refused_on_the_cpu_with_the_reason_and_the_small_ones_are_not()
    {
        var cpu = new CpuBackend(threads: 1);
        string? refusal = EngineBenchCommand.RefusedOnCpu(["medium", "v3-reduced"], cpu);
        Assert.NotNull(refusal);
        Assert.Contains("--device cuda:N", refusal, StringComparison.Ordinal);
        Assert.Null(EngineBenchCommand.RefusedOnCpu(["tiny", "medium"], cpu));
    }
}
