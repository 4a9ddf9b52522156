using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace R1Orleans.Client.Http;

/// <summary>
/// `r1 experts bias`: bias mode on a cluster (silos started with --online-bias), from the load balancer's report
/// (GET /cluster/balancer): the gate-bias version pushed, its updates, and per MoE layer the expert imbalance (max/mean
/// routed tokens over the cluster) of the first update's window and of the latest, with the drift from the checkpoint.
/// </summary>
public static class ExpertsBiasCommand
{
    public static Command Create()
    {
        Option<string> url = HttpOptions.Url();
        var json = new Option<bool>("--json") { Description = "Print the silo's JSON as is" };
        var command = new Command("bias", "Bias mode's gate bias on the cluster: version, expert imbalance before and after, drift (GET /cluster/balancer)") { url, json };
        command.SetAction((p, ct) => ClusterCommand.RunAsync(p.GetValue(url)!, "cluster/balancer", p.GetValue(json), Render, Console.Out, Console.Error, ct));
        return command;
    }

    public static void Render(JsonElement balancer, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!balancer.TryGetProperty("bias", out JsonElement bias) || bias.ValueKind != JsonValueKind.Object)
        {
            output.WriteLine("bias mode is off: the cluster routes with the checkpoint's e_score_correction_bias (start the silos with --online-bias to turn it on)");
            return;
        }

        string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
        output.WriteLine($"gate bias v{bias.GetProperty("version").GetInt64()} after {bias.GetProperty("updates").GetInt64()} updates (γ {F(bias.GetProperty("gamma").GetDouble())}, max drift {F(bias.GetProperty("maxDrift").GetDouble())})");
        string[] pushed = [.. bias.GetProperty("pushedTo").EnumerateArray().Select(e => e.GetString() ?? "")];
        string[] failed = [.. bias.GetProperty("pushFailed").EnumerateArray().Select(e => e.GetString() ?? "")];
        output.WriteLine($"last push reached {pushed.Length} silo(s){(failed.Length > 0 ? $"; missed {string.Join(", ", failed)}" : "")}");
        JsonElement first = bias.GetProperty("imbalanceFirstWindow"), last = bias.GetProperty("imbalanceLastWindow"), drift = bias.GetProperty("drift");
        output.WriteLine("layer  imbalance first -> last (max/mean)  drift");
        foreach (JsonProperty layer in drift.EnumerateObject().OrderBy(p => int.Parse(p.Name, CultureInfo.InvariantCulture)))
        {
            string Of(JsonElement o) => o.TryGetProperty(layer.Name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? F(v.GetDouble()) : "n/a";
            output.WriteLine($"{layer.Name,5}  {Of(first),15} -> {Of(last),-18}  {F(layer.Value.GetDouble())}");
        }
    }
}
