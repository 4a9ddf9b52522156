using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Orleans.Text.Chat;

/// <summary>
/// Converts .NET and JSON values into the template value model (Python's None, bool, int, float, str, list and
/// insertion-ordered dict). JSON numbers without a fraction or exponent become integers, others floats, as Python's
/// <c>json.loads</c> does.
/// </summary>
public static class TemplateValues
{
    private const int MaxDepth = 256;

    /// <summary>Converts any supported value; unsupported types throw <see cref="ArgumentException"/>.</summary>
    public static object? FromObject(object? value) => FromObject(value, 0);

    /// <summary>Converts a JSON value (object → dict, array → list, ...).</summary>
    public static object? FromJson(JsonElement element) => FromJson(element, 0);

    /// <summary>
    /// A chat message as the OpenAI API and Hugging Face templates see it: <c>role</c>, <c>content</c> (None when
    /// null), then <c>reasoning_content</c>, <c>tool_calls</c> and <c>tool_call_id</c> only when present.
    /// </summary>
    public static object FromMessage(ChatMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var dict = JinjaValue.NewDict();
        dict["role"] = message.Role;
        dict["content"] = message.Content;
        if (message.ReasoningContent is not null)
        {
            dict["reasoning_content"] = message.ReasoningContent;
        }

        if (message.ToolCalls is not null)
        {
            dict["tool_calls"] = message.ToolCalls.Select(FromToolCall).ToList<object?>();
        }

        if (message.ToolCallId is not null)
        {
            dict["tool_call_id"] = message.ToolCallId;
        }

        return dict;
    }

    /// <summary><c>{"id"?, "type", "function": {"name", "arguments"}}</c>; arguments stay a JSON string.</summary>
    public static object FromToolCall(ToolCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var function = JinjaValue.NewDict();
        function["name"] = call.FunctionName;
        function["arguments"] = call.Arguments;
        var dict = JinjaValue.NewDict();
        if (call.Id is not null)
        {
            dict["id"] = call.Id;
        }

        dict["type"] = call.Type;
        dict["function"] = function;
        return dict;
    }

    /// <summary><c>{"type": "function", "function": {"name", "description"?, "parameters"?}}</c>.</summary>
    public static object FromToolDefinition(ToolDefinition tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        var function = JinjaValue.NewDict();
        function["name"] = tool.Name;
        if (tool.Description is not null)
        {
            function["description"] = tool.Description;
        }

        if (tool.Parameters is { } parameters)
        {
            function["parameters"] = FromJson(parameters);
        }

        var dict = JinjaValue.NewDict();
        dict["type"] = "function";
        dict["function"] = function;
        return dict;
    }

    private static object? FromObject(object? value, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ArgumentException("template value nested too deeply");
        }

        switch (value)
        {
            case null:
                return null;
            case string or bool or JinjaUndefined or JinjaCallable or JinjaNamespace:
                return value;
            case sbyte or byte or short or ushort or int or uint or long:
                return Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
            case ulong u:
                return u <= long.MaxValue ? (object)(long)u : (double)u;
            case float f:
                return (double)f;
            case double d:
                return d;
            case decimal m:
                return (double)m;
            case JsonElement element:
                return FromJson(element, depth);
            case JsonNode node:
                return FromJson(JsonSerializer.SerializeToElement(node), depth);
            case ChatMessage message:
                return FromMessage(message);
            case ToolCall call:
                return FromToolCall(call);
            case ToolDefinition tool:
                return FromToolDefinition(tool);
            case object?[] tuple when value.GetType() == typeof(object[]):
                return tuple.Select(x => FromObject(x, depth + 1)).ToList();
            case OrderedDictionary<object, object?> ordered:
                var copy = JinjaValue.NewDict();
                foreach (KeyValuePair<object, object?> kv in ordered)
                {
                    copy[kv.Key] = FromObject(kv.Value, depth + 1);
                }

                return copy;
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                var dict = JinjaValue.NewDict();
                foreach (KeyValuePair<string, object?> kv in pairs)
                {
                    dict[kv.Key] = FromObject(kv.Value, depth + 1);
                }

                return dict;
            case IDictionary map:
                var fromMap = JinjaValue.NewDict();
                foreach (DictionaryEntry entry in map)
                {
                    object key = FromObject(entry.Key, depth + 1) ?? throw new ArgumentException("dictionary keys must not be null");
                    fromMap[key] = FromObject(entry.Value, depth + 1);
                }

                return fromMap;
            case IEnumerable items:
                var list = new List<object?>();
                foreach (object? item in items)
                {
                    list.Add(FromObject(item, depth + 1));
                }

                return list;
            default:
                throw new ArgumentException($"values of type {value.GetType()} cannot be passed to a template");
        }
    }

    private static object? FromJson(JsonElement element, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ArgumentException("JSON value nested too deeply");
        }

        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var dict = JinjaValue.NewDict();
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    dict[property.Name] = FromJson(property.Value, depth + 1);
                }

                return dict;
            case JsonValueKind.Array:
                var list = new List<object?>(element.GetArrayLength());
                foreach (JsonElement item in element.EnumerateArray())
                {
                    list.Add(FromJson(item, depth + 1));
                }

                return list;
            case JsonValueKind.String:
                return element.GetString();
            case JsonValueKind.Number:
                string raw = element.GetRawText();
                bool integral = raw.IndexOfAny(['.', 'e', 'E']) < 0;
                return integral && element.TryGetInt64(out long l) ? (object)l : (object)element.GetDouble();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            default:
                return null;
        }
    }
}
