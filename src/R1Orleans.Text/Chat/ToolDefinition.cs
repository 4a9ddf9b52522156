using System.Text.Json;

namespace R1Orleans.Text.Chat;

/// <summary>A tool offered to the model: a function with an optional description and JSON-schema parameters.</summary>
public sealed record ToolDefinition(string Name, string? Description = null, JsonElement? Parameters = null);
