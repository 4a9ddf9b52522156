namespace R1Orleans.Cluster.Tests;

/// <summary>How `r1 cluster drain SILO` and the chaos harness's faults find the member a name means.</summary>
public sealed class SiloSelectorTests
{
    private static readonly (string Silo, string Node)[] s_members =
    [
        ("S127.0.0.1:30001:500", "s0"),
        ("S127.0.0.1:30002:501", "s1"),
        ("S127.0.0.1:30003:502", "gpu-host"),
        ("S127.0.0.1:30004:503", "gpu-host"),
    ];

    [Theory]
    [InlineData("S127.0.0.1:30002:501", "S127.0.0.1:30002:501")]
    [InlineData("s1", "S127.0.0.1:30002:501")]
    [InlineData("127.0.0.1:30003", "S127.0.0.1:30003:502")]
    [InlineData(" s0 ", "S127.0.0.1:30001:500")]
    public void A_full_address_a_node_with_one_silo_or_a_unique_part_of_an_address_names_one_member(string name, string expected) =>
        Assert.Equal(expected, SiloSelector.Resolve(name, s_members));

    [Fact]
    public void A_node_with_two_silos_is_ambiguous_and_the_error_lists_both()
    {
        var e = Assert.Throws<ArgumentException>(() => SiloSelector.Resolve("gpu-host", s_members));
        Assert.Contains("matches 2 members", e.Message, StringComparison.Ordinal);
        Assert.Contains("S127.0.0.1:30003:502", e.Message, StringComparison.Ordinal);
        Assert.Contains("S127.0.0.1:30004:503", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_name_is_refused_with_the_members_listed()
    {
        var e = Assert.Throws<ArgumentException>(() => SiloSelector.Resolve("s9", s_members));
        Assert.Contains("no member of the cluster is 's9'", e.Message, StringComparison.Ordinal);
        Assert.Contains("S127.0.0.1:30001:500 (node s0)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_part_shared_by_several_addresses_is_ambiguous() =>
        Assert.Contains("matches 4 members", Assert.Throws<ArgumentException>(() => SiloSelector.Resolve("127.0.0.1", s_members)).Message, StringComparison.Ordinal);
}
