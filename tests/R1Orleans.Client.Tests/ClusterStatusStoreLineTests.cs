using System.Text.Json;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

/// <summary>`r1 cluster status` says plainly whether the membership table's Redis answers, keeps its data, and was rebuilt.</summary>
public sealed class ClusterStatusStoreLineTests
{
    private const string Silos = "\"silos\":[],\"version\":null,\"epoch\":null,\"pendingVersion\":null,\"expertsCovered\":false";

    [Fact]
    public void An_unreachable_store_is_named_with_since_when_and_why_and_what_it_means_for_the_cluster()
    {
        using JsonDocument status = JsonDocument.Parse("{" + Silos + """
            ,"membershipStore":{"store":"redis 127.0.0.1:6379","reachable":false,"unreachableSince":"2026-12-04T12:00:01+00:00",
              "error":"No connection is active/available","persistence":"appendonly","tableRestores":0,"lastRestore":null,"state":"unreachable"}}
            """);

        string? line = ClusterCommand.MembershipStoreLine(status.RootElement, DateTimeOffset.Parse("2026-12-04T12:00:31+00:00", System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal("membership store: redis 127.0.0.1:6379 UNREACHABLE since 12:00:01 UTC (30 s): No connection is active/available; "
            + "the silos keep serving from the membership they hold, none can join or be evicted", line);
        var text = new StringWriter();
        ClusterCommand.RenderStatus(status.RootElement, text);
        Assert.Contains("UNREACHABLE since 12:00:01 UTC", text.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_reachable_store_without_persistence_says_how_to_fix_it_and_counts_the_rebuilds()
    {
        using JsonDocument status = JsonDocument.Parse("{" + Silos + """
            ,"membershipStore":{"store":"redis 127.0.0.1:6379","reachable":true,"unreachableSince":null,"error":null,
              "persistence":"none","tableRestores":2,"lastRestore":"2026-12-04T12:00:05+00:00","state":"reachable"}}
            """);

        Assert.Equal("membership store: redis 127.0.0.1:6379 reachable, NOT persistent (appendonly no: a restart loses the table; "
            + "run redis-server --appendonly yes); table written back 2 times after Redis lost it", ClusterCommand.MembershipStoreLine(status.RootElement));
    }

    [Fact]
    public void A_silo_without_a_membership_store_prints_no_store_line()
    {
        using JsonDocument status = JsonDocument.Parse("{" + Silos + "}");
        Assert.Null(ClusterCommand.MembershipStoreLine(status.RootElement));
    }
}
