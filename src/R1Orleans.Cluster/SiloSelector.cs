namespace R1Orleans.Cluster;

/// <summary>
/// Finds the one member a user means by a name (<c>r1 cluster drain SILO</c>, the chaos harness's faults): the silo's
/// address as <c>/cluster/status</c> shows it, its node name when only one silo runs on that node, or a part of the
/// address that matches exactly one member (e.g. <c>127.0.0.1:11112</c>).
/// </summary>
public static class SiloSelector
{
    /// <summary>The member's silo address; <see cref="ArgumentException"/> naming the members when none or several match.</summary>
    public static string Resolve(string name, IReadOnlyCollection<(string Silo, string Node)> members)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(members);
        string wanted = name.Trim();
        (string Silo, string Node)[] exact = [.. members.Where(m => string.Equals(m.Silo, wanted, StringComparison.Ordinal))];
        if (exact.Length == 1)
        {
            return exact[0].Silo;
        }

        (string Silo, string Node)[] byNode = [.. members.Where(m => string.Equals(m.Node, wanted, StringComparison.Ordinal))];
        if (byNode.Length == 1)
        {
            return byNode[0].Silo;
        }

        (string Silo, string Node)[] partial = byNode.Length > 1 ? byNode : [.. members.Where(m => m.Silo.Contains(wanted, StringComparison.Ordinal))];
        return partial.Length switch
        {
            1 => partial[0].Silo,
            0 => throw new ArgumentException($"no member of the cluster is '{wanted}'; members: {List(members)}", nameof(name)),
            _ => throw new ArgumentException($"'{wanted}' matches {partial.Length} members ({List(partial)}): give the silo's full address", nameof(name)),
        };
    }

    private static string List(IEnumerable<(string Silo, string Node)> members)
    {
        string list = string.Join(", ", members.Select(m => $"{m.Silo} (node {m.Node})"));
        return list.Length == 0 ? "none" : list;
    }
}
