namespace R1Orleans.Grains.Balancing;

/// <summary>
/// Where silos publish their expert load windows: an Orleans memory stream (provider <see cref="Provider"/>, namespace
/// <see cref="Namespace"/>, key <see cref="Key"/>) that the load-balancer grain of that key subscribes to implicitly.
/// Memory streams are lossy (a consumer's silo death loses the message in flight): a lost window degrades the
/// estimate, never correctness.
/// </summary>
public static class LoadStreams
{
    public const string Provider = "r1-load";

    public const string Namespace = "r1-expert-load";

    public const string Key = "default";

    /// <summary>Grain storage the stream's pub-sub needs (memory: subscriptions are implicit, nothing durable).</summary>
    public const string PubSubStore = "PubSubStore";
}
