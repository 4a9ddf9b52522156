namespace R1Orleans.Placement;

/// <summary>
/// A machine's identity (the silo's --node). Several silos may share one node; the per-token node limit counts nodes.
/// </summary>
public readonly record struct NodeName : IComparable<NodeName>
{
    public NodeName(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        Value = value;
    }

    public string Value { get; }

    public int CompareTo(NodeName other) => string.CompareOrdinal(Value, other.Value);

    public override string ToString() => Value;
}
