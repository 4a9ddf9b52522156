using Orleans.TestingHost;
using R1Orleans.Grains.Cluster;
using R1Orleans.Placement;
using R1Orleans.Placement.Communicators;

namespace R1Orleans.Cluster.Tests;

/// <summary>The rendezvous grain on an in-process test cluster: ids cross the wire whole and the rules hold through it.</summary>
public sealed class NcclRendezvousGrainTests
{
    [Fact]
    public async Task Rank_0s_id_reaches_the_other_ranks_through_the_grain_and_an_older_generation_is_refused()
    {
        TestCluster cluster = new TestClusterBuilder(1).Build();
        await cluster.DeployAsync();
        try
        {
            INcclRendezvousGrain grain = cluster.Client.GetGrain<INcclRendezvousGrain>(INcclRendezvousGrain.DefaultKey);
            var g4 = new CommunicatorGenerationDto(4, 6, ["S10.0.0.1:11111:1", "S10.0.0.2:11111:1"]);
            var g3 = new CommunicatorGenerationDto(3, 5, ["S10.0.0.1:11111:1", "S10.0.0.2:11111:1", "S10.0.0.3:11111:1"]);
            byte[] id = new byte[NcclRendezvous.UniqueIdBytes];
            new Random(20261205).NextBytes(id);

            Assert.Equal(RendezvousStatus.Pending, (await grain.Lookup(g4, "S10.0.0.2:11111:1")).Status);
            Assert.Equal(RendezvousStatus.Ready, (await grain.Post(g4, "S10.0.0.1:11111:1", id)).Status);

            RendezvousReplyDto lookup = await grain.Lookup(g4, "S10.0.0.2:11111:1");
            Assert.Equal(RendezvousStatus.Ready, lookup.Status);
            Assert.Equal(id, lookup.UniqueId);
            Assert.Equal(g4.Ranks, lookup.Held!.Ranks);

            RendezvousReplyDto stale = await grain.Post(g3, "S10.0.0.1:11111:1", id);
            Assert.Equal(RendezvousStatus.Stale, stale.Status);
            Assert.Equal(6, stale.Held!.Epoch);

            byte[] other = (byte[])id.Clone();
            other[^1] ^= 1;
            Assert.Equal(RendezvousStatus.Conflict, (await grain.Post(g4, "S10.0.0.1:11111:1", other)).Status);
            Assert.Equal(id, (await grain.Lookup(g4, "S10.0.0.2:11111:1")).UniqueId);

            // The hand-off each rank runs, through the grain: the next generation's rank 1 asks before rank 0 posts.
            UniqueIdHandOff handOff = NcclRendezvousHandOff.Over(cluster.GrainFactory);
            var g5 = new CommunicatorGeneration(new PlacementStamp(5, 7), [new SiloId("S10.0.0.2:11111:1"), new SiloId("S10.0.0.3:11111:1")]);
            byte[] next = new byte[NcclRendezvous.UniqueIdBytes];
            new Random(5).NextBytes(next);
            Task<byte[]> rank1 = handOff.ObtainAsync(g5, new SiloId("S10.0.0.3:11111:1"), () => throw new InvalidOperationException("only rank 0 makes an id"), TimeSpan.FromSeconds(30));
            Assert.Equal(next, await handOff.ObtainAsync(g5, new SiloId("S10.0.0.2:11111:1"), () => next, TimeSpan.FromSeconds(30)));
            Assert.Equal(next, await rank1);
            Assert.Equal(RendezvousStatus.Stale, (await grain.Lookup(g4, "S10.0.0.2:11111:1")).Status);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }
}
