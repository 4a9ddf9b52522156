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
        var command = new Command("experts", "Which silo holds which expert, and the tokens routed to each (GET /cluster/experts)") { url, layer, json, CreateRebalance(), ExpertsBiasCommand.Create() };
        command.SetAction((p, ct) =>
        {
            string path = p.GetValue(layer) is int l ? string.Create(CultureInfo.InvariantCulture, $"cluster/experts?layer={l}") : "cluster/experts";
            return RunAsync(p.GetValue(url)!, path, p.GetValue(json), RenderExperts, Console.Out, Console.Error, ct);
        });
        return command;
    }

    /// <summary>`r1 experts rebalance`: plans a placement for the measured expert load now and hot-swaps it (POST /cluster/experts/rebalance).</summary>
    private static Command CreateRebalance()
    {
        Option<string> url = HttpOptions.Url();
        var json = new Option<bool>("--json") { Description = "Print the silo's JSON as is" };
        var command = new Command("rebalance", "Plan a placement for the measured expert load now and hot-swap it (POST /cluster/experts/rebalance)") { url, json };
        command.SetAction((p, ct) => HttpOptions.Guard(Console.Error, async () =>
        {
            using var client = new OpenAiClient(p.GetValue(url)!, null);
            string body = await client.PostStringAsync("../cluster/experts/rebalance", ct).ConfigureAwait(false);
            if (p.GetValue(json))
            {
                Console.Out.WriteLine(body.Trim());
                return 0;
            }

            using JsonDocument doc = JsonDocument.Parse(body);
            RenderRebalance(doc.RootElement, Console.Out);
            return 0;
        }));
        return command;
    }

    /// <summary>A rebalance's outcome as one line, with the predicted imbalance before and after.</summary>
    public static void RenderRebalance(JsonElement report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        string Figure(string name) => report.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble().ToString("0.###", CultureInfo.InvariantCulture)
            : "n/a";
        output.WriteLine($"{report.GetProperty("outcome").GetString()}; predicted load imbalance (max/mean by silo) {Figure("currentImbalance")} -> {Figure("plannedImbalance")}, {report.GetProperty("layersChanged").GetInt32()} layers changed");
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
        if (MembershipStoreLine(status) is { } store)
        {
            output.WriteLine(store);
        }

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
                    e.TryGetProperty("tokensByReplica", out JsonElement byReplica) && byReplica.ValueKind == JsonValueKind.Array
                        ? string.Join("/", byReplica.EnumerateArray().Select(t => t.GetInt64().ToString(CultureInfo.InvariantCulture)))
                        : "",
                ]);
            }
        }

        TextTable.Write(output, ["layer", "expert", "holders (replica 0 first)", "tokens routed", "by replica"], rows);
    }

    /// <summary>
    /// The membership table's store in one line, e.g. "membership store: redis 127.0.0.1:6379 UNREACHABLE since
    /// 12:00:01 (3 s): ...; the silos keep serving, none can join or be evicted"; null with localhost clustering.
    /// </summary>
    public static string? MembershipStoreLine(JsonElement status, DateTimeOffset? now = null)
    {
        if (!status.TryGetProperty("membershipStore", out JsonElement m) || m.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        string store = m.GetProperty("store").GetString() ?? "";
        string persistence = m.GetProperty("persistence").GetString() switch
        {
            "appendonly" => "persistent (appendonly)",
            "none" => "NOT persistent (appendonly no: a restart loses the table; run redis-server --appendonly yes)",
            _ => "persistence unknown",
        };
        long restores = m.GetProperty("tableRestores").GetInt64();
        string restored = restores > 0 ? string.Create(CultureInfo.InvariantCulture, $"; table written back {restores} times after Redis lost it") : "";
        if (m.GetProperty("reachable").GetBoolean())
        {
            return $"membership store: {store} reachable, {persistence}{restored}";
        }

        string since = "";
        if (m.TryGetProperty("unreachableSince", out JsonElement s) && s.ValueKind == JsonValueKind.String && s.TryGetDateTimeOffset(out DateTimeOffset at))
        {
            double seconds = Math.Max(0, ((now ?? DateTimeOffset.UtcNow) - at).TotalSeconds);
            since = string.Create(CultureInfo.InvariantCulture, $" since {at.ToUniversalTime():HH:mm:ss} UTC ({seconds:0} s)");
        }

        string error = m.TryGetProperty("error", out JsonElement e) && e.ValueKind == JsonValueKind.String ? $": {e.GetString()}" : "";
        return $"membership store: {store} UNREACHABLE{since}{error}; the silos keep serving from the membership they hold, none can join or be evicted{restored}";
    }

    private static long? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;
}
