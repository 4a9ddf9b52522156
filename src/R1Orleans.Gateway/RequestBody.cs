using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace R1Orleans.Gateway;

/// <summary>Reads a JSON request body of at most the configured size (413 beyond it, 400 when it is not JSON).</summary>
internal static class RequestBody
{
    private static readonly JsonDocumentOptions s_options = new() { MaxDepth = 64 };

    public static OpenAiErrorException TooLarge(long maxBytes) =>
        new(413, OpenAiErrorException.InvalidRequestType, $"the request body exceeds the limit of {maxBytes} bytes", null, "request_too_large");

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

        try
        {
            return JsonDocument.Parse(body.WrittenMemory, s_options);
        }
        catch (JsonException e)
        {
            throw OpenAiErrorException.BadRequest($"the request body is not valid JSON: {e.Message}", null, "invalid_json");
        }
    }
}
