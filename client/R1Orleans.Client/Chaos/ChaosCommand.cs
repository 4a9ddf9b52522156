using System.CommandLine;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// `r1 chaos`: starts a local cluster (redis-server with persistence and N silo processes) or attaches to one, runs a
/// workload of known questions through the OpenAI API while a schedule of faults is injected, records every request's
/// history as JSON lines and checks it against a fault-free single silo's answers. docs/CHAOS.md has the details.
/// </summary>
public static class ChaosCommand
{
    public static Command Create()
    {
        var schedule = new Option<string>("--schedule")
        {
            Description = $"A built-in schedule ({string.Join(", ", NamedSchedules.Names)}) or a schedule file (docs/CHAOS.md). "
                + "'ci' (kill -9, SIGSTOP, join, SIGTERM) needs failover and is not run in CI yet",
            DefaultValueFactory = _ => "none",
        };
        var silos = new Option<int>("--silos") { Description = "Silo processes to start (s0 serves HTTP, the rest are workers)", DefaultValueFactory = _ => 3 };
        silos.Validators.Add(r => HttpOptions.Require<int>(r, v => v is >= 1 and <= 32, "--silos must be between 1 and 32"));
        var gateways = new Option<int>("--gateways") { Description = "How many of them serve HTTP (the first ones); requests go round-robin over those running", DefaultValueFactory = _ => 1 };
        gateways.Validators.Add(r => HttpOptions.Require<int>(r, v => v >= 1, "--gateways must be at least 1"));
        var silo = new Option<string?>("--silo")
        {
            Description = "The silo to start: r1-silo.dll (run with dotnet) or an executable. Default: r1-silo.dll beside r1, else the "
                + "repository's silo/R1Orleans.Silo/bin/{Release,Debug}/net10.0/r1-silo.dll",
        };
        var attach = new Option<string?>("--attach") { Description = "Drive a running cluster instead: its gateway URLs, comma-separated (only Redis faults can run)" };
        var redis = new Option<string?>("--redis") { Description = "HOST:PORT of the attached cluster's Redis, for redis-flush and redis-pause" };
        var model = new Option<string>("--model") { Description = "Model name sent in requests", DefaultValueFactory = _ => "r1orleans-tiny" };
        var questions = new Option<string?>("--questions") { Description = "A JSON file of questions ([{\"question\": ..., \"answer\": ...}]); default the built-in held-out additions" };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Requests in flight", DefaultValueFactory = _ => 4 };
        concurrency.Validators.Add(r => HttpOptions.Require<int>(r, v => v is >= 1 and <= 256, "--concurrency must be between 1 and 256"));
        var duration = new Option<double?>("--duration") { Description = "Seconds during which requests start (default: the schedule's end + 10 s, at least 15 s)" };
        duration.Validators.Add(r => HttpOptions.Require<double?>(r, v => v is null or (> 0 and <= 3600), "--duration must be in (0, 3600]"));
        var maxRequests = new Option<int>("--max-requests") { Description = "Most requests sent", DefaultValueFactory = _ => 1000 };
        maxRequests.Validators.Add(r => HttpOptions.Require<int>(r, v => v is >= 1 and <= 100_000, "--max-requests must be between 1 and 100000"));
        var maxTokens = new Option<int>("--max-tokens") { Description = "max_tokens of every request", DefaultValueFactory = _ => 200 };
        maxTokens.Validators.Add(r => HttpOptions.Require<int>(r, v => v >= 1, "--max-tokens must be at least 1"));
        var temperature = new Option<double>("--temperature") { Description = "Temperature of the seeded-sampling requests (greedy ones use 0)", DefaultValueFactory = _ => 0.8 };
        temperature.Validators.Add(r => HttpOptions.Require<double>(r, v => v is > 0 and <= 100, "--temperature must be in (0, 100]"));
        var bound = new Option<double>("--request-timeout") { Description = "Seconds a request may take; one still running then is a violation", DefaultValueFactory = _ => 60 };
        bound.Validators.Add(r => HttpOptions.Require<double>(r, v => v is > 0 and <= 3600, "--request-timeout must be in (0, 3600]"));
        var window = new Option<double>("--window") { Description = "Seconds after each fault whose token gaps the summary counts", DefaultValueFactory = _ => 5 };
        window.Validators.Add(r => HttpOptions.Require<double>(r, v => v is > 0 and <= 3600, "--window must be in (0, 3600]"));
        var ready = new Option<double>("--ready-timeout") { Description = "Seconds the cluster (and the reference silo) may take to start", DefaultValueFactory = _ => 180 };
        ready.Validators.Add(r => HttpOptions.Require<double>(r, v => v is > 0 and <= 3600, "--ready-timeout must be in (0, 3600]"));
        var joinGrace = new Option<double>("--join-grace") { Description = "Seconds a joined silo has to show in the gateway's /cluster/status (judged when the run lasts that long after the join)", DefaultValueFactory = _ => HistoryChecker.DefaultJoinGrace.TotalSeconds };
        joinGrace.Validators.Add(r => HttpOptions.Require<double>(r, v => v is > 0 and <= 3600, "--join-grace must be in (0, 3600]"));
        var references = new Option<string?>("--references") { Description = "Reference answers to read (references.json of an earlier run); those missing are computed on a single silo" };
        var output = new Option<string?>("--out") { Description = "Directory for history.jsonl, references.json and the processes' logs (default: a new one in the temp directory)" };
        var siloArgs = new Argument<string[]>("silo-args") { Description = "Arguments for every silo, after --, e.g. -- --expert-replicas 2", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("chaos", "Chaos test of a cluster: a workload with known answers under a schedule of faults (kill -9, SIGSTOP, joins, SIGTERM, "
            + "Redis restarts); every request's history is checked against a fault-free single silo. Exit code 0: no violation, 1: violations, 2: could not run. "
            + "The 'ci' schedule needs failover and is not run in CI yet")
        {
            schedule, silos, gateways, silo, attach, redis, model, questions, concurrency, duration, maxRequests, maxTokens, temperature, bound, window, ready,
            joinGrace, references, output, siloArgs,
        };
        command.SetAction((p, ct) =>
        {
            double? seconds = p.GetValue(duration);
            var settings = new ChaosSettings
            {
                Schedule = p.GetValue(schedule)!,
                Silos = p.GetValue(silos),
                Gateways = p.GetValue(gateways),
                Silo = p.GetValue(silo),
                SiloArgs = p.GetValue(siloArgs) ?? [],
                Attach = p.GetValue(attach)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
                Redis = p.GetValue(redis),
                Model = p.GetValue(model)!,
                Questions = p.GetValue(questions),
                Concurrency = p.GetValue(concurrency),
                Duration = seconds is double d ? TimeSpan.FromSeconds(d) : null,
                MaxRequests = p.GetValue(maxRequests),
                MaxTokens = p.GetValue(maxTokens),
                SamplingTemperature = p.GetValue(temperature),
                Bound = TimeSpan.FromSeconds(p.GetValue(bound)),
                Window = TimeSpan.FromSeconds(p.GetValue(window)),
                ReadyTimeout = TimeSpan.FromSeconds(p.GetValue(ready)),
                JoinGrace = TimeSpan.FromSeconds(p.GetValue(joinGrace)),
                References = p.GetValue(references),
                Output = p.GetValue(output),
            };
            return ChaosRun.RunAsync(settings, Console.Out, Console.Error, ct);
        });
        return command;
    }
}
