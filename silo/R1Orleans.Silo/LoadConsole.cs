using System.Globalization;
using System.Text;
using R1Orleans.Grains;
using Spectre.Console;

namespace R1Orleans.Silo;

/// <summary>
/// The silo's console: model-loading progress (a Spectre.Console progress bar when stdout is a terminal, log lines once
/// a second otherwise, with bytes and tensors per second) and the start-up banner.
/// </summary>
internal static partial class LoadConsole
{
    /// <summary>Whether stdout is an interactive terminal (no progress bar when redirected, e.g. under systemd or in tests).</summary>
    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>Runs <paramref name="load"/> on this thread while reporting <paramref name="tracker"/>'s progress.</summary>
    public static T Run<T>(LoadTracker tracker, ILogger logger, Action<LoadSnapshot> status, Func<T> load)
    {
        if (Interactive)
        {
            return WithProgressBar(tracker, status, load);
        }

        using var timer = new Timer(_ =>
        {
            LoadSnapshot s = tracker.Snapshot();
            status(s);
            LogProgress(logger, s.Describe());
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        T result = load();
        tracker.Finish();
        return result;
    }

    private static T WithProgressBar<T>(LoadTracker tracker, Action<LoadSnapshot> status, Func<T> load)
    {
        return AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn(),
                new PercentageColumn(),
                new DownloadedColumn(),
                new TransferSpeedColumn(),
                new ElapsedTimeColumn())
            .Start(ctx =>
            {
                ProgressTask task = ctx.AddTask("loading", maxValue: Math.Max(1, tracker.Plan.TotalBytes));
                Task<T> work = Task.Factory.StartNew(load, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                while (!work.Wait(100))
                {
                    Update(task, tracker.Snapshot(), status);
                }

                if (work.IsCompletedSuccessfully)
                {
                    tracker.Finish();
                    Update(task, tracker.Snapshot(), status);
                }

                ctx.Refresh();
                return work.GetAwaiter().GetResult();
            });
    }

    private static void Update(ProgressTask task, LoadSnapshot s, Action<LoadSnapshot> status)
    {
        task.Value = s.Bytes;
        task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{s.Stage,-16} {s.Tensors,6}/{s.TotalTensors} tensors {s.TensorsPerSecond,7:0}/s"));
        status(s);
    }

    /// <summary>The start-up banner: the model and what it is (and that its weights are random when it is the random built-in), the URL, an example curl.</summary>
    public static void PrintBanner(ServedModelRecord record, string description, IReadOnlyList<string> addresses, string orleans)
    {
        string url = ClientUrl(addresses.Count > 0 ? addresses[0] : SiloHost.DefaultUrl);
        ModelConfigSummary c = record.Config;
        string config = string.Create(
            CultureInfo.InvariantCulture,
            $"{c.Layers} layers, hidden {c.HiddenSize}, {c.RoutedExperts} routed experts ({c.ExpertsPerToken} per token), vocab {c.VocabSize}, context {c.ContextLength}{(c.Fp8 ? ", FP8" : "")}{(c.Mtp ? ", MTP" : "")}");
        string curl = $"curl -s {url}/v1/chat/completions -H 'Content-Type: application/json' \\\n"
            + $"    -d '{{\"model\":\"{record.ModelId}\",\"messages\":[{{\"role\":\"user\",\"content\":\"What is 47 + 385?\"}}],\"max_tokens\":200}}'";

        if (Interactive)
        {
            var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
            grid.AddRow("[bold]model[/]", $"[bold]{Markup.Escape(record.ModelId)}[/]");
            if (record.RandomWeights)
            {
                grid.AddRow("", "[yellow bold]RANDOM WEIGHTS: the output is noise.[/] [yellow]The random built-in model exists to exercise the pipeline; serve a real checkpoint with --model DIR, or the trained r1orleans-tiny without --model.[/]");
            }
            else
            {
                grid.AddRow("", Markup.Escape(description));
            }

            grid.AddRow("", Markup.Escape(record.Directory));
            grid.AddRow("config", Markup.Escape(config));
            grid.AddRow("http", addresses.Count > 0 ? $"{Markup.Escape(string.Join("  ", addresses))}   (OpenAI API under /v1; /health, /metrics)" : NoHttp);
            grid.AddRow("orleans", Markup.Escape($"silo {record.Silo}, {orleans}"));
            grid.AddRow("ready in", string.Create(CultureInfo.InvariantCulture, $"{record.LoadSeconds:0.0} s"));
            AnsiConsole.Write(new Panel(grid).Header("[green bold] r1-silo is ready [/]").Border(BoxBorder.Rounded));

            // Outside the panel, so that it can be copied as it is.
            if (addresses.Count > 0)
            {
                AnsiConsole.MarkupLine("[dim]try:[/]");
                AnsiConsole.WriteLine(curl);
            }

            return;
        }

        var text = new StringBuilder()
            .AppendLine("r1-silo is ready")
            .AppendLine(CultureInfo.InvariantCulture, $"  model     {record.ModelId}");
        if (record.RandomWeights)
        {
            text.AppendLine("            RANDOM WEIGHTS: the output is noise. The random built-in model exists to exercise the pipeline;")
                .AppendLine("            serve a real checkpoint with --model DIR, or the trained r1orleans-tiny without --model.");
        }
        else
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"            {description}");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"            {record.Directory}")
            .AppendLine(CultureInfo.InvariantCulture, $"  config    {config}")
            .AppendLine(CultureInfo.InvariantCulture, $"  http      {(addresses.Count > 0 ? $"{string.Join("  ", addresses)}   (OpenAI API under /v1; /health, /metrics)" : NoHttp)}")
            .AppendLine(CultureInfo.InvariantCulture, $"  orleans   silo {record.Silo}, {orleans}")
            .AppendLine(CultureInfo.InvariantCulture, $"  ready in  {record.LoadSeconds:0.0} s");
        if (addresses.Count > 0)
        {
            text.AppendLine("  try:").AppendLine(CultureInfo.InvariantCulture, $"    {curl}");
        }

        Console.Out.Write(text.ToString());
        Console.Out.Flush();
    }

    private const string NoHttp = "none (--no-http: a worker silo; the cluster's gateways serve the API)";

    /// <summary>A listening address as a client would call it (wildcard hosts become 127.0.0.1).</summary>
    internal static string ClientUrl(string address)
    {
        if (!Uri.TryCreate(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out Uri? uri))
        {
            return address.TrimEnd('/');
        }

        string host = uri.Host is "0.0.0.0" or "[::]" or "::" ? "127.0.0.1" : uri.Host;
        return string.Create(CultureInfo.InvariantCulture, $"{uri.Scheme}://{host}:{uri.Port}");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "loading {Progress}")]
    private static partial void LogProgress(ILogger logger, string progress);
}
