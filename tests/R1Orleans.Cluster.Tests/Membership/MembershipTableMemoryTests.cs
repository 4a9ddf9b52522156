using System.Text.Json;
using R1Orleans.Cluster.Membership;

namespace R1Orleans.Cluster.Tests.Membership;

/// <summary>
/// When a silo writes the membership table back (Redis came back without its data), which rows and which version:
/// every live member's row as last seen, a version past any seen; nothing while the table is whole; a dead silo's row never.
/// </summary>
public sealed class MembershipTableMemoryTests
{
    private const string A = "S127.0.0.1:11111:1";
    private const string B = "S127.0.0.1:11112:2";
    private const string C = "S127.0.0.1:11113:3";

    [Fact]
    public void A_whole_table_needs_nothing_written_back()
    {
        var memory = new MembershipTableMemory();
        Assert.Null(memory.Observe(Table(7, (A, "a"), (B, "b")), Active(A, B), viewVersion: 7));
        Assert.Null(memory.Observe(Table(8, (A, "a2"), (B, "b")), Active(A, B), viewVersion: 8));
    }

    [Fact]
    public void A_table_gone_is_written_back_with_every_live_members_last_row_and_a_version_past_any_seen()
    {
        var memory = new MembershipTableMemory();
        _ = memory.Observe(Table(7, (A, "a"), (B, "b")), Active(A, B), viewVersion: 6);
        _ = memory.Observe(Table(9, (A, "a-newer"), (B, "b")), Active(A, B), viewVersion: 9);

        MembershipTableRestore? restore = memory.Observe(new MembershipTableRead(null, new Dictionary<string, string>()), Active(A, B), viewVersion: 11);

        Assert.NotNull(restore);
        Assert.Equal(new Dictionary<string, string> { [A] = "a-newer", [B] = "b" }, restore.Rows);
        Assert.Equal(11 + MembershipTableMemory.VersionMargin, restore.MinimumVersion);
    }

    [Fact]
    public void A_fresh_table_made_by_a_new_silo_gets_the_old_members_rows_added_and_keeps_the_new_silos()
    {
        var memory = new MembershipTableMemory();
        _ = memory.Observe(Table(20, (A, "a"), (B, "b")), Active(A, B), viewVersion: 20);

        // Redis came back empty and silo C started first: its table is at version 2 and holds only C.
        MembershipTableRestore? restore = memory.Observe(Table(2, (C, "c")), Active(A, B), viewVersion: 20);

        Assert.NotNull(restore);
        Assert.Equal(new Dictionary<string, string> { [A] = "a", [B] = "b" }, restore.Rows);
        Assert.True(restore.MinimumVersion > 20);
    }

    [Fact]
    public void A_silo_no_longer_active_is_not_brought_back()
    {
        var memory = new MembershipTableMemory();
        _ = memory.Observe(Table(5, (A, "a"), (B, "b"), (C, "c")), Active(A, B, C), viewVersion: 5);

        // C was declared dead meanwhile (this silo's view no longer lists it as active), then the table was lost.
        MembershipTableRestore? restore = memory.Observe(new MembershipTableRead(null, new Dictionary<string, string>()), Active(A, B), viewVersion: 6);

        Assert.NotNull(restore);
        Assert.Equal([A, B], restore.Rows.Keys.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(C, memory.Rows.Keys);
    }

    [Fact]
    public void A_live_members_row_lost_while_the_version_stayed_is_written_back()
    {
        var memory = new MembershipTableMemory();
        _ = memory.Observe(Table(5, (A, "a"), (B, "b")), Active(A, B), viewVersion: 5);

        MembershipTableRestore? restore = memory.Observe(Table(5, (A, "a")), Active(A, B), viewVersion: 5);

        Assert.NotNull(restore);
        Assert.Equal(new Dictionary<string, string> { [B] = "b" }, restore.Rows);
    }

    [Fact]
    public void A_member_this_silo_never_saw_a_row_of_is_left_to_write_its_own()
    {
        var memory = new MembershipTableMemory();
        _ = memory.Observe(Table(5, (A, "a")), Active(A), viewVersion: 5);

        // B joined and became active in the view, but the table was lost before this silo read B's row.
        MembershipTableRestore? restore = memory.Observe(new MembershipTableRead(null, new Dictionary<string, string>()), Active(A, B), viewVersion: 7);

        Assert.NotNull(restore);
        Assert.Equal([A], restore.Rows.Keys);
    }

    [Fact]
    public void A_member_last_read_while_joining_is_written_back_as_active_as_this_silo_sees_it()
    {
        var memory = new MembershipTableMemory();
        _ = memory.Observe(Table(5, (A, Row(A, status: 3)), (B, Row(B, status: 2))), Active(A), viewVersion: 5);

        // B became active (this silo's view says so), then the table was lost before this silo read B's row again.
        MembershipTableRestore? restore = memory.Observe(new MembershipTableRead(null, new Dictionary<string, string>()), Active(A, B), viewVersion: 7);

        Assert.NotNull(restore);
        Assert.Equal(3, Status(restore.Rows[B]));
        Assert.Equal(3, Status(restore.Rows[A]));
        using JsonDocument b = JsonDocument.Parse(restore.Rows[B]);
        Assert.Equal("2026-12-05T02:55:00.123+00:00", b.RootElement.GetProperty("StartTime").GetString());
        Assert.Equal(B, b.RootElement.GetProperty("SiloAddress").GetString());
    }

    /// <summary>A row as Orleans' Redis provider (10.4.2) writes a MembershipEntry: Newtonsoft JSON, the status as a number.</summary>
    private static string Row(string silo, int status) =>
        $$"""{"SiloAddress":"{{silo}}","HostName":"host","Status":{{status}},"ProxyPort":30000,"RoleName":"r1-silo","SiloName":"{{silo}}","UpdateZone":0,"FaultZone":0,"StartTime":"2026-12-05T02:55:00.123+00:00","IAmAliveTime":"2026-12-05T02:55:01.5+00:00","SuspectTimes":[]}""";

    private static int Status(string row)
    {
        using JsonDocument entry = JsonDocument.Parse(row);
        return entry.RootElement.GetProperty("Status").GetInt32();
    }

    private static MembershipTableRead Table(long version, params (string Silo, string Row)[] rows) =>
        new(version, rows.ToDictionary(r => r.Silo, r => r.Row, StringComparer.Ordinal));

    private static HashSet<string> Active(params string[] silos) => new(silos, StringComparer.Ordinal);
}
