using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using R1Orleans.Placement.Balancing;
using static R1Orleans.Placement.Tests.Balancing.EplbTestData;
using static R1Orleans.Placement.Tests.TestCluster;

namespace R1Orleans.Placement.Tests.Balancing;

/// <summary>
/// The planner with one copy per expert (no --expert-replicas) must plan exactly as it did before the minimum number
/// of copies existed: a digest of 120 seeded plans (fresh, then replanned from the first map with a shifted load, so
/// hysteresis and relabelling count too), holders and replica weights bit for bit, captured from that planner.
/// </summary>
public sealed class EplbOneCopyRegressionTests
{
    /// <summary>SHA-256 of the plans below as the planner made them before minimum copies (commit 233379d).</summary>
    private const string DigestBeforeMinimumCopies = "55B9906077AC240155C41A73439EE6FC888DBBAACD3980F93392722A1CCEE077";

    [Fact]
    public void Plans_with_one_copy_per_expert_are_bit_for_bit_those_of_the_planner_before_minimum_copies()
    {
        Assert.Equal(DigestBeforeMinimumCopies, Digest(seeds: 120));
    }

    /// <summary>The digest of the seeded plans: random clusters (1-4 nodes of 1-3 silos), groupings, slots, policies and loads.</summary>
    internal static string Digest(int seeds)
    {
        var text = new StringBuilder();
        for (int seed = 0; seed < seeds; seed++)
        {
            var rng = new Random(seed);
            int[] silosPerNode = [.. Enumerable.Range(0, rng.Next(1, 5)).Select(_ => rng.Next(1, 4))];
            int groups = 1 << rng.Next(0, 4), experts = groups * rng.Next(1, 7), redundant = rng.Next(0, 13);
            EplbPolicy policy = rng.Next(2) == 0 ? EplbPolicy.Hierarchical : EplbPolicy.Global;
            ClusterMember[] members = [.. silosPerNode.SelectMany((count, n) => Enumerable.Range(0, count).Select(j => Member(n, j)))];
            ExpertLayout layout = Layout(experts, groups, Math.Max(1, groups / 2), layers: 2);
            double skew = rng.NextDouble() * 2;
            double[] Load() => [.. Enumerable.Range(0, experts).Select(_ => rng.Next(3) == 0 ? 0 : 1000 * Math.Pow(rng.NextDouble(), 1 + (4 * skew)))];
            var planner = new EplbPlanner(layout, redundant, policy, minImprovement: rng.NextDouble() * 0.1);

            EplbPlan first = planner.Plan(members, Loads(layout, Load(), Load()));
            EplbPlan next = planner.Plan(members, Loads(layout, Load(), Load()), first.Map);
            foreach (EplbPlan plan in new[] { first, next })
            {
                text.Append(CultureInfo.InvariantCulture, $"{seed} {plan.Policy} {plan.SlotsPerSilo} {plan.Changed} {plan.LayersChanged} {plan.PlannedImbalance:R}:");
                foreach (int l in layout.MoeLayers)
                {
                    for (int e = 0; e < experts; e++)
                    {
                        text.Append(string.Join(",", plan.Map.HolderIndexes(l, e).ToArray())).Append('/');
                        text.Append(string.Join(",", plan.Weights.Of(l, e).ToArray().Select(w => w.ToString("R", CultureInfo.InvariantCulture)))).Append(';');
                    }
                }

                text.Append('\n');
            }
        }

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
