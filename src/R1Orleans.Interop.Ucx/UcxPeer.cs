using R1Orleans.Interop.Ucx.Native;

namespace R1Orleans.Interop.Ucx;

/// <summary>
/// A remote node as seen from one <see cref="UcxNode"/>: one UCX endpoint (with peer-failure detection) that carries
/// this node's requests to it and this node's replies to its requests. Once failed, a peer stays failed; connect
/// again to the (new) address of a restarted node.
/// </summary>
public sealed class UcxPeer
{
    private volatile string? _failure;

    internal UcxPeer(UcxNode owner, long localId, string name, string addressKey)
    {
        Owner = owner;
        LocalId = localId;
        Name = name;
        AddressKey = addressKey;
    }

    /// <summary>The name given at connect time (or node-… for a peer that connected to this node first).</summary>
    public string Name { get; }

    /// <summary>True once UCX reported the endpoint failed or the node closed it.</summary>
    public bool IsFailed => _failure is not null;

    /// <summary>Why the peer failed (UCX's status text), or null.</summary>
    public string? Failure => _failure;

    /// <inheritdoc />
    public override string ToString() => Name;

    internal UcxNode Owner { get; }

    internal long LocalId { get; }

    internal string AddressKey { get; }

    /// <summary>The remote node's id, learned from its hello (0 until then).</summary>
    internal ulong NodeId { get; set; }

    internal UcpEndpointHandle? Endpoint { get; set; }

    internal void MarkFailed(string reason) => _failure ??= reason;
}
