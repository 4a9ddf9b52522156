using System.Text;
using System.Text.Json;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Text.Chat;

namespace R1Orleans.Gateway;

/// <summary>A parsed /v1/chat/completions or /v1/completions request, before it meets the engine.</summary>
internal sealed record GenerationSpec
{
    public required bool Chat { get; init; }

    public required PromptInput Input { get; init; }

    /// <summary>The field the prompt came from: <c>messages</c> or <c>prompt</c> (the 400's param).</summary>
    public required string PromptParam { get; init; }

    /// <summary>Everything but MaxTokens, which needs the prompt's length when not given.</summary>
    public required SamplingParams Sampling { get; init; }

    /// <summary>As sent (a long: a value beyond the context is reported as given, not clamped).</summary>
    public long? MaxTokens { get; init; }

    public string MaxTokensParam { get; init; } = "max_tokens";

    public int N { get; init; } = 1;

    public bool Stream { get; init; }

    public bool IncludeUsage { get; init; }

    public string? Model { get; init; }

    /// <summary>Chat with tools and tool_choice other than "none": tool-call markup in the answer becomes <c>tool_calls</c>.</summary>
    public bool ParsesToolCalls { get; init; }
}

/// <summary>Reads OpenAI request bodies field by field, with a 400 naming the field for every wrong type or value.</summary>
internal static class OpenAiRequests
{
    public const int MaxChoices = 8;

    private static readonly HashSet<string> s_roles = ["system", "developer", "user", "assistant", "tool"];

    public static GenerationSpec ParseChat(JsonElement root, SamplingDefaults? defaults = null)
    {
        var f = new JsonFields(root, "");
        JsonElement messages = f.Array("messages") ?? throw OpenAiErrorException.Missing("messages");
        if (messages.GetArrayLength() == 0)
        {
            throw OpenAiErrorException.BadRequest("'messages' must contain at least one message", "messages", "invalid_value");
        }

        var list = new List<ChatMessage>();
        int i = 0;
        foreach (JsonElement m in messages.EnumerateArray())
        {
            list.Add(ParseMessage(m, $"messages[{i++}]"));
        }

        IReadOnlyList<ToolDefinition>? tools = ParseTools(f);
        bool toolChoiceNone = false;
        if (f.TryGet("tool_choice", out JsonElement choice) && choice.ValueKind != JsonValueKind.Null)
        {
            if (!(choice.ValueKind == JsonValueKind.String && choice.GetString() is "none" or "auto"))
            {
                throw OpenAiErrorException.Unsupported("tool_choice", "only \"auto\" and \"none\" are supported (the model decides whether to call a tool)");
            }

            toolChoiceNone = choice.GetString() == "none";
        }

        if (f.Object("response_format") is JsonFields format && format.String("type") is string type && type != "text")
        {
            throw OpenAiErrorException.Unsupported("response_format", $"type \"{type}\" is not supported; only \"text\"");
        }

        bool logprobs = f.Bool("logprobs") ?? false;
        int topLogprobs = f.Int("top_logprobs", 0, SamplingParams.MaxTopLogprobs) ?? 0;
        if (topLogprobs > 0 && !logprobs)
        {
            throw OpenAiErrorException.BadRequest("'top_logprobs' needs 'logprobs' to be true", "top_logprobs", "invalid_value");
        }

        GenerationSpec spec = Common(f, chat: true, defaults ?? SamplingDefaults.None);
        return spec with
        {
            Input = PromptInput.FromMessages(list, tools),
            Sampling = spec.Sampling with { Logprobs = logprobs, TopLogprobs = topLogprobs },
            ParsesToolCalls = tools is not null && !toolChoiceNone,
        };
    }

    public static GenerationSpec ParseCompletion(JsonElement root, SamplingDefaults? defaults = null)
    {
        var f = new JsonFields(root, "");
        if (!f.TryGet("prompt", out JsonElement prompt))
        {
            throw OpenAiErrorException.Missing("prompt");
        }

        PromptInput input = ParsePrompt(prompt);
        if (f.Bool("echo") == true)
        {
            throw OpenAiErrorException.Unsupported("echo", "echo is not supported");
        }

        if (f.String("suffix") is { Length: > 0 })
        {
            throw OpenAiErrorException.Unsupported("suffix", "suffix is not supported");
        }

        int? logprobs = f.Int("logprobs", 0, SamplingParams.MaxTopLogprobs);
        GenerationSpec spec = Common(f, chat: false, defaults ?? SamplingDefaults.None) with { Input = input, PromptParam = "prompt" };
        if (f.Int("best_of", 1, MaxChoices) is int bestOf && bestOf != spec.N)
        {
            throw OpenAiErrorException.Unsupported("best_of", "best_of must equal n (no server-side ranking)");
        }

        return spec with { Sampling = spec.Sampling with { Logprobs = logprobs is not null, TopLogprobs = logprobs ?? 0 } };
    }

