using System.Text.Json;
using R1Orleans.Text.Chat;

namespace R1Orleans.Text.Tests.Chat;

/// <summary>
/// Chat templates in the styles of other model families, rendered against Python Jinja2 3.1 in Hugging Face's
/// configuration (outputs pasted below), so the interpreter is not tuned to the two DeepSeek templates only.
/// </summary>
public sealed class ChatTemplateFamiliesTests
{
    // A Qwen2.5-style template: tools listed with tojson, tool calls re-rendered, consecutive tool outputs grouped with loop.index0 look-behind/ahead.
    private const string QwenStyle = """
        {%- if tools %}
            {{- '<|im_start|>system\n' }}
            {%- if messages[0]['role'] == 'system' %}
                {{- messages[0]['content'] }}
            {%- else %}
                {{- 'You are a helpful assistant.' }}
            {%- endif %}
            {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
            {%- for tool in tools %}
                {{- "\n" }}
                {{- tool | tojson }}
            {%- endfor %}
            {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
        {%- else %}
            {%- if messages[0]['role'] == 'system' %}
                {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
            {%- else %}
                {{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}
            {%- endif %}
        {%- endif %}
        {%- for message in messages %}
            {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
                {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
            {%- elif message.role == "assistant" %}
                {{- '<|im_start|>' + message.role }}
                {%- if message.content %}
                    {{- '\n' + message.content }}
                {%- endif %}
                {%- for tool_call in message.tool_calls %}
                    {%- if tool_call.function is defined %}
                        {%- set tool_call = tool_call.function %}
                    {%- endif %}
                    {{- '\n<tool_call>\n{"name": "' }}
                    {{- tool_call.name }}
                    {{- '", "arguments": ' }}
                    {{- tool_call.arguments | tojson }}
                    {{- '}\n</tool_call>' }}
                {%- endfor %}
                {{- '<|im_end|>\n' }}
            {%- elif message.role == "tool" %}
                {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
                    {{- '<|im_start|>user' }}
                {%- endif %}
                {{- '\n<tool_response>\n' }}
                {{- message.content }}
                {{- '\n</tool_response>' }}
                {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
                    {{- '<|im_end|>\n' }}
                {%- endif %}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|im_start|>assistant\n' }}
        {%- endif %}
        """;

    // Block tags alone on their lines and no whitespace markers: the output depends on trim_blocks and lstrip_blocks.
    private const string PlainBlocks = """
        {# A template written without whitespace markers: trim_blocks and lstrip_blocks do the work. #}
        {% for message in messages %}
          {% if message.role == 'system' %}
        System: {{ message.content }}
          {% elif message.role == 'user' %}
        User: {{ message.content }}
          {% elif message.role == 'assistant' and message.content is not none %}
        Assistant: {{ message.content | trim }}
          {% else %}
        [{{ message.role }} #{{ loop.index }}/{{ loop.length }}]
          {% endif %}
        {% endfor %}
        {% if add_generation_prompt %}
        Assistant:
        {% endif %}
        """;

    // A macro rendering string or list content, dict .get, is string/sequence tests, tojson(indent=2), map/sort/upper and loop.last.
    private const string MacroStyle = """
        {%- macro render_content(msg) -%}
            {%- set c = msg.get('content') -%}
            {%- if c is string -%}
                {{ c }}
            {%- elif c is sequence -%}
                {%- for part in c -%}
                    {%- if part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}
                {%- endfor -%}
            {%- else -%}
                (none)
            {%- endif -%}
        {%- endmacro -%}
        {%- for message in messages -%}
        <|{{ message['role'] }}|>{{ render_content(message) }}<|end|>
        {% endfor -%}
        {%- if tools -%}
        <|tools|>{{ tools | tojson(indent=2) }}
        {% for t in tools | map(attribute='function') | sort(attribute='name') %}{{ loop.index }}. {{ t.name | upper }}{{ ', ' if not loop.last }}{% endfor %}
        {%- endif -%}
        """;

