using R1Orleans.Placement.Communicators;

namespace R1Orleans.Placement.Tests;

public sealed class UniqueIdHandOffTests
{
    private static readonly SiloId s_a = new("S10.0.0.1:11111:1"), s_b = new("S10.0.0.2:11111:1"), s_c = new("S10.0.0.3:11111:1");
    private static readonly TimeSpan s_long = TimeSpan.FromSeconds(30);

    /// <summary>The hand-off over a plain rendezvous, one call at a time as the grain serves them.</summary>
    private static UniqueIdHandOff Over(NcclRendezvous rendezvous)
    {
        var gate = new object();
        return new UniqueIdHandOff(
            (g, s, id) => { lock (gate) { return Task.FromResult(rendezvous.Post(g, s, id)); } },
            (g, s) => { lock (gate) { return Task.FromResult(rendezvous.Lookup(g, s)); } })
        { PollInterval = TimeSpan.FromMilliseconds(1) };
    }

    private static byte[] Id(int seed)
    {
        byte[] id = new byte[NcclRendezvous.UniqueIdBytes];
        new Random(seed).NextBytes(id);
        return id;
    }

    [Fact]
    public async Task Every_rank_gets_rank_0s_id_even_when_it_asks_first_and_only_rank_0_makes_one()
    {
        var rendezvous = new NcclRendezvous();
        UniqueIdHandOff handOff = Over(rendezvous);
        var g = new CommunicatorGeneration(new PlacementStamp(2, 3), [s_a, s_b, s_c]);
        int made = 0;
        byte[] Make() { Interlocked.Increment(ref made); return Id(7); }

        Task<byte[]> b = handOff.ObtainAsync(g, s_b, Make, s_long);
        Task<byte[]> c = handOff.ObtainAsync(g, s_c, Make, s_long);
        byte[] a = await handOff.ObtainAsync(g, s_a, Make, s_long);

        Assert.Equal(Id(7), a);
        Assert.Equal(Id(7), await b);
        Assert.Equal(Id(7), await c);
        Assert.Equal(1, made);
    }

    [Fact]
    public async Task Rank_0_asking_again_with_a_new_id_gets_the_one_already_handed_out()
    {
        var rendezvous = new NcclRendezvous();
        UniqueIdHandOff handOff = Over(rendezvous);
        var g = new CommunicatorGeneration(new PlacementStamp(2, 3), [s_a, s_b]);
        await handOff.ObtainAsync(g, s_a, () => Id(1), s_long);

        Assert.Equal(Id(1), await handOff.ObtainAsync(g, s_a, () => Id(2), s_long));
        Assert.Equal(Id(1), await handOff.ObtainAsync(g, s_b, () => Id(3), s_long));
    }

    [Fact]
    public async Task A_rank_of_a_stale_generation_is_refused()
    {
        var rendezvous = new NcclRendezvous();
        UniqueIdHandOff handOff = Over(rendezvous);
        await handOff.ObtainAsync(new CommunicatorGeneration(new PlacementStamp(5, 8), [s_a, s_b]), s_a, () => Id(1), s_long);
        var old = new CommunicatorGeneration(new PlacementStamp(4, 7), [s_a, s_b, s_c]);

        RendezvousRefusedException e = await Assert.ThrowsAsync<RendezvousRefusedException>(() => handOff.ObtainAsync(old, s_c, () => Id(2), s_long));
        Assert.Equal(RendezvousStatus.Stale, e.Status);
        e = await Assert.ThrowsAsync<RendezvousRefusedException>(() => handOff.ObtainAsync(old, s_a, () => Id(2), s_long));
        Assert.Equal(RendezvousStatus.Stale, e.Status);
        Assert.Contains("v4e7x3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rank_whose_rank_0_never_posts_gives_up_at_the_deadline_naming_the_generation_and_rank_0()
    {
        UniqueIdHandOff handOff = Over(new NcclRendezvous());
        var g = new CommunicatorGeneration(new PlacementStamp(2, 3), [s_a, s_b]);

        TimeoutException e = await Assert.ThrowsAsync<TimeoutException>(() => handOff.ObtainAsync(g, s_b, () => Id(1), TimeSpan.Zero));

        Assert.Contains("communicator v2e3x2: rank 0 (S10.0.0.1:11111:1) posted no unique id", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_outside_the_generation_gets_no_id()
    {
        UniqueIdHandOff handOff = Over(new NcclRendezvous());
        var g = new CommunicatorGeneration(new PlacementStamp(2, 3), [s_a, s_b]);

        RendezvousRefusedException e = await Assert.ThrowsAsync<RendezvousRefusedException>(() => handOff.ObtainAsync(g, s_c, () => Id(1), s_long));
        Assert.Equal(RendezvousStatus.NotAllowed, e.Status);
    }
}
