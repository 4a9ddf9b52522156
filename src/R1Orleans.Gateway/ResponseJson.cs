using System.Text.Encodings.Web;
using System.Text.Json;

namespace R1Orleans.Gateway;

/// <summary>
/// How every response body is written: UTF-8 JSON that escapes only what JSON requires, so "47 + 385" and "<think>"
/// reach clients as written (as other OpenAI-compatible servers send them), not as \u002B or \u003C. Responses are
/// application/json or text/event-stream, never embedded in HTML.
/// </summary>
internal static class ResponseJson
{
    public static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
