using System.Text.Json;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

/// <summary>`r1 experts bias` renders the load balancer's bias report per layer, and says plainly when bias mode is off.</summary>
public sealed class ExpertsBiasCommandTests
{
    [Fact]
    public void The_bias_report_is_shown_per_layer_with_imbalance_before_and_after_and_drift()
    {
        const string Json = """
            {"windowsTaken":12,"bias":{"version":7,"updates":7,"gamma":0.001,"maxDrift":0.02,
             "imbalanceFirstWindow":{"1":3.5,"2":2.25},"imbalanceLastWindow":{"1":2.75},"lastWindowTokens":{"1":400},
             "drift":{"2":0.004,"1":0.007},"pushedTo":["a","b"],"pushFailed":["c"]}}
            """;
        using JsonDocument doc = JsonDocument.Parse(Json);
        var output = new StringWriter();
        ExpertsBiasCommand.Render(doc.RootElement, output);
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        Assert.Equal("gate bias v7 after 7 updates (γ 0.001, max drift 0.02)", lines[0]);
        Assert.Equal("last push reached 2 silo(s); missed c", lines[1]);
        Assert.Matches(@"^1\s+3\.5 -> 2\.75\s+0\.007$", lines[3]);
        Assert.Matches(@"^2\s+2\.25 -> n/a\s+0\.004$", lines[4]);
    }

    [Fact]
    public void Without_bias_mode_it_says_the_checkpoint_bias_routes()
    {
        using JsonDocument doc = JsonDocument.Parse("""{"windowsTaken":3,"bias":null}""");
        var output = new StringWriter();
        ExpertsBiasCommand.Render(doc.RootElement, output);
        Assert.StartsWith("bias mode is off", output.ToString(), StringComparison.Ordinal);
    }
}