    /// <summary>
    /// The fields both endpoints share: sampling, n, stop, seed, max tokens, streaming, model. A sampling parameter the
    /// request leaves out takes the checkpoint's default (generation_config.json), then OpenAI's.
    /// </summary>
    private static GenerationSpec Common(JsonFields f, bool chat, SamplingDefaults defaults)
    {
        int n = f.Int("n", 1, MaxChoices) ?? 1;
        (long? maxTokens, string maxParam) = MaxTokens(f);
        int topK = f.Int("top_k", -1, int.MaxValue) ?? defaults.TopK ?? 0;
        long? seed = f.Integer("seed");
        bool stream = f.Bool("stream") ?? false;
        bool includeUsage = stream && (f.Object("stream_options")?.Bool("include_usage") ?? false);
        if (f.Object("logit_bias") is not null && f.TryGet("logit_bias", out JsonElement bias) && bias.EnumerateObject().Any())
        {
            throw OpenAiErrorException.Unsupported("logit_bias", "logit_bias is not supported");
        }

        var sampling = new SamplingParams
        {
            Temperature = f.Float("temperature", 0, 2) ?? defaults.Temperature ?? 1f,
            TopP = f.Float("top_p", 0, 1, minExclusive: true) ?? defaults.TopP ?? 1f,
            TopK = Math.Max(topK, 0),
            MinP = f.Float("min_p", 0, 1) ?? defaults.MinP ?? 0f,
            PresencePenalty = f.Float("presence_penalty", -2, 2) ?? 0f,
            FrequencyPenalty = f.Float("frequency_penalty", -2, 2) ?? 0f,
            RepetitionPenalty = f.Float("repetition_penalty", 0, 10, minExclusive: true) ?? defaults.RepetitionPenalty ?? 1f,
            Seed = seed is long s ? unchecked((ulong)s) : null,
            Stop = Stop(f),
            IgnoreEos = f.Bool("ignore_eos") ?? false,
            SkipSpecialTokens = f.Bool("skip_special_tokens") ?? true,
        };

        return new GenerationSpec
        {
            Chat = chat,
            Input = null!,
            PromptParam = chat ? "messages" : "prompt",
            Sampling = sampling,
            MaxTokens = maxTokens,
            MaxTokensParam = maxParam,
            N = n,
            Stream = stream,
            IncludeUsage = includeUsage,
            Model = f.String("model"),
        };
    }

    private static (long?, string) MaxTokens(JsonFields f)
    {
        string param = f.Has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        long? v = f.Integer(param);
        if (v is not long max)
        {
            return (null, param);
        }

        if (max < 1)
        {
            throw OpenAiErrorException.BadRequest($"'{param}' must be at least 1, got {max}", param, "invalid_value");
        }

        return (max, param);
    }

    private static string[] Stop(JsonFields f)
    {
        if (!f.TryGet("stop", out JsonElement stop))
        {
            return [];
        }

        string[] list = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array => [.. stop.EnumerateArray().Select((s, i) => s.ValueKind == JsonValueKind.String
                ? s.GetString()!
                : throw OpenAiErrorException.WrongType($"stop[{i}]", "a string"))],
            _ => throw OpenAiErrorException.WrongType("stop", "a string or an array of strings"),
        };

        if (list.Length > SamplingParams.MaxStopStrings)
        {
            throw OpenAiErrorException.BadRequest($"'stop' takes at most {SamplingParams.MaxStopStrings} strings, got {list.Length}", "stop", "invalid_value");
        }

        if (list.Any(s => s.Length == 0))
        {
            throw OpenAiErrorException.BadRequest("'stop' strings must not be empty", "stop", "invalid_value");
        }

