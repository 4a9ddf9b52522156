namespace R1Orleans.Grains.Ranks;

/// <summary>
/// One silo's rank (its engine: MLA, dense blocks, latent KV, scheduler) reached from another silo's gateway (key: the
/// silo's address; placed on that silo). A request's tokens stream back as the rank makes them, one streamed response
/// per request; the gateway polls <see cref="Load"/> to send each new request to the least-loaded rank.
/// </summary>
[Alias("R1Orleans.IRankGrain")]
public interface IRankGrain : IGrainWithStringKey
{
    /// <summary>Runs one request; cancelling the token ends it on the rank (its KV blocks freed at the next step).</summary>
    [Alias("Generate")]
    IAsyncEnumerable<RankEvent> Generate(RankRequest request, CancellationToken cancellation = default);

    /// <summary>Continues a request another rank was running (its prompt and sampling in <paramref name="request"/>, its tokens so far and seed).</summary>
    [Alias("Resume")]
    IAsyncEnumerable<RankEvent> Resume(RankRequest request, int[] generated, ulong seed, CancellationToken cancellation = default);

    /// <summary>The config hash of the model this silo loaded (silos of one cluster must agree).</summary>
    [Alias("ModelHash")]
    Task<string> ModelHash();

    [Alias("Load")]
    Task<RankLoad> Load();

    /// <summary>What <c>/cluster/status</c> shows of this silo: its requests, its exchange's traffic, its experts.</summary>
    [Alias("Report")]
    Task<RankReport> Report();

    /// <summary>
    /// Drains this silo as SIGTERM does (<c>r1 cluster drain</c>): its rank takes no new requests and hands its running
    /// ones to other ranks (or finishes those nearly done), its experts are placed elsewhere, then the process exits.
    /// Returns at once with what it began.
    /// </summary>
    [Alias("Drain")]
    Task<string> Drain();

    /// <summary>
    /// Fault injection (only on a silo started with <c>--fault-injection</c>, else it throws): for <paramref name="durationMs"/>
    /// its expert holder answers every step <paramref name="delayMs"/> late.
    /// </summary>
    [Alias("InjectReplyDelay")]
    Task InjectReplyDelay(int delayMs, int durationMs);

    /// <summary>The gate bias this rank's next step routes with (version 0: the checkpoint's); null while its model loads.</summary>
    [Alias("CurrentGateBias")]
    Task<Balancing.GateBiasDto?> CurrentGateBias();

    /// <summary>
    /// Bias mode: the load balancer's new gate bias, taken by this rank's next step (a step running keeps its version);
    /// an older or equal version changes nothing. Returns the version the rank routes with now, or -1 while its model loads.
    /// </summary>
    [Alias("ApplyGateBias")]
    Task<long> ApplyGateBias(Balancing.GateBiasDto bias);
}
