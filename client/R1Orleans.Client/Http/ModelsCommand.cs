using System.CommandLine;
using System.Globalization;

namespace R1Orleans.Client.Http;

/// <summary>`r1 models`: what /v1/models lists.</summary>
public static class ModelsCommand
{
    public static Command Create()
    {
        Option<string> url = HttpOptions.Url();
        Option<string?> apiKey = HttpOptions.ApiKey();
        var json = new Option<bool>("--json") { Description = "Print the server's JSON as is" };
        var command = new Command("models", "List the models of an OpenAI-compatible server") { url, apiKey, json };
        command.SetAction((p, ct) => RunAsync(p.GetValue(url)!, OpenAiClient.ResolveApiKey(p.GetValue(apiKey)), p.GetValue(json), Console.Out, Console.Error, ct));
        return command;
    }

    public static Task<int> RunAsync(string url, string? apiKey, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        HttpOptions.Guard(error, async () =>
        {
            using var client = new OpenAiClient(url, apiKey);
            string body = await client.GetStringAsync("models", cancellationToken).ConfigureAwait(false);
            if (json)
            {
                output.WriteLine(body.Trim());
                return 0;
            }

            IReadOnlyList<ModelInfo> models = OpenAiClient.ParseModels(body);
            if (models.Count == 0)
            {
                error.WriteLine($"{client.BaseUri}models lists no models");
                return 1;
            }

            TextTable.Write(output, ["id", "owned by", "created"], models.Select(m => new[]
            {
                m.Id,
                m.OwnedBy ?? "-",
                m.Created is long t and > 0 and < 253_402_300_800 ? DateTimeOffset.FromUnixTimeSeconds(t).ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) : "-",
            }).ToList());
            return 0;
        });
}
