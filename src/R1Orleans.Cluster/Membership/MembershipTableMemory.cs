using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orleans.Runtime;

namespace R1Orleans.Cluster.Membership;

/// <summary>
/// Remembers the membership table a silo last saw, and decides when it must be written back: when the table is gone
/// (a store restarted without persistence, or flushed) or a silo this silo sees as active lost its row.
/// </summary>
/// <remarks>
/// Why every live row, not only the silo's own, and why a higher version (Orleans 10.4.2, read from its source): a silo
/// that reads a table newer than the one it holds and finds its own row missing declares itself dead and stops; one
/// that reads a table older than the one it holds keeps its old view and counts the silos new to it as dead. So the
/// first silo to notice writes back, in one step, the rows of every member it sees as active, and a version above any
/// any of them can hold (<see cref="VersionMargin"/> over the highest it saw); rows already there are left alone, so
/// the others, doing the same a moment later, change nothing. A silo that started meanwhile and created a fresh table
/// keeps its row, and the table it sees then lists the old members too: one cluster, never two.
/// A row goes back with the status this silo's view gives it (active), not the status last read: a silo that became
/// active just after the last read would otherwise come back as joining, and stay so (its own writes only touch its
/// I-am-alive time) while the others stop routing to it.
/// </remarks>
public sealed class MembershipTableMemory
{
    /// <summary>How far the restored version goes past the highest version seen (other silos may have seen a few more writes).</summary>
    public const long VersionMargin = 16;

    private readonly Dictionary<string, string> _rows = new(StringComparer.Ordinal);
    private long _highestVersion;

    /// <summary>The rows remembered, by silo address.</summary>
    public IReadOnlyDictionary<string, string> Rows => _rows;

    /// <summary>The highest table version seen (in the store or in the silo's own view).</summary>
    public long HighestVersion => _highestVersion;

    /// <summary>
    /// Takes in a read of the table and the silo's own view of the cluster; returns what to write back, or null when
    /// the table holds every active member's row.
    /// </summary>
    /// <param name="read">What the store holds now.</param>
    /// <param name="activeMembers">The silos this silo's membership view says are active (itself included while it is).</param>
    /// <param name="viewVersion">The table version this silo's membership view holds.</param>
    public MembershipTableRestore? Observe(MembershipTableRead read, IReadOnlySet<string> activeMembers, long viewVersion)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(activeMembers);
        _highestVersion = Math.Max(_highestVersion, Math.Max(read.Version ?? 0, viewVersion));
        foreach ((string silo, string row) in read.Rows)
        {
            _rows[silo] = row;
        }

        // Forget silos that are neither in the table nor active: a dead silo's row is not brought back.
        foreach (string silo in _rows.Keys.Where(s => !read.Rows.ContainsKey(s) && !activeMembers.Contains(s)).ToList())
        {
            _ = _rows.Remove(silo);
        }

        var missing = _rows
            .Where(r => !read.Rows.ContainsKey(r.Key) && activeMembers.Contains(r.Key))
            .ToDictionary(r => r.Key, r => WithStatus(r.Value, SiloStatus.Active), StringComparer.Ordinal);
        if (read.Version is not null && missing.Count == 0)
        {
            return null;
        }

        return new MembershipTableRestore(_highestVersion + VersionMargin, missing);
    }

    /// <summary>
    /// The row with its status set (Orleans' Redis provider writes a <c>MembershipEntry</c> as JSON, the status as the
    /// enum's number); a row that is not such an object is returned as it is.
    /// </summary>
    internal static string WithStatus(string row, SiloStatus status)
    {
        try
        {
            if (JsonNode.Parse(row) is JsonObject entry && entry.ContainsKey(StatusField))
            {
                entry[StatusField] = (int)status;
                return entry.ToJsonString(RowJson);
            }
        }
        catch (JsonException)
        {
        }

        return row;
    }

    private const string StatusField = "Status";

    private static readonly JsonSerializerOptions RowJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