    // A DeepSeek-V3.1-style template: several namespaces, a tools section built by string concatenation, split('</think>', 1), a thinking switch.
    private const string DeepSeekV31Style = """
        {% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% if not thinking is defined %}{% set thinking = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, system_prompt='', is_first_sp=true, is_last_user=false) %}{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '\n\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{% if tools is defined and tools is not none %}{% set tool_ns = namespace(text='## Tools\n') %}{% for tool in tools %}{% set tool_ns.text = tool_ns.text + '\n### ' + tool.function.name + '\nDescription: ' + tool.function.description + '\n\nParameters: ' + (tool.function.parameters | tojson) + '\n' %}{% endfor %}{% set ns.system_prompt = ns.system_prompt + '\n\n' + tool_ns.text %}{% endif %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{%- set ns.is_first = false -%}{%- set ns.is_last_user = true -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['tool_calls'] is defined and message['tool_calls'] is not none %}{%- if ns.is_last_user %}{{'<｜Assistant｜></think>'}}{%- endif %}{%- set ns.is_last_user = false -%}{%- set ns.is_first = false %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls'] %}{%- if not ns.is_first %}{%- if message['content'] is none %}{{'<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>'+ tool['function']['name'] + '<｜tool▁sep｜>' + tool['function']['arguments'] + '<｜tool▁call▁end｜>'}}{%- else %}{{message['content'] + '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['function']['name'] + '<｜tool▁sep｜>' + tool['function']['arguments'] + '<｜tool▁call▁end｜>'}}{%- endif %}{%- set ns.is_first = true -%}{%- else %}{{'<｜tool▁call▁begin｜>'+ tool['function']['name'] + '<｜tool▁sep｜>' + tool['function']['arguments'] + '<｜tool▁call▁end｜>'}}{%- endif %}{%- endfor %}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- if message['role'] == 'assistant' and (message['tool_calls'] is not defined or message['tool_calls'] is none) %}{%- if ns.is_last_user %}{{'<｜Assistant｜>'}}{%- if message['prefix'] is defined and message['prefix'] and thinking %}{{'<think>'}}{%- else %}{{'</think>'}}{%- endif %}{%- endif %}{%- set ns.is_last_user = false -%}{%- if ns.is_tool %}{{message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{%- set content = message['content'] -%}{%- if '</think>' in content %}{%- set content = content.split('</think>', 1)[1] -%}{%- endif %}{{content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_last_user = false -%}{%- set ns.is_tool = true -%}{{'<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endfor -%}{%- if add_generation_prompt and ns.is_last_user and not ns.is_tool %}{{'<｜Assistant｜>'}}{%- if not thinking %}{{'</think>'}}{%- else %}{{'<think>'}}{%- endif %}{% endif %}
        """;

    private const string ConversationJson = """
        {
          "bos_token": "<s>",
          "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris? Also say \"hi\"."},
            {"role": "assistant", "content": null, "tool_calls": [
              {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
              {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "{\"temp_c\": 18}"},
            {"role": "tool", "tool_call_id": "c2", "content": "12:00"},
            {"role": "assistant", "content": "<think>\nok\n</think>\n\n  It is 18°C at noon.  "},
            {"role": "user", "content": [{"type": "text", "text": "Thanks"}, {"type": "image", "url": "x"}]}
          ],
          "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather now", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "get_time", "description": "Local time", "parameters": {"type": "object", "properties": {}}}}
          ]
        }
        """;

