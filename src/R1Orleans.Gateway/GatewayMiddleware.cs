using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace R1Orleans.Gateway;

/// <summary>
/// The outermost gateway middleware: every error leaves in OpenAI's envelope. An <see cref="OpenAiErrorException"/>
/// becomes its status; Kestrel's bad requests (body too large) theirs; anything else a logged 500 with a generic
/// message; an empty 4xx/5xx answer (unknown route, wrong method: its Allow header kept) gets an envelope too.
/// </summary>
internal sealed partial class GatewayErrorMiddleware(RequestDelegate next, ILogger<GatewayErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext http)
    {
        try
        {
            await next(http).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody to answer.
            return;
        }
        catch (OpenAiErrorException e)
        {
            if (e.Status >= 500)
            {
                LogServerError(logger, e.Status, http.Request.Method, http.Request.Path.Value ?? "", e.InnerException ?? e);
            }

            await WriteErrorAsync(http, e).ConfigureAwait(false);
            return;
        }
        catch (BadHttpRequestException e)
        {
            await WriteErrorAsync(http, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? new OpenAiErrorException(413, OpenAiErrorException.InvalidRequestType, "the request body is too large", null, "request_too_large")
                : new OpenAiErrorException(e.StatusCode, OpenAiErrorException.InvalidRequestType, "bad request", null, null)).ConfigureAwait(false);
            return;
        }
        catch (Exception e)
        {
            LogUnexpected(logger, http.Request.Method, http.Request.Path.Value ?? "", e);
            await WriteErrorAsync(http, new OpenAiErrorException(500, OpenAiErrorException.ServerErrorType, "internal server error", null, null)).ConfigureAwait(false);
            return;
        }

        if (!http.Response.HasStarted && http.Response.StatusCode >= 400 && http.Response.ContentLength is null && http.Response.ContentType is null)
        {
            int status = http.Response.StatusCode;
            string route = $"{http.Request.Method} {http.Request.Path}";
            await WriteErrorAsync(http, status switch
            {
                404 => new OpenAiErrorException(404, OpenAiErrorException.InvalidRequestType, $"Invalid URL ({route})", null, "unknown_url"),
                405 => new OpenAiErrorException(405, OpenAiErrorException.InvalidRequestType, $"Method not allowed ({route})", null, "method_not_allowed"),
                < 500 => new OpenAiErrorException(status, OpenAiErrorException.InvalidRequestType, $"request failed with status {status}", null, null),
                _ => new OpenAiErrorException(status, OpenAiErrorException.ServerErrorType, $"request failed with status {status}", null, null),
            }).ConfigureAwait(false);
        }
    }

    internal static async Task WriteErrorAsync(HttpContext http, OpenAiErrorException e)
    {
        if (http.Response.HasStarted)
        {
            // Too late for a status: end the connection rather than leave a truncated body looking complete.
            http.Abort();
            return;
        }

        // Routing's 405 names the allowed methods in Allow (RFC 9110 requires it); keep it through the reset.
        Microsoft.Extensions.Primitives.StringValues allow = http.Response.Headers.Allow;
        http.Response.Clear();
        if (e.Status == StatusCodes.Status405MethodNotAllowed && allow.Count > 0)
        {
            http.Response.Headers.Allow = allow;
        }

        if (e.RetryAfterSeconds is int seconds)
        {
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        if (e.Status == StatusCodes.Status401Unauthorized)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
        }

        await GatewayEndpoints.WriteJsonAsync(http, e.Status, e.WriteEnvelope).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed with an unexpected exception")]
    private static partial void LogUnexpected(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} answered {Status}")]
    private static partial void LogServerError(ILogger logger, int status, string method, string path, Exception exception);
}

/// <summary>
/// Optional bearer keys on /v1/*: with keys configured, a request must send <c>Authorization: Bearer KEY</c> for one of
/// them (compared in constant time, over SHA-256 digests so lengths do not leak either), else 401.
/// </summary>
internal sealed class ApiKeyMiddleware
{
    private static readonly PathString s_api = new("/v1");

    private readonly RequestDelegate _next;
    private readonly byte[][] _keyDigests;

    public ApiKeyMiddleware(RequestDelegate next, IOptions<GatewayOptions> options)
    {
        _next = next;
        _keyDigests = [.. options.Value.ApiKeys.Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];
    }

    public Task InvokeAsync(HttpContext http)
    {
        if (_keyDigests.Length == 0 || !http.Request.Path.StartsWithSegments(s_api) || Authorized(http.Request.Headers.Authorization.ToString()))
        {
            return _next(http);
        }

        throw new OpenAiErrorException(401, OpenAiErrorException.InvalidRequestType,
            "Incorrect or missing API key: send 'Authorization: Bearer <key>' with a key this server accepts.", null, "invalid_api_key");
    }

    private bool Authorized(string header)
    {
        const string Scheme = "Bearer ";
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        byte[] digest = SHA256.HashData(Encoding.UTF8.GetBytes(header[Scheme.Length..].Trim()));
        bool ok = false;
        foreach (byte[] key in _keyDigests)
        {
            // No early exit: the time taken does not depend on which key (if any) matched.
            ok |= CryptographicOperations.FixedTimeEquals(digest, key);
        }

        return ok;
    }
}
