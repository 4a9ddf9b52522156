namespace R1Orleans.Placement.Balancing;

/// <summary>EPLB's two policies (DeepSeek's expert-parallelism load balancer).</summary>
public enum EplbPolicy
{
    /// <summary>
    /// Groups packed to nodes by load (a group's experts, every copy of them, on one node: the gate's group limit stays
    /// the node limit), then hot experts replicated within their node, then physical experts packed to the node's
    /// silos. Needs n_group &gt; 1 and at least as many groups as nodes; otherwise the planner falls back to
    /// <see cref="Global"/>, as EPLB does.
    /// </summary>
    Hierarchical,

    /// <summary>
    /// Experts replicated over every slot of the cluster, then packed to silos ignoring groups and nodes. With a minimum
    /// of copies above one (--expert-replicas), single experts are packed to nodes first (their copies on distinct
    /// nodes), as <see cref="Hierarchical"/> packs groups, then replicated and packed within each node.
    /// </summary>
    Global,
}
