using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace R1Orleans.Client.Http;

/// <summary>
/// `r1 cluster status`: the cluster a silo belongs to (its /cluster/status): members, nodes, the committed placement
/// version, the experts each silo holds in it, and this rank's exchange figures. `r1 experts`: who holds which expert
/// (/cluster/experts), with the tokens the asked silo's rank routed to each.
/// </summary>
public static class ClusterCommand
{
    public static Command Create()
    {
        Option<string> url = HttpOptions.Url();
        var json = new Option<bool>("--json") { Description = "Print the silo's JSON as is" };
        var status = new Command("status", "Members, nodes, placement version and experts per silo (GET /cluster/status)") { url, json };
        status.SetAction((p, ct) => RunAsync(p.GetValue(url)!, "cluster/status", p.GetValue(json), RenderStatus, Console.Out, Console.Error, ct));
        return new Command("cluster", "The cluster a silo belongs to") { status, ClusterDrainCommand.Create() };
    }

    public static Command CreateExperts()
    {
        Option<string> url = HttpOptions.Url();
        var json = new Option<bool>("--json") { Description = "Print the silo's JSON as is" };
        var layer = new Option<int?>("--layer") { Description = "Only this MoE layer" };
        var command = new Command("experts", "Which silo holds which expert, and the tokens routed to each (GET /cluster/experts)") { url, layer, json };
        command.SetAction((p, ct) =>
        {
            string path = p.GetValue(layer) is int l ? string.Create(CultureInfo.InvariantCulture, $"cluster/experts?layer={l}") : "cluster/experts";
            return RunAsync(p.GetValue(url)!, path, p.GetValue(json), RenderExperts, Console.Out, Console.Error, ct);
        });
        return command;
    }

    public static Task<int> RunAsync(string url, string path, bool json, Action<JsonElement, TextWriter> render, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        HttpOptions.Guard(error, async () =>
        {
            ArgumentNullException.ThrowIfNull(render);
            using var client = new OpenAiClient(url, null);
            string body = await client.GetStringAsync("../" + path, cancellationToken).ConfigureAwait(false);
            if (json)
            {
                output.WriteLine(body.Trim());
                return 0;
            }

            using JsonDocument doc = JsonDocument.Parse(body);
            render(doc.RootElement, output);
            return 0;
        });

    /// <summary>The status as text: a line of placement facts, then a table of silos.</summary>
    public static void RenderStatus(JsonElement status, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        string version = Number(status, "version") is { } v ? $"v{v} (epoch {Number(status, "epoch")})" : "none committed";
        string pending = Number(status, "pendingVersion") is { } p ? $", v{p} loading" : "";
        output.WriteLine($"placement {version}{pending}; experts covered: {(status.GetProperty("expertsCovered").GetBoolean() ? "yes" : "no")}");
        JsonElement[] silos = [.. status.GetProperty("silos").EnumerateArray()];
        TextTable.Write(output, ["silo", "node", "experts", "running", "waiting", "finished", "dispatch sent", ""], [.. silos.Select(s =>
        {
            // A silo whose rank did not answer shows "?" (it may be loading, paused or gone).
            JsonElement rank = s.TryGetProperty("rank", out JsonElement r) && r.ValueKind == JsonValueKind.Object ? r : default;
            string Of(string name) => rank.ValueKind == JsonValueKind.Object ? rank.GetProperty(name).GetInt64().ToString(CultureInfo.InvariantCulture) : "?";
            return new[]
            {
                s.GetProperty("silo").GetString() ?? "",
                s.GetProperty("node").GetString() ?? "",
                s.GetProperty("expertsPlaced").GetInt32().ToString(CultureInfo.InvariantCulture),
                Of("running"),
                Of("waiting"),
                Of("finished"),
                rank.ValueKind == JsonValueKind.Object ? $"{Of("dispatchSentBytes")} B" : "?",
                s.GetProperty("thisSilo").GetBoolean() ? "(this silo)" : "",
            };
        })]);
        if (status.TryGetProperty("thisSiloExchange", out JsonElement e) && e.ValueKind == JsonValueKind.Object)
        {
            long messages = e.GetProperty("sentMessages").GetInt64();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"this rank: {messages} requests to other silos, {e.GetProperty("sentBytes").GetInt64()} bytes, mean reply {e.GetProperty("meanReplyMicroseconds").GetDouble():0} µs, {e.GetProperty("nodeLimitViolations").GetInt64()} node-limit violations; its holder ran {e.GetProperty("tokensRunHere").GetInt64()} token-experts"));
        }
    }

    /// <summary>The experts as text: one row per (layer, expert).</summary>
    public static void RenderExperts(JsonElement experts, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (Number(experts, "version") is not { } v)
        {
            output.WriteLine("no placement is committed yet");
            return;
        }

        output.WriteLine($"placement v{v} (epoch {Number(experts, "epoch")})");
        var rows = new List<string[]>();
        foreach (JsonElement layer in experts.GetProperty("layers").EnumerateArray())
        {
            foreach (JsonElement e in layer.GetProperty("experts").EnumerateArray())
            {
                rows.Add(
                [
                    layer.GetProperty("layer").GetInt32().ToString(CultureInfo.InvariantCulture),
                    e.GetProperty("expert").GetInt32().ToString(CultureInfo.InvariantCulture),
                    string.Join(" ", e.GetProperty("holders").EnumerateArray().Select(h => h.GetString())),
                    e.GetProperty("tokensRoutedHere").GetInt64().ToString(CultureInfo.InvariantCulture),
                ]);
            }
        }

        TextTable.Write(output, ["layer", "expert", "holders (replica 0 first)", "tokens routed"], rows);
    }

    private static long? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;
}
