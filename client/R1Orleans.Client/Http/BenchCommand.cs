using System.CommandLine;
using System.Globalization;

namespace R1Orleans.Client.Http;

/// <summary>
/// `r1 bench`: a load generator for any OpenAI-compatible server. Closed loop (--concurrency) or Poisson arrivals
/// (--request-rate), synthesized prompts, streamed replies; reports throughput and TTFT / ITL / TPOT / E2E percentiles as a
/// table and as JSON.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        Option<string> url = HttpOptions.Url();
        Option<string?> model = HttpOptions.Model();
        Option<string?> apiKey = HttpOptions.ApiKey();
        Option<string> endpoint = HttpOptions.Endpoint("chat");
        var concurrency = new Option<int?>("--concurrency", "-c") { Description = "Requests in flight (closed loop; default 1 without --request-rate; with it, a cap)" };
        concurrency.Validators.Add(r => HttpOptions.Require<int?>(r, v => v is null or >= 1, "--concurrency must be at least 1"));
        var rate = new Option<double?>("--request-rate", "-r") { Description = "Poisson arrivals per second (open loop)" };
        rate.Validators.Add(r => HttpOptions.Require<double?>(r, v => v is null or (> 0 and < double.PositiveInfinity), "--request-rate must be positive"));
        var numRequests = new Option<int>("--num-requests", "-n") { Description = "Measured requests", DefaultValueFactory = _ => 100 };
        numRequests.Validators.Add(r => HttpOptions.Require<int>(r, v => v >= 1, "--num-requests must be at least 1"));
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length in tokens, roughly (synthesized words)", DefaultValueFactory = _ => 128 };
        promptTokens.Validators.Add(r => HttpOptions.Require<int>(r, v => v >= 1, "--prompt-tokens must be at least 1"));
        var distinct = new Option<int?>("--distinct-prompts") { Description = "Only N distinct prompts, repeated (a skewed workload: a few experts run hot); default every prompt differs" };
        distinct.Validators.Add(r => HttpOptions.Require<int?>(r, v => v is null or >= 1, "--distinct-prompts must be at least 1"));
        var outputTokens = new Option<int>("--output-tokens") { Description = "max_tokens of each request (with ignore_eos: exactly this many)", DefaultValueFactory = _ => 128 };
        outputTokens.Validators.Add(r => HttpOptions.Require<int>(r, v => v >= 1, "--output-tokens must be at least 1"));
        var noIgnoreEos = new Option<bool>("--no-ignore-eos") { Description = "Do not send \"ignore_eos\": true (for servers that reject unknown fields)" };
        var warmup = new Option<int>("--warmup") { Description = "Requests sent first and left out of the statistics", DefaultValueFactory = _ => 0 };
        warmup.Validators.Add(r => HttpOptions.Require<int>(r, v => v >= 0, "--warmup must not be negative"));
        var seed = new Option<int>("--seed") { Description = "Seed of the prompts and arrival times", DefaultValueFactory = _ => 0 };
        Option<double?> temperature = HttpOptions.Temperature();
        var timeout = new Option<double>("--timeout") { Description = "Per-request limit in seconds", DefaultValueFactory = _ => 600 };
        timeout.Validators.Add(r => HttpOptions.Require<double>(r, v => v > 0, "--timeout must be positive"));
        var json = new Option<string?>("--json") { Description = "Write the report as JSON to this file" };
        var jsonStdout = new Option<bool>("--json-stdout") { Description = "Print the report as JSON on stdout (the table then goes to stderr)" };
        var perRequest = new Option<bool>("--per-request") { Description = "Include every request's measurements in the JSON" };
        var command = new Command("bench", "Load-test an OpenAI-compatible server: throughput, TTFT, inter-token latency, end-to-end latency")
        {
            url, model, apiKey, endpoint, concurrency, rate, numRequests, promptTokens, distinct, outputTokens, noIgnoreEos, warmup, seed, temperature, timeout,
            json, jsonStdout, perRequest,
        };
        command.SetAction(async (p, ct) =>
        {
            var settings = new BenchSettings
            {
                Url = p.GetValue(url)!,
                ApiKey = OpenAiClient.ResolveApiKey(p.GetValue(apiKey)),
                Model = p.GetValue(model),
                Endpoint = p.GetValue(endpoint) == "completions" ? BenchEndpoint.Completions : BenchEndpoint.Chat,
                Concurrency = p.GetValue(concurrency),
                RequestRate = p.GetValue(rate),
                NumRequests = p.GetValue(numRequests),
                PromptTokens = p.GetValue(promptTokens),
                DistinctPrompts = p.GetValue(distinct),
                OutputTokens = p.GetValue(outputTokens),
                IgnoreEos = !p.GetValue(noIgnoreEos),
                Warmup = p.GetValue(warmup),
                Seed = p.GetValue(seed),
                Temperature = p.GetValue(temperature),
                Timeout = TimeSpan.FromSeconds(p.GetValue(timeout)),
                JsonFile = p.GetValue(json),
                JsonStdout = p.GetValue(jsonStdout),
                PerRequest = p.GetValue(perRequest),
            };
            try
            {
                return await RunAsync(settings, Console.Out, Console.Error, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Console.Error.WriteLine("cancelled");
                return 130;
            }
        });
        return command;
    }

    /// <summary>Runs the benchmark and writes the report; exit code 0 when any request completed, 1 when none did.</summary>
    public static Task<int> RunAsync(BenchSettings s, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        HttpOptions.Guard(error, async () =>
        {
            using var client = new OpenAiClient(s.Url, s.ApiKey);
            string model = await client.ResolveModelAsync(s.Model, cancellationToken).ConfigureAwait(false);
            var options = new BenchOptions
            {
                Model = model,
                Endpoint = s.Endpoint,
                NumRequests = s.NumRequests,
                Warmup = s.Warmup,
                Concurrency = s.Concurrency,
                RequestRate = s.RequestRate,
                PromptTokens = s.PromptTokens,
                DistinctPrompts = s.DistinctPrompts,
                OutputTokens = s.OutputTokens,
                IgnoreEos = s.IgnoreEos,
                Temperature = s.Temperature,
                Seed = s.Seed,
                Timeout = s.Timeout,
            };
            var runner = new BenchRunner(client, options);
            error.WriteLine($"bench: {s.NumRequests} requests (+{s.Warmup} warmup) to {client.BaseUri}{options.Path}, model {model}");
            var progress = new ProgressPrinter(error, s.NumRequests);
            BenchReport report = await runner.RunAsync(progress, cancellationToken).ConfigureAwait(false);
            TextWriter table = s.JsonStdout ? error : output;
            table.WriteLine();
            report.WriteTable(table);
            string jsonText = report.ToJsonString(s.PerRequest);
            if (s.JsonFile is not null)
            {
                string? dir = Path.GetDirectoryName(Path.GetFullPath(s.JsonFile));
                if (dir is not null)
                {
                    Directory.CreateDirectory(dir);
                }

                await File.WriteAllTextAsync(s.JsonFile, jsonText + "\n", cancellationToken).ConfigureAwait(false);
                error.WriteLine($"wrote {s.JsonFile}");
            }

            if (s.JsonStdout)
            {
                output.WriteLine(jsonText);
            }

            return report.Completed > 0 ? 0 : 1;
        });

    /// <summary>Prints a progress line to stderr at every tenth of the requests (synchronously, from any thread).</summary>
    private sealed class ProgressPrinter(TextWriter error, int total) : IProgress<RequestResult>
    {
        private readonly Lock _lock = new();
        private int _done;
        private int _failed;

        public void Report(RequestResult value)
        {
            lock (_lock)
            {
                _done++;
                _failed += value.Success ? 0 : 1;
                int step = Math.Max(1, total / 10);
                if (_done % step == 0 || _done == total)
                {
                    error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {_done}/{total} done, {_failed} failed"));
                }
            }
        }
    }
}

/// <summary>Settings of <c>r1 bench</c>.</summary>
public sealed record BenchSettings
{
    public string Url { get; init; } = OpenAiClient.DefaultUrl;

    public string? ApiKey { get; init; }

    public string? Model { get; init; }

    public BenchEndpoint Endpoint { get; init; } = BenchEndpoint.Chat;

    public int? Concurrency { get; init; }

    public double? RequestRate { get; init; }

    public int NumRequests { get; init; } = 100;

    public int PromptTokens { get; init; } = 128;

    public int? DistinctPrompts { get; init; }

    public int OutputTokens { get; init; } = 128;

    public bool IgnoreEos { get; init; } = true;

    public int Warmup { get; init; }

    public int Seed { get; init; }

    public double? Temperature { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    public string? JsonFile { get; init; }

    public bool JsonStdout { get; init; }

    public bool PerRequest { get; init; }
}
