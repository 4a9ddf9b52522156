using System.CommandLine;

namespace R1Orleans.Client.Http;

/// <summary>
/// `r1 complete`: one completion of --prompt (or of stdin), streamed by default. DeepSeek-V3/R1 models are chat models,
/// so the prompt goes to the chat endpoint as one user message unless --endpoint completions asks for raw text.
/// </summary>
public static class CompleteCommand
{
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
        Option<string> endpoint = HttpOptions.Endpoint("chat");
        var prompt = new Option<string?>("--prompt", "-p") { Description = "The prompt (default: all of stdin)" };
        var system = new Option<string?>("--system") { Description = "System message (with --endpoint chat)" };
        var command = new Command("complete", "One answer from an OpenAI-compatible server, streamed (chat endpoint by default; --endpoint completions for raw text)")
        {
            prompt, url, model, apiKey, endpoint, temperature, maxTokens, seed, system, noStream, hideReasoning,
        };
        command.SetAction((p, ct) =>
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
            string? text = p.GetValue(prompt);
            if (text is null && Console.IsInputRedirected)
            {
                text = Console.In.ReadToEnd();
            }

            if (string.IsNullOrEmpty(text))
            {
                Console.Error.WriteLine("error: give --prompt TEXT or pipe the prompt on stdin");
                return Task.FromResult(2);
            }

            return RunAsync(settings, text, p.GetValue(endpoint) == "chat", Console.Out, Console.Error, ReplyRenderer.ConsoleSupportsAnsi(), ct);
        });
        return command;
    }

    public static Task<int> RunAsync(ChatSettings settings, string prompt, bool chat, TextWriter output, TextWriter error, bool ansi, CancellationToken cancellationToken = default) =>
        HttpOptions.Guard(error, async () =>
        {
            using var client = new OpenAiClient(settings.Url, settings.ApiKey);
            string model = await client.ResolveModelAsync(settings.Model, cancellationToken).ConfigureAwait(false);
            GenerationOptions generation = settings.Generation(model);
            var renderer = new ReplyRenderer(output, settings.ShowReasoning ? error : null, ansi);
            if (chat)
            {
                List<ChatMessage> messages = settings.System is null ? [] : [new ChatMessage("system", settings.System)];
                messages.Add(new ChatMessage("user", prompt));
                await ChatSession.GenerateAsync(client, "chat/completions", OpenAiClient.ChatRequest(messages, generation), generation.Stream, renderer, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await ChatSession.GenerateAsync(client, "completions", OpenAiClient.CompletionRequest(prompt, generation), generation.Stream, renderer, cancellationToken).ConfigureAwait(false);
            }

            return 0;
        });
}
