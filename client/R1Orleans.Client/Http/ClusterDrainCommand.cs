using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace R1Orleans.Client.Http;

/// <summary>
/// `r1 cluster drain SILO`: drains one member as SIGTERM does (POST /cluster/drain on any silo): its rank takes no new
/// requests and hands its running ones to other ranks, its experts are placed elsewhere, then the process exits. Shows
/// the drain's progress from /cluster/status until the silo has left (or --timeout passes: exit code 1).
/// </summary>
public static class ClusterDrainCommand
{
    public static Command Create()
    {
        Option<string> url = HttpOptions.Url();
        var silo = new Argument<string>("silo") { Description = "The silo to drain: its address as `r1 cluster status` shows it, a unique part of it, or its node name" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the silo to leave", DefaultValueFactory = _ => 60 };
        var noWait = new Option<bool>("--no-wait") { Description = "Return once the drain has begun" };
        var command = new Command("drain", "Drain a silo as SIGTERM does: requests move to other ranks, experts are placed elsewhere, it exits") { url, silo, timeout, noWait };
        command.SetAction((p, ct) => RunAsync(
            p.GetValue(url)!, p.GetValue(silo)!, p.GetValue(noWait) ? TimeSpan.Zero : TimeSpan.FromSeconds(p.GetValue(timeout)), Console.Out, Console.Error, ct));
        return command;
    }

    public static Task<int> RunAsync(string url, string silo, TimeSpan wait, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        HttpOptions.Guard(error, async () =>
        {
            ArgumentNullException.ThrowIfNull(output);
            using var client = new OpenAiClient(url, null);
            string reply = await client.PostStringAsync("../cluster/drain?silo=" + Uri.EscapeDataString(silo), cancellationToken).ConfigureAwait(false);
            string target;
            using (JsonDocument doc = JsonDocument.Parse(reply))
            {
                target = doc.RootElement.GetProperty("silo").GetString() ?? silo;
                output.WriteLine(doc.RootElement.GetProperty("message").GetString());
            }

            if (wait <= TimeSpan.Zero)
            {
                return 0;
            }

            var clock = Stopwatch.StartNew();
            string? last = null;
            while (clock.Elapsed < wait)
            {
                string? state = await StateAsync(client, target, cancellationToken).ConfigureAwait(false);
                if (state is null)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,5:0.0} s  {target} has left the cluster"));
                    return 0;
                }

                if (state != last)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,5:0.0} s  {state}"));
                    last = state;
                }

                await Task.Delay(250, cancellationToken).ConfigureAwait(false);
            }

            error.WriteLine($"error: {target} had not left the cluster after {wait.TotalSeconds:0} s ({last})");
            return 1;
        });

    /// <summary>The silo's drain state from /cluster/status, or null once it has gone (Orleans says Dead, or no longer lists it).</summary>
    private static async Task<string?> StateAsync(OpenAiClient client, string silo, CancellationToken cancellationToken)
    {
        string body = await client.GetStringAsync("../cluster/status", cancellationToken).ConfigureAwait(false);
        using JsonDocument doc = JsonDocument.Parse(body);
        string placement = "not in the placement directory (its experts are being placed elsewhere)";
        foreach (JsonElement s in doc.RootElement.GetProperty("silos").EnumerateArray())
        {
            if (s.GetProperty("silo").GetString() == silo)
            {
                string requests = s.TryGetProperty("rank", out JsonElement r) && r.ValueKind == JsonValueKind.Object
                    ? string.Create(CultureInfo.InvariantCulture, $"{r.GetProperty("running").GetInt32()} running, {r.GetProperty("waiting").GetInt32()} waiting")
                    : "its rank does not answer";
                placement = string.Create(CultureInfo.InvariantCulture, $"{s.GetProperty("expertsPlaced").GetInt32()} experts placed on it, {requests}");
            }
        }

        string? status = null;
        if (doc.RootElement.TryGetProperty("membership", out JsonElement members) && members.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement m in members.EnumerateArray())
            {
                if (m.GetProperty("silo").GetString() == silo)
                {
                    status = m.GetProperty("status").GetString();
                }
            }

            if (status is null or "Dead")
            {
                return null;
            }
        }

        return $"{silo}: {status ?? "?"}; {placement}";
    }
}
