using System.CommandLine;
using System.Text;

namespace R1Orleans.Client.Http;

/// <summary>Settings of <c>r1 chat</c> and <c>r1 complete</c>.</summary>
public sealed record ChatSettings
{
    public string Url { get; init; } = OpenAiClient.DefaultUrl;

    public string? ApiKey { get; init; }

    public string? Model { get; init; }

    public double? Temperature { get; init; }

    public int? MaxTokens { get; init; }

    public int? Seed { get; init; }

    public string? System { get; init; }

    public bool Stream { get; init; } = true;

    public bool ShowReasoning { get; init; } = true;

    /// <summary>
    /// max_tokens when --max-tokens is not given: room for an R1-style model's reasoning before its answer (r1orleans-tiny
    /// reasons about 320 tokens for a two-digit multiplication; a server's own default, 256 here, cuts that off).
    /// </summary>
    public const int DefaultMaxTokens = 1024;

    public GenerationOptions Generation(string model) => new()
    {
        Model = model,
        Temperature = Temperature,
        MaxTokens = MaxTokens ?? DefaultMaxTokens,
        Seed = Seed,
        Stream = Stream,
        IncludeUsage = true,
    };
}

/// <summary>
/// `r1 chat`: an interactive chat with any OpenAI-compatible server (history kept, replies streamed, reasoning dimmed;
/// /reset, /exit). With stdin not a terminal it reads all of stdin as one message, prints the answer and exits.
/// </summary>
public static class ChatCommand
{
    public const string Help = "/reset forgets the conversation, /exit (or Ctrl+D) quits, Ctrl+C stops a reply; end a line with \\ to continue it";

    public static Command Create()
    {
        Option<string> url = HttpOptions.Url();
        Option<string?> model = HttpOptions.Model();
        Option<string?> apiKey = HttpOptions.ApiKey();
        Option<double?> temperature = HttpOptions.Temperature();
        Option<int?> maxTokens = HttpOptions.MaxTokens();
        Option<int?> seed = HttpOptions.Seed();
        Option<bool> noStream = HttpOptions.NoStream();
        Option<bool> hideReasoning = HttpOptions.HideReasoning();
        var system = new Option<string?>("--system") { Description = "System message that starts the conversation" };
        var command = new Command("chat", "Chat with an OpenAI-compatible server (interactive; with stdin piped: one message, one answer)")
        {
            url, model, apiKey, temperature, maxTokens, system, seed, noStream, hideReasoning,
        };
        command.SetAction(p =>
        {
            var settings = new ChatSettings
            {
                Url = p.GetValue(url)!,
                ApiKey = OpenAiClient.ResolveApiKey(p.GetValue(apiKey)),
                Model = p.GetValue(model),
                Temperature = p.GetValue(temperature),
                MaxTokens = p.GetValue(maxTokens),
                Seed = p.GetValue(seed),
                System = p.GetValue(system),
                Stream = !p.GetValue(noStream),
                ShowReasoning = !p.GetValue(hideReasoning),
            };

            // Synchronous action: System.CommandLine then leaves Ctrl+C to us (it stops a reply, not the chat).
            return RunAsync(settings, Console.In, !Console.IsInputRedirected, Console.Out, Console.Error, ReplyRenderer.ConsoleSupportsAnsi(), handleCtrlC: true)
                .GetAwaiter().GetResult();
        });
        return command;
    }

