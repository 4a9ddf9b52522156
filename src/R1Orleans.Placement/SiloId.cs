namespace R1Orleans.Placement;

/// <summary>
/// One silo's identity, an opaque address-like key (for example Orleans' "S127.0.0.1:11111:…"). Compared ordinally.
/// </summary>
public readonly record struct SiloId : IComparable<SiloId>
{
    public SiloId(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        Value = value;
    }

    public string Value { get; }

    public int CompareTo(SiloId other) => string.CompareOrdinal(Value, other.Value);

    public override string ToString() => Value;
}
