using System.Globalization;
using R1Orleans.Placement.Balancing;
using Xunit.Abstractions;
using static R1Orleans.Placement.Tests.Balancing.EplbTestData;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests.Balancing;

/// <summary>
/// The predicted (max − mean)/mean load by silo on a skewed synthetic load (Zipf over DeepSeek-V3's 256 experts in 8
/// groups, shuffled per layer), for the load-blind PlacementPlanner map and for EPLB plans with 0-32 redundant slots.
/// The figures go to the test output; the assertions hold what must not regress.
/// </summary>
public sealed class EplbMeasurementTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2, 3, 1.0)]
    [InlineData(1, 3, 1.0)]
    [InlineData(4, 2, 1.0)]
    [InlineData(2, 3, 0.6)]
    public void Redundant_slots_lower_the_predicted_silo_imbalance_of_a_zipf_load(int nodes, int silosPerNode, double zipf)
    {
        ExpertLayout layout = Layout(256, 8, 4, layers: 4);
        ExpertLoadEstimate load = Loads(layout, [.. Enumerable.Range(0, 4).Select(l => Zipf(256, zipf, seed: 100 + l))]);
        ClusterMember[] members = Members(nodes, silosPerNode);
        PlacementMap blind = new PlacementPlanner(layout).Plan(members);
        double baseline = SiloLoadPrediction.Imbalance(blind, load) - 1;
        var line = new List<string> { $"{nodes} node(s) x {silosPerNode} silos, Zipf {zipf}: PlacementPlanner {baseline:F3}" };
        double previous = double.PositiveInfinity;
        foreach (int redundant in new[] { 0, 8, 16, 32 })
        {
            EplbPlan hier = new EplbPlanner(layout, redundant).Plan(members, load);
            EplbPlan global = new EplbPlanner(layout, redundant, EplbPolicy.Global).Plan(members, load);
            double h = hier.PlannedImbalance - 1, g = global.PlannedImbalance - 1;
            line.Add(string.Create(CultureInfo.InvariantCulture, $"N={redundant} ({hier.SlotsPerSilo}/silo): hierarchical {h:F3}, global {g:F3}"));
            Assert.True(h < baseline, $"N={redundant}: {h} vs load-blind {baseline}");
            if (redundant >= 16)
            {
                Assert.True(h < previous + 1e-9 || h < 0.1, $"N={redundant}: {h} after {previous}");
            }

            previous = h;
        }

        output.WriteLine(string.Join("; ", line));
    }
}
