using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace R1Orleans.Gateway;

/// <summary>
/// Reads a JSON request body of at most the configured size: 415 unless it is declared <c>application/json</c> (UTF-8),
/// 413 beyond the size, 400 when it is not UTF-8 or not JSON.
/// </summary>
internal static class RequestBody
{
    private static readonly JsonDocumentOptions s_options = new() { MaxDepth = 64 };

    public static OpenAiErrorException TooLarge(long maxBytes) =>
        new(413, OpenAiErrorException.InvalidRequestType, $"the request body exceeds the limit of {maxBytes} bytes", null, "request_too_large");

    /// <summary>
    /// Refuses (415) a body not declared as JSON: <c>application/json</c> or <c>application/*+json</c>, in UTF-8 when a
    /// charset is given. A missing Content-Type is refused too. Text, form and multipart types, and no type at all, are
    /// what a web page may post to another origin without a CORS preflight (a Blob or byte-array body carries no type);
    /// refusing them keeps a browser page from driving a server on localhost. OpenAI's clients, curl with
    /// <c>-H "Content-Type: application/json"</c> and the r1 client all send the header.
    /// </summary>
    public static void RequireJson(HttpRequest request)
    {
        string? header = request.ContentType;
        if (string.IsNullOrWhiteSpace(header))
        {
            throw UnsupportedMediaType("the request has no Content-Type header; send the JSON body with 'Content-Type: application/json' "
                + "(bodies without one are refused so that a web page cannot post to this server without a CORS preflight)");
        }

        if (!MediaTypeHeaderValue.TryParse(header, out MediaTypeHeaderValue? type) || !IsJson(type))
        {
            throw UnsupportedMediaType($"Content-Type '{header}' is not supported; send the JSON body with 'Content-Type: application/json'");
        }

        StringSegment charset = type.Charset;
        if (charset.HasValue && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            throw UnsupportedMediaType($"charset '{charset}' is not supported; send the JSON body in UTF-8 with 'Content-Type: application/json'");
        }
    }

    private static bool IsJson(MediaTypeHeaderValue type) =>
        type.Type.Equals("application", StringComparison.OrdinalIgnoreCase)
        && (type.SubType.Equals("json", StringComparison.OrdinalIgnoreCase) || type.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    private static OpenAiErrorException UnsupportedMediaType(string message) =>
        new(StatusCodes.Status415UnsupportedMediaType, OpenAiErrorException.InvalidRequestType, message, null, "unsupported_media_type");

    public static async Task<JsonDocument> ReadJsonAsync(HttpContext http, long maxBytes)
    {
        if (http.Request.ContentLength is long declared && declared > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        var body = new ArrayBufferWriter<byte>(http.Request.ContentLength is long n and > 0 ? (int)n : 4096);
        Stream stream = http.Request.Body;
        while (true)
        {
            Memory<byte> target = body.GetMemory(8192);
            int read = await stream.ReadAsync(target, http.RequestAborted).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            body.Advance(read);
            if (body.WrittenCount > maxBytes)
            {
                throw TooLarge(maxBytes);
            }
        }

        if (body.WrittenCount == 0)
        {
            throw OpenAiErrorException.BadRequest("the request body is empty; expected a JSON object", null, "invalid_json");
        }

        // JsonDocument checks UTF-8 only when a string is read; say what is wrong before that.
        if (!System.Text.Unicode.Utf8.IsValid(body.WrittenSpan))
        {
            throw OpenAiErrorException.BadRequest($"the request body is invalid UTF-8 (byte offset {InvalidUtf8Offset(body.WrittenSpan)})", null, "invalid_json");
        }

        try
        {
            return JsonDocument.Parse(body.WrittenMemory, s_options);
        }
        catch (JsonException e)
        {
            throw OpenAiErrorException.BadRequest($"the request body is not valid JSON: {e.Message}", null, "invalid_json");
        }
    }

    private static int InvalidUtf8Offset(ReadOnlySpan<byte> bytes)
    {
        int offset = 0;
        while (offset < bytes.Length && Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed) == OperationStatus.Done)
        {
            offset += consumed;
        }

        return offset;
    }
}
