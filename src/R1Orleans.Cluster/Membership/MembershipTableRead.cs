namespace R1Orleans.Cluster.Membership;

/// <summary>
/// One read of the membership table as stored (Orleans' Redis provider: one hash, a <c>Version</c> field and one field
/// per silo, keyed by its address, holding its entry as the provider wrote it).
/// </summary>
/// <param name="Version">The table version; null when the field is gone (the store restarted without its data, or was flushed).</param>
/// <param name="Rows">Each silo's row: its address (<c>SiloAddress.ToString()</c>) and its stored value, kept verbatim.</param>
public sealed record MembershipTableRead(long? Version, IReadOnlyDictionary<string, string> Rows);

/// <summary>What to write back: every row in <see cref="Rows"/> that is absent, and a table version of at least <see cref="MinimumVersion"/>.</summary>
public sealed record MembershipTableRestore(long MinimumVersion, IReadOnlyDictionary<string, string> Rows);