    public static TheoryData<string, bool, bool, string> Expected => new()
    {
        { nameof(QwenStyle), true, true, "<|im_start|>system\nYou are terse.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather now\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n{\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"description\": \"Local time\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris? Also say \"hi\".<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": \"{}\"}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp_c\": 18}\n</tool_response>\n<tool_response>\n12:00\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\nok\n</think>\n\n  It is 18°C at noon.  <|im_end|>\n<|im_start|>assistant\n" },
        { nameof(QwenStyle), true, false, "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWeather in Paris? Also say \"hi\".<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": \"{}\"}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp_c\": 18}\n</tool_response>\n<tool_response>\n12:00\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\nok\n</think>\n\n  It is 18°C at noon.  <|im_end|>\n<|im_start|>assistant\n" },
        { nameof(QwenStyle), false, true, "<|im_start|>system\nYou are terse.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather now\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n{\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"description\": \"Local time\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris? Also say \"hi\".<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": \"{}\"}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp_c\": 18}\n</tool_response>\n<tool_response>\n12:00\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\nok\n</think>\n\n  It is 18°C at noon.  <|im_end|>\n" },
        { nameof(QwenStyle), false, false, "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWeather in Paris? Also say \"hi\".<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": \"{}\"}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp_c\": 18}\n</tool_response>\n<tool_response>\n12:00\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\nok\n</think>\n\n  It is 18°C at noon.  <|im_end|>\n" },
        { nameof(PlainBlocks), true, true, "System: You are terse.\nUser: Weather in Paris? Also say \"hi\".\n[assistant #3/6]\n[tool #4/6]\n[tool #5/6]\nAssistant: <think>\nok\n</think>\n\n  It is 18°C at noon.\nAssistant:\n" },
        { nameof(PlainBlocks), true, false, "System: You are terse.\nUser: Weather in Paris? Also say \"hi\".\n[assistant #3/6]\n[tool #4/6]\n[tool #5/6]\nAssistant: <think>\nok\n</think>\n\n  It is 18°C at noon.\nAssistant:\n" },
        { nameof(PlainBlocks), false, true, "System: You are terse.\nUser: Weather in Paris? Also say \"hi\".\n[assistant #3/6]\n[tool #4/6]\n[tool #5/6]\nAssistant: <think>\nok\n</think>\n\n  It is 18°C at noon.\n" },
        { nameof(PlainBlocks), false, false, "System: You are terse.\nUser: Weather in Paris? Also say \"hi\".\n[assistant #3/6]\n[tool #4/6]\n[tool #5/6]\nAssistant: <think>\nok\n</think>\n\n  It is 18°C at noon.\n" },
        { nameof(MacroStyle), true, true, "<|system|>You are terse.<|end|>\n<|user|>Weather in Paris? Also say \"hi\".<|end|>\n<|assistant|>(none)<|end|>\n<|tool|>{\"temp_c\": 18}<|end|>\n<|tool|>12:00<|end|>\n<|assistant|><think>\nok\n</think>\n\n  It is 18°C at noon.  <|end|>\n<|user|>Thanks<|end|>\n<|tools|>[\n  {\n    \"type\": \"function\",\n    \"function\": {\n      \"name\": \"get_weather\",\n      \"description\": \"Weather now\",\n      \"parameters\": {\n        \"type\": \"object\",\n        \"properties\": {\n          \"city\": {\n            \"type\": \"string\"\n          }\n        },\n        \"required\": [\n          \"city\"\n        ]\n      }\n    }\n  },\n  {\n    \"type\": \"function\",\n    \"function\": {\n      \"name\": \"get_time\",\n      \"description\": \"Local time\",\n      \"parameters\": {\n        \"type\": \"object\",\n        \"properties\": {}\n      }\n    }\n  }\n]\n1. GET_TIME, 2. GET_WEATHER" },
        { nameof(MacroStyle), true, false, "<|system|>You are terse.<|end|>\n<|user|>Weather in Paris? Also say \"hi\".<|end|>\n<|assistant|>(none)<|end|>\n<|tool|>{\"temp_c\": 18}<|end|>\n<|tool|>12:00<|end|>\n<|assistant|><think>\nok\n</think>\n\n  It is 18°C at noon.  <|end|>\n<|user|>Thanks<|end|>\n" },
        { nameof(MacroStyle), false, true, "<|system|>You are terse.<|end|>\n<|user|>Weather in Paris? Also say \"hi\".<|end|>\n<|assistant|>(none)<|end|>\n<|tool|>{\"temp_c\": 18}<|end|>\n<|tool|>12:00<|end|>\n<|assistant|><think>\nok\n</think>\n\n  It is 18°C at noon.  <|end|>\n<|user|>Thanks<|end|>\n<|tools|>[\n  {\n    \"type\": \"function\",\n    \"function\": {\n      \"name\": \"get_weather\",\n      \"description\": \"Weather now\",\n      \"parameters\": {\n        \"type\": \"object\",\n        \"properties\": {\n          \"city\": {\n            \"type\": \"string\"\n          }\n        },\n        \"required\": [\n          \"city\"\n        ]\n      }\n    }\n  },\n  {\n    \"type\": \"function\",\n    \"function\": {\n      \"name\": \"get_time\",\n      \"description\": \"Local time\",\n      \"parameters\": {\n        \"type\": \"object\",\n        \"properties\": {}\n      }\n    }\n  }\n]\n1. GET_TIME, 2. GET_WEATHER" },
        { nameof(MacroStyle), false, false, "<|system|>You are terse.<|end|>\n<|user|>Weather in Paris? Also say \"hi\".<|end|>\n<|assistant|>(none)<|end|>\n<|tool|>{\"temp_c\": 18}<|end|>\n<|tool|>12:00<|end|>\n<|assistant|><think>\nok\n</think>\n\n  It is 18°C at noon.  <|end|>\n<|user|>Thanks<|end|>\n" },
        { nameof(DeepSeekV31Style), true, true, "<s>You are terse.\n\n## Tools\n\n### get_weather\nDescription: Weather now\n\nParameters: {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}\n\n### get_time\nDescription: Local time\n\nParameters: {\"type\": \"object\", \"properties\": {}}\n<｜User｜>Weather in Paris? Also say \"hi\".<｜Assistant｜></think><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\"}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁output▁begin｜>{\"temp_c\": 18}<｜tool▁output▁end｜><｜tool▁output▁begin｜>12:00<｜tool▁output▁end｜><think>\nok\n</think>\n\n  It is 18°C at noon.  <｜end▁of▁sentence｜>" },
        { nameof(DeepSeekV31Style), true, false, "<s>You are terse.<｜User｜>Weather in Paris? Also say \"hi\".<｜Assistant｜></think><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\"}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁output▁begin｜>{\"temp_c\": 18}<｜tool▁output▁end｜><｜tool▁output▁begin｜>12:00<｜tool▁output▁end｜><think>\nok\n</think>\n\n  It is 18°C at noon.  <｜end▁of▁sentence｜>" },
        { nameof(DeepSeekV31Style), false, true, "<s>You are terse.\n\n## Tools\n\n### get_weather\nDescription: Weather now\n\nParameters: {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}\n\n### get_time\nDescription: Local time\n\nParameters: {\"type\": \"object\", \"properties\": {}}\n<｜User｜>Weather in Paris? Also say \"hi\".<｜Assistant｜></think><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\"}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁output▁begin｜>{\"temp_c\": 18}<｜tool▁output▁end｜><｜tool▁output▁begin｜>12:00<｜tool▁output▁end｜><think>\nok\n</think>\n\n  It is 18°C at noon.  <｜end▁of▁sentence｜>" },
        { nameof(DeepSeekV31Style), false, false, "<s>You are terse.<｜User｜>Weather in Paris? Also say \"hi\".<｜Assistant｜></think><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\"}<｜tool▁call▁end｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁output▁begin｜>{\"temp_c\": 18}<｜tool▁output▁end｜><｜tool▁output▁begin｜>12:00<｜tool▁output▁end｜><think>\nok\n</think>\n\n  It is 18°C at noon.  <｜end▁of▁sentence｜>" },
    };

