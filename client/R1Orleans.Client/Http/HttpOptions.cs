using System.CommandLine;
using System.CommandLine.Parsing;

namespace R1Orleans.Client.Http;

/// <summary>Command-line options shared by the commands that talk to an OpenAI-compatible server.</summary>
public static class HttpOptions
{
    public static Option<string> Url() => new("--url")
    {
        Description = "Server URL, with or without /v1",
        DefaultValueFactory = _ => OpenAiClient.DefaultUrl,
    };

    public static Option<string?> ApiKey() => new("--api-key")
    {
        Description = "Bearer token (default: env R1ORLEANS_API_KEY, else OPENAI_API_KEY, else none)",
    };

    public static Option<string?> Model() => new("--model")
    {
        Description = "Model name (default: the first that /v1/models lists)",
    };

    public static Option<double?> Temperature()
    {
        var o = new Option<double?>("--temperature") { Description = "Sampling temperature (default: the server's)" };
        o.Validators.Add(r => Require<double?>(r, v => v is null or (>= 0 and <= 100), "--temperature must be in [0, 100]"));
        return o;
    }

    public static Option<int?> MaxTokens()
    {
        var o = new Option<int?>("--max-tokens") { Description = $"Most tokens to generate (default {ChatSettings.DefaultMaxTokens}: room for the reasoning of R1-style models)" };
        o.Validators.Add(r => Require<int?>(r, v => v is null or >= 1, "--max-tokens must be at least 1"));
        return o;
    }

    public static Option<int?> Seed() => new("--seed") { Description = "Sampling seed sent to the server" };

    public static Option<bool> NoStream() => new("--no-stream") { Description = "Wait for the whole answer instead of streaming it" };

    public static Option<bool> HideReasoning() => new("--hide-reasoning") { Description = "Do not show the reasoning (reasoning_content)" };

    public static Option<string> Endpoint(string defaultValue)
    {
        var o = new Option<string>("--endpoint")
        {
            Description = "API: chat (/v1/chat/completions: the prompt is a user message in the model's chat template) or completions (/v1/completions: raw text continued as it is)",
            DefaultValueFactory = _ => defaultValue,
        };
        o.AcceptOnlyFromAmong("chat", "completions");
        return o;
    }

    /// <summary>
    /// Adds <paramref name="message"/> as a parse error unless the option's value passes <paramref name="ok"/>. A value
    /// that does not even convert is left to the parser, which reports it (reading it here would throw).
    /// </summary>
    public static void Require<T>(OptionResult result, Func<T?, bool> ok, string message)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(ok);
        T? value;
        try
        {
            value = result.GetValueOrDefault<T>();
        }
        catch (InvalidOperationException)
        {
            return;
        }

        if (!ok(value))
        {
            result.AddError(message);
        }
    }

    public static void Check(OptionResult result, bool ok, string message)
    {
        if (!ok)
        {
            result.AddError(message);
        }
    }

    /// <summary>Runs a client call, printing a failure (HTTP error, connection refused, bad URL) as one line and giving exit code 1.</summary>
    public static async Task<int> Guard(TextWriter error, Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is OpenAiException or HttpRequestException or IOException or ArgumentException)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
