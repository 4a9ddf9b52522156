using System.Text.Json;
using R1Orleans.Text.Chat;

namespace R1Orleans.Text.Tests.Chat;

/// <summary>The <see cref="ChatTemplate"/> surface: loading from tokenizer_config.json, message and tool shapes, variables.</summary>
public sealed class ChatTemplateTests
{
    private const string EchoMessages = "{{ messages|tojson }}";

    [Fact]
    public void Message_records_reach_the_template_in_the_openai_shape()
    {
        ChatTemplate template = ChatTemplate.Parse(EchoMessages, null, null);

        string json = template.Render(
            [
                ChatMessage.User("hi"),
                ChatMessage.Assistant(null, [ToolCall.Function("f", "{\"a\": 1}", "c1")]),
                ChatMessage.Tool("r", "c1"),
                new ChatMessage("assistant", "ok", ReasoningContent: "thought"),
            ],
            addGenerationPrompt: false);

        Assert.Equal(
            "[{\"role\": \"user\", \"content\": \"hi\"}, "
            + "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}}]}, "
            + "{\"role\": \"tool\", \"content\": \"r\", \"tool_call_id\": \"c1\"}, "
            + "{\"role\": \"assistant\", \"content\": \"ok\", \"reasoning_content\": \"thought\"}]",
            json);
    }

    [Fact]
    public void Tools_are_none_when_absent_and_json_schema_functions_when_given()
    {
        ChatTemplate template = ChatTemplate.Parse(
            "{% if tools is none %}none{% else %}{% for t in tools %}{{ t.type }}:{{ t.function.name }}:{{ t.function.description }}:{{ t.function.parameters|tojson }};{% endfor %}{% endif %}",
            null,
            null);
        using JsonDocument schema = JsonDocument.Parse("""{"type": "object", "properties": {"city": {"type": "string"}}}""");

        Assert.Equal("none", template.Render([ChatMessage.User("x")], false));
        Assert.Equal(
            "function:get_weather:Weather now:{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}};",
            template.Render([ChatMessage.User("x")], false, [new ToolDefinition("get_weather", "Weather now", schema.RootElement.Clone())]));
    }

    [Fact]
    public void Special_tokens_generation_flag_and_extra_variables_are_visible()
    {
        ChatTemplate template = ChatTemplate.Parse("{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ thinking is defined }}|{{ thinking }}", "<s>", "</s>");
        using JsonDocument messages = JsonDocument.Parse("""[{"role": "user", "content": "x"}]""");

        Assert.Equal("<s>|</s>|True|False|", template.Render([ChatMessage.User("x")], true));
        Assert.Equal("<s>|</s>|False|True|True", template.Render(messages.RootElement, false, null, new Dictionary<string, object?> { ["thinking"] = true }));
    }

    [Fact]
    public void Named_templates_pick_tool_use_when_tools_are_given()
    {
        const string config = """
            {
              "bos_token": {"__type": "AddedToken", "content": "<B>"},
              "eos_token": null,
              "chat_template": [
                {"name": "default", "template": "default {{ bos_token }}{{ eos_token is defined }}"},
                {"name": "tool_use", "template": "tools {{ tools|length }}"}
              ]
            }
            """;
        ChatTemplate template = ChatTemplate.FromTokenizerConfigJson(config);

        Assert.Equal("<B>", template.BosToken);
        Assert.Null(template.EosToken);
        Assert.Equal("default <B>False", template.Render([ChatMessage.User("x")], false));
        Assert.Equal("tools 1", template.Render([ChatMessage.User("x")], false, [new ToolDefinition("f")]));
    }

    [Fact]
    public void Chat_template_jinja_beside_the_config_is_used_when_the_config_has_none()
    {
        string dir = Directory.CreateTempSubdirectory("r1orleans-chat-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"bos_token": "<s>"}""");
            File.WriteAllText(Path.Combine(dir, "chat_template.jinja"), "{{ bos_token }}{% for m in messages %}[{{ m.content }}]{% endfor %}\n");

            ChatTemplate template = ChatTemplate.FromTokenizerConfig(Path.Combine(dir, "tokenizer_config.json"));

            Assert.Equal("<s>[a][b]", template.Render([ChatMessage.User("a"), ChatMessage.User("b")], false));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_config_without_any_template_is_an_error()
    {
        Assert.Throws<TemplateException>(() => ChatTemplate.FromTokenizerConfigJson("""{"bos_token": "<s>"}"""));
        Assert.Throws<TemplateException>(() => ChatTemplate.FromTokenizerConfigJson("[]"));
    }

    [Fact]
    public void A_broken_template_in_the_config_fails_with_its_position()
    {
        TemplateException e = Assert.Throws<TemplateException>(() =>
            ChatTemplate.FromTokenizerConfigJson("""{"chat_template": "{% for m in messages %}\n{{ m.content | nope }}\n{% endfor %}"}"""));

        Assert.Equal((2, 16), (e.Line, e.Column));
    }

    [Fact]
    public void Template_values_convert_dotnet_collections()
    {
        var values = new Dictionary<string, object?>
        {
            ["items"] = new[] { 1, 2, 3 },
            ["map"] = new Dictionary<string, object?> { ["k"] = 1.5f, ["n"] = null },
            ["big"] = ulong.MaxValue,
        };

        Assert.Equal("[1, 2, 3]|{'k': 1.5, 'n': None}|1.8446744073709552e+19", JinjaTemplate.Parse("{{ items }}|{{ map }}|{{ big }}").Render(values));
        Assert.Throws<ArgumentException>(() => TemplateValues.FromObject(new object()));
    }
}
