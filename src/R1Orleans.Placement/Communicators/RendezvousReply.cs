namespace R1Orleans.Placement.Communicators;

/// <summary>The rendezvous' answer: the unique id when <see cref="Status"/> is Ready, else why not, with the generation it holds.</summary>
public sealed record RendezvousReply(RendezvousStatus Status, byte[]? UniqueId, string? Reason, CommunicatorGeneration? Held);