    public static Task<int> RunAsync(
        ChatSettings settings, TextReader input, bool interactive, TextWriter output, TextWriter error, bool ansi, bool handleCtrlC = false,
        CancellationToken cancellationToken = default) => HttpOptions.Guard(error, async () =>
        {
            using var client = new OpenAiClient(settings.Url, settings.ApiKey);
            string model = await client.ResolveModelAsync(settings.Model, cancellationToken).ConfigureAwait(false);
            var session = new ChatSession(client, settings.Generation(model), settings.System);
            TextWriter? reasoningOutput = settings.ShowReasoning ? error : null;
            if (!interactive)
            {
                string message = (await input.ReadToEndAsync(cancellationToken).ConfigureAwait(false)).Trim();
                if (message.Length == 0)
                {
                    error.WriteLine("error: stdin is empty: nothing to send");
                    return 2;
                }

                await session.SendAsync(message, new ReplyRenderer(output, reasoningOutput, ansi), cancellationToken).ConfigureAwait(false);
                return 0;
            }

            var notes = new ReplyRenderer(output, null, ansi);
            notes.Note($"{model} at {client.BaseUri}: {Help}");
            while (true)
            {
                output.Write(ansi ? "\u001b[1m>>> \u001b[0m" : ">>> ");
                output.Flush();
                string? line = await ReadMessageAsync(input, output, ansi, cancellationToken).ConfigureAwait(false);
                if (line is null)
                {
                    output.WriteLine();
                    return 0;
                }

                string text = line.Trim();
                if (text.Length == 0)
                {
                    continue;
                }

                if (text.StartsWith('/') && !text.Contains('\n', StringComparison.Ordinal))
                {
                    switch (text.ToLowerInvariant())
                    {
                        case "/exit" or "/quit" or "/bye":
                            return 0;
                        case "/reset" or "/clear":
                            session.Reset();
                            notes.Note("(conversation forgotten)");
                            continue;
                        case "/help" or "/?":
                            notes.Note(Help);
                            continue;
                        default:
                            if (!text.Contains(' ', StringComparison.Ordinal))
                            {
                                notes.Note($"unknown command {text}; {Help}");
                                continue;
                            }

                            break;
                    }
                }

                await ReplyAsync(session, text, output, error, reasoningOutput, ansi, handleCtrlC, cancellationToken).ConfigureAwait(false);
            }
        });

    private static async Task ReplyAsync(
        ChatSession session, string text, TextWriter output, TextWriter error, TextWriter? reasoningOutput, bool ansi, bool handleCtrlC, CancellationToken cancellationToken)
    {
        using var reply = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCtrlC = (_, e) =>
        {
            e.Cancel = true;
            reply.Cancel();
        };
        if (handleCtrlC)
        {
            Console.CancelKeyPress += onCtrlC;
        }

        var renderer = new ReplyRenderer(output, reasoningOutput, ansi);
        try
        {
            ChatReply r = await session.SendAsync(text, renderer, reply.Token).ConfigureAwait(false);
            if (ansi)
            {
                renderer.Note($"[{r.OutputTokens} tokens, {r.Seconds:0.0} s, {(r.Seconds > 0 ? r.OutputTokens / r.Seconds : 0):0.0} tok/s{(r.FinishReason is "length" ? ", cut at --max-tokens" : "")}]");
            }
        }
        catch (OperationCanceledException) when (reply.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            renderer.Note("[stopped; this turn is not kept]");
        }
        catch (Exception e) when (e is OpenAiException or HttpRequestException or IOException)
        {
            error.WriteLine($"error: {e.Message} (this turn is not kept)");
        }
        finally
        {
            if (handleCtrlC)
            {
                Console.CancelKeyPress -= onCtrlC;
            }
        }
    }

    /// <summary>Reads one message: a line, joined with the next while it ends in a backslash; null at end of input.</summary>
    private static async Task<string?> ReadMessageAsync(TextReader input, TextWriter output, bool ansi, CancellationToken cancellationToken)
    {
        var sb = new StringBuilder();
        while (true)
        {
            string? line = await input.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is null)
            {
                return sb.Length > 0 ? sb.ToString() : null;
            }

            if (!line.EndsWith('\\'))
            {
                return sb.Append(line).ToString();
            }

            sb.Append(line.AsSpan(0, line.Length - 1)).Append('\n');
            output.Write(ansi ? "\u001b[2m... \u001b[0m" : "... ");
            output.Flush();
        }
    }
}