        return list;
    }

    /// <summary>A string, an array of token ids, or an array holding one string or one array of token ids.</summary>
    private static PromptInput ParsePrompt(JsonElement prompt)
    {
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                return PromptInput.FromText(prompt.GetString()!);
            case JsonValueKind.Array:
                int count = prompt.GetArrayLength();
                if (count == 0)
                {
                    throw OpenAiErrorException.BadRequest("'prompt' must not be empty", "prompt", "invalid_value");
                }

                JsonElement first = prompt[0];
                if (first.ValueKind is JsonValueKind.String or JsonValueKind.Array)
                {
                    if (count > 1)
                    {
                        throw OpenAiErrorException.Unsupported("prompt", "batched prompts are not supported; send one prompt per request");
                    }

                    return first.ValueKind == JsonValueKind.String ? PromptInput.FromText(first.GetString()!) : PromptInput.FromTokens(TokenIds(first, "prompt[0]"));
                }

                return PromptInput.FromTokens(TokenIds(prompt, "prompt"));
            default:
                throw OpenAiErrorException.WrongType("prompt", "a string, an array of token ids, or an array of one string");
        }
    }

    private static int[] TokenIds(JsonElement array, string path)
    {
        var ids = new int[array.GetArrayLength()];
        if (ids.Length == 0)
        {
            throw OpenAiErrorException.BadRequest($"'{path}' must not be empty", "prompt", "invalid_value");
        }

        int i = 0;
        foreach (JsonElement t in array.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Number || !t.TryGetInt32(out ids[i]))
            {
                throw OpenAiErrorException.WrongType($"{path}[{i}]", "a token id (integer)");
            }

            i++;
        }

        return ids;
    }

    private static ChatMessage ParseMessage(JsonElement m, string path)
    {
        var f = new JsonFields(m, path);
        string role = f.RequiredString("role");
        if (!s_roles.Contains(role))
        {
            throw OpenAiErrorException.BadRequest($"'{path}.role' must be system, developer, user, assistant or tool, got '{role}'", $"{path}.role", "invalid_value");
        }

        string? content = Content(f, path);
        if (role == "developer")
        {
            role = "system";
        }

        switch (role)
        {
            case "assistant":
                IReadOnlyList<ToolCall>? calls = ToolCalls(f, path);
                if (content is null && calls is null)
                {
                    throw OpenAiErrorException.BadRequest($"'{path}' needs content or tool_calls", $"{path}.content", "missing_required_parameter");
                }

                return new ChatMessage(role, content, f.String("reasoning_content"), calls);
            case "tool":
                // OpenAI requires the id of the call a tool message answers.
                return new ChatMessage(role, content ?? throw OpenAiErrorException.Missing($"{path}.content"), ToolCallId: f.RequiredString("tool_call_id"));
            default:
                return new ChatMessage(role, content ?? throw OpenAiErrorException.Missing($"{path}.content"));
        }
    }

    /// <summary>A string, or an array of text parts joined in order.</summary>
    private static string? Content(JsonFields f, string path)
    {
        if (!f.TryGet("content", out JsonElement c))
        {
            return null;
        }

        if (c.ValueKind == JsonValueKind.String)
        {
            return c.GetString();
        }

        if (c.ValueKind != JsonValueKind.Array)
        {
            throw OpenAiErrorException.WrongType($"{path}.content", "a string or an array of content parts");
        }

        var sb = new StringBuilder();
        int i = 0;
        foreach (JsonElement part in c.EnumerateArray())
        {
            string partPath = $"{path}.content[{i++}]";
            var p = new JsonFields(part, partPath);
            string type = p.RequiredString("type");
            if (type != "text")
            {
                throw OpenAiErrorException.Unsupported($"{partPath}.type", $"content parts of type '{type}' are not supported; only 'text'");
            }

            sb.Append(p.RequiredString("text"));
        }

        return sb.ToString();
    }

    private static List<ToolCall>? ToolCalls(JsonFields f, string path)
    {
        if (f.Array("tool_calls") is not JsonElement array)
        {
            return null;
        }

        var calls = new List<ToolCall>();
        int i = 0;
        foreach (JsonElement call in array.EnumerateArray())
        {
            string callPath = $"{path}.tool_calls[{i++}]";
            var c = new JsonFields(call, callPath);
            string type = c.String("type") ?? "function";
            if (type != "function")
            {
                throw OpenAiErrorException.Unsupported($"{callPath}.type", $"tool calls of type '{type}' are not supported; only 'function'");
            }

            JsonFields function = c.Object("function") ?? throw OpenAiErrorException.Missing($"{callPath}.function");
            calls.Add(new ToolCall(c.String("id"), type, function.RequiredString("name"), ArgumentsText(function)));
        }

        return calls;
    }

    /// <summary>OpenAI sends arguments as JSON text; an object is accepted too and kept as its JSON.</summary>
    private static string ArgumentsText(JsonFields function)
    {
        if (!function.TryGet("arguments", out JsonElement a))
        {
            return "{}";
        }

        return a.ValueKind switch
        {
            JsonValueKind.String => a.GetString()!,
            JsonValueKind.Object => a.GetRawText(),
            _ => throw OpenAiErrorException.WrongType(function.PathOf("arguments"), "a JSON string"),
        };
    }

    private static List<ToolDefinition>? ParseTools(JsonFields f)
    {
        if (f.Array("tools") is not JsonElement array)
        {
            return null;
        }

        var tools = new List<ToolDefinition>();
        int i = 0;
        foreach (JsonElement tool in array.EnumerateArray())
        {
            string toolPath = $"tools[{i++}]";
            var t = new JsonFields(tool, toolPath);
            string type = t.String("type") ?? "function";
            if (type != "function")
            {
                throw OpenAiErrorException.Unsupported($"{toolPath}.type", $"tools of type '{type}' are not supported; only 'function'");
            }

            JsonFields function = t.Object("function") ?? throw OpenAiErrorException.Missing($"{toolPath}.function");
            JsonElement? parameters = null;
            if (function.TryGet("parameters", out JsonElement p))
            {
                parameters = p.ValueKind == JsonValueKind.Object ? p.Clone() : throw OpenAiErrorException.WrongType(function.PathOf("parameters"), "a JSON schema object");
            }

            tools.Add(new ToolDefinition(function.RequiredString("name"), function.String("description"), parameters));
        }

        return tools.Count == 0 ? null : tools;
    }
}
