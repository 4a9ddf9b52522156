using System.Text.Json;

namespace R1Orleans.Text.Chat;

/// <summary>
/// The model's chat template (<c>chat_template</c> of <c>tokenizer_config.json</c>, Jinja) rendered as Hugging Face's
/// <c>apply_chat_template(messages, tools=..., add_generation_prompt=..., tokenize=False)</c> renders it: variables
/// <c>messages</c>, <c>tools</c> (None when absent), <c>documents</c> (None), <c>add_generation_prompt</c> and the
/// special tokens (<c>bos_token</c>, <c>eos_token</c>, ...), with <c>trim_blocks</c> and <c>lstrip_blocks</c> on.
/// </summary>
public sealed class ChatTemplate
{
    private static readonly string[] s_specialTokenKeys =
        ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    private readonly JinjaTemplate _template;
    private readonly JinjaTemplate? _toolUseTemplate;
    private readonly Dictionary<string, string> _specialTokens;

    private ChatTemplate(JinjaTemplate template, JinjaTemplate? toolUseTemplate, Dictionary<string, string> specialTokens)
    {
        _template = template;
        _toolUseTemplate = toolUseTemplate;
        _specialTokens = specialTokens;
    }

    /// <summary>The template source.</summary>
    public string Source => _template.Source;

    public string? BosToken => _specialTokens.GetValueOrDefault("bos_token");

    public string? EosToken => _specialTokens.GetValueOrDefault("eos_token");

    /// <summary>The special-token variables the template sees (<c>bos_token</c>, <c>eos_token</c>, ...).</summary>
    public IReadOnlyDictionary<string, string> SpecialTokens => _specialTokens;

    /// <summary>
    /// Reads <c>chat_template</c> and the special tokens from a <c>tokenizer_config.json</c>. The template may be a
    /// string or a list of named templates (<c>default</c>, <c>tool_use</c>); when the config has none, a
    /// <c>chat_template.jinja</c> beside it is used. Special tokens may be strings or AddedToken objects
    /// (<c>{"content": ...}</c>).
    /// </summary>
    public static ChatTemplate FromTokenizerConfig(string tokenizerConfigPath, JinjaOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerConfigPath);
        string json = File.ReadAllText(tokenizerConfigPath);
        return FromTokenizerConfigJson(json, Path.GetDirectoryName(Path.GetFullPath(tokenizerConfigPath)), options);
    }

    /// <summary>Like <see cref="FromTokenizerConfig"/> from the JSON text; <paramref name="directory"/> is where to look for <c>chat_template.jinja</c>.</summary>
    public static ChatTemplate FromTokenizerConfigJson(string tokenizerConfigJson, string? directory = null, JinjaOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerConfigJson);
        using JsonDocument doc = JsonDocument.Parse(tokenizerConfigJson);
        JsonElement root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new TemplateException("tokenizer_config.json is not a JSON object");
        }

        var specialTokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string key in s_specialTokenKeys)
        {
            if (root.TryGetProperty(key, out JsonElement token) && TokenContent(token) is { } content)
            {
                specialTokens[key] = content;
            }
        }

        string? template = null;
        string? toolUse = null;
        if (root.TryGetProperty("chat_template", out JsonElement chatTemplate))
        {
            switch (chatTemplate.ValueKind)
            {
                case JsonValueKind.String:
                    template = chatTemplate.GetString();
                    break;
                case JsonValueKind.Array:
                    foreach (JsonElement named in chatTemplate.EnumerateArray())
                    {
                        string? name = named.TryGetProperty("name", out JsonElement n) ? n.GetString() : null;
                        string? text = named.TryGetProperty("template", out JsonElement t) ? t.GetString() : null;
                        if (name == "default")
                        {
                            template = text;
                        }
                        else if (name == "tool_use")
                        {
                            toolUse = text;
                        }
                    }

                    template ??= toolUse;
                    break;
            }
        }

        if (template is null && directory is not null && File.Exists(Path.Combine(directory, "chat_template.jinja")))
        {
            template = File.ReadAllText(Path.Combine(directory, "chat_template.jinja"));
        }

        if (template is null)
        {
            throw new TemplateException("tokenizer_config.json has no chat_template");
        }

        return new ChatTemplate(
            JinjaTemplate.Parse(template, options),
            toolUse is null || ReferenceEquals(toolUse, template) ? null : JinjaTemplate.Parse(toolUse, options),
            specialTokens);
    }

    /// <summary>A template from its source with the two special tokens the DeepSeek templates use.</summary>
    public static ChatTemplate Parse(string template, string? bosToken, string? eosToken, JinjaOptions? options = null)
    {
        var specialTokens = new Dictionary<string, string>(StringComparer.Ordinal);
        if (bosToken is not null)
        {
            specialTokens["bos_token"] = bosToken;
        }

        if (eosToken is not null)
        {
            specialTokens["eos_token"] = eosToken;
        }

        return new ChatTemplate(JinjaTemplate.Parse(template, options), null, specialTokens);
    }

    /// <summary>Renders a conversation; the result is the prompt text to tokenize (the template writes the BOS token).</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<ToolDefinition>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return RenderValues(
            messages.Select(TemplateValues.FromMessage).ToList<object?>(),
            addGenerationPrompt,
            tools?.Select(TemplateValues.FromToolDefinition).ToList<object?>(),
            null);
    }

    /// <summary>Renders messages given as JSON (an array of OpenAI-style message objects), tools likewise.</summary>
    public string Render(JsonElement messages, bool addGenerationPrompt, JsonElement? tools = null, IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        if (messages.ValueKind != JsonValueKind.Array)
        {
            throw new ArgumentException("messages must be a JSON array", nameof(messages));
        }

        object? toolValues = tools is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined } t ? TemplateValues.FromJson(t) : null;
        return RenderValues((List<object?>)TemplateValues.FromJson(messages)!, addGenerationPrompt, toolValues, extraVariables);
    }

    /// <summary>
    /// Renders with messages and tools already in the template value model (see <see cref="TemplateValues"/>);
    /// <paramref name="extraVariables"/> adds or overrides variables (e.g. <c>thinking</c> for templates that read it).
    /// </summary>
    public string RenderValues(IReadOnlyList<object?> messages, bool addGenerationPrompt, object? tools, IReadOnlyDictionary<string, object?>? extraVariables)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages,
            ["tools"] = tools,
            ["documents"] = null,
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        foreach (KeyValuePair<string, string> kv in _specialTokens)
        {
            variables[kv.Key] = kv.Value;
        }

        if (extraVariables is not null)
        {
            foreach (KeyValuePair<string, object?> kv in extraVariables)
            {
                variables[kv.Key] = kv.Value;
            }
        }

        bool hasTools = tools is not null && JinjaValue.Truthy(TemplateValues.FromObject(tools));
        JinjaTemplate template = hasTools && _toolUseTemplate is not null ? _toolUseTemplate : _template;
        return template.Render(variables);
    }

    private static string? TokenContent(JsonElement token) => token.ValueKind switch
    {
        JsonValueKind.String => token.GetString(),
        JsonValueKind.Object when token.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.String => content.GetString(),
        _ => null,
    };
}
