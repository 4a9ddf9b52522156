using System.Text.Json;

namespace R1Orleans.Text.Tokenization;

/// <summary>Small helpers for reading tokenizer.json with clear errors.</summary>
internal static class TokenizerJson
{
    public static string RequiredString(JsonElement e, string name, string where)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out JsonElement v) || v.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException($"tokenizer.json: {where} lacks the string field '{name}'");
        }

        return v.GetString()!;
    }

    public static JsonElement.ArrayEnumerator RequiredArray(JsonElement e, string name, string where)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out JsonElement v) || v.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"tokenizer.json: {where} lacks the array field '{name}'");
        }

        return v.EnumerateArray();
    }

    public static bool? OptionalBool(JsonElement e, string name)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out JsonElement v))
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            _ => throw new InvalidDataException($"tokenizer.json: field '{name}' must be a boolean"),
        };
    }

    /// <summary>The property, or null when it is absent or a JSON null.</summary>
    public static JsonElement? Optional(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null ? v : null;
}