    [Theory]
    [MemberData(nameof(Expected))]
    public void Renders_like_Jinja2(string templateName, bool addGenerationPrompt, bool withTools, string expected)
    {
        string source = templateName switch
        {
            nameof(QwenStyle) => QwenStyle,
            nameof(PlainBlocks) => PlainBlocks,
            nameof(MacroStyle) => MacroStyle,
            _ => DeepSeekV31Style,
        };
        using JsonDocument conversation = JsonDocument.Parse(ConversationJson);
        JsonElement root = conversation.RootElement;
        IEnumerable<JsonElement> messages = root.GetProperty("messages").EnumerateArray();
        if (templateName != nameof(MacroStyle))
        {
            // Only the macro template handles list-of-parts content; the others get the string-content messages.
            messages = messages.Where(m => m.GetProperty("content").ValueKind != JsonValueKind.Array);
        }

        var variables = new Dictionary<string, object?>
        {
            ["bos_token"] = root.GetProperty("bos_token").GetString(),
            ["messages"] = messages.Select(TemplateValues.FromJson).ToList(),
            ["tools"] = withTools ? TemplateValues.FromJson(root.GetProperty("tools")) : null,
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        if (templateName == nameof(DeepSeekV31Style))
        {
            variables["thinking"] = withTools;
        }

        Assert.Equal(expected, JinjaTemplate.Parse(source).Render(variables));
    }
}
