using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Orleans.Client.Http;

/// <summary>A failed call to an OpenAI-compatible server: HTTP status (when there was a response) and the server's message.</summary>
public sealed class OpenAiException : Exception
{
    public OpenAiException(string message, HttpStatusCode? status = null)
        : base(message) => Status = status;

    public OpenAiException()
    {
    }

    public OpenAiException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public HttpStatusCode? Status { get; }
}

/// <summary>One entry of <c>/v1/models</c>.</summary>
public sealed record ModelInfo(string Id, string? OwnedBy, long? Created);

/// <summary>One chat message.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>Sampling and request options shared by chat and completions requests; null fields are not sent.</summary>
public sealed record GenerationOptions
{
    public required string Model { get; init; }

    public double? Temperature { get; init; }

    public int? MaxTokens { get; init; }

    public int? Seed { get; init; }

    public bool Stream { get; init; } = true;

    /// <summary>Sends <c>stream_options: {"include_usage": true}</c> so the last chunk reports token counts.</summary>
    public bool IncludeUsage { get; init; } = true;

    /// <summary>Sends the non-standard <c>"ignore_eos": true</c> (vLLM, SGLang, TensorRT-LLM) so the server generates exactly max_tokens.</summary>
    public bool IgnoreEos { get; init; }
}

/// <summary>
/// A small OpenAI-compatible HTTP client on <see cref="HttpClient"/>: lists models, posts chat/completions requests and reads
/// their server-sent-event streams with <see cref="SseParser"/> (which also sees non-standard fields such as reasoning_content).
/// </summary>
public sealed class OpenAiClient : IDisposable
{
    public const string DefaultUrl = "http://127.0.0.1:8000";

    private readonly HttpClient _http;

    public OpenAiClient(string url, string? apiKey, HttpMessageHandler? handler = null)
    {
        BaseUri = NormalizeBaseUri(url);
        _http = new HttpClient(handler ?? CreateHandler(), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(apiKey))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("r1", "1.0"));
    }

    /// <summary>The API root ending in <c>/v1/</c>.</summary>
    public Uri BaseUri { get; }

    /// <summary>
    /// The API root for a server URL: <c>http://host:8000</c>, <c>http://host:8000/</c> and <c>http://host:8000/v1</c> all give
    /// <c>http://host:8000/v1/</c>; a path that already ends in <c>/v1</c> is kept (<c>https://host/openai/v1</c>).
    /// </summary>
    public static Uri NormalizeBaseUri(string url)
    {
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"not an http(s) URL: {url}", nameof(url));
        }

        string path = uri.AbsolutePath.TrimEnd('/');
        if (!path.EndsWith("/v1", StringComparison.Ordinal))
        {
            path += "/v1";
        }

        return new UriBuilder(uri) { Path = path + "/", Query = "", Fragment = "" }.Uri;
    }

    /// <summary>The API key: the option, else <c>R1ORLEANS_API_KEY</c>, else <c>OPENAI_API_KEY</c>, else none.</summary>
    public static string? ResolveApiKey(string? option)
    {
        foreach (string? key in new[] { option, Environment.GetEnvironmentVariable("R1ORLEANS_API_KEY"), Environment.GetEnvironmentVariable("OPENAI_API_KEY") })
        {
            if (!string.IsNullOrWhiteSpace(key))
            {
                return key.Trim();
            }
        }

        return null;
    }

    /// <summary>A handler for many concurrent streams: no per-server connection cap, connect timeout, no proxy surprises for loopback.</summary>
    public static SocketsHttpHandler CreateHandler() => new()
    {
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        ConnectTimeout = TimeSpan.FromSeconds(15),
        AutomaticDecompression = DecompressionMethods.None,
    };

    public async Task<IReadOnlyList<ModelInfo>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        string json = await GetStringAsync("models", cancellationToken).ConfigureAwait(false);
        return ParseModels(json);
    }

    /// <summary>The raw JSON of <c>/v1/models</c>.</summary>
    public async Task<string> GetStringAsync(string path, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUri, path));
        using HttpResponseMessage response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>POSTs without a body (the control endpoints take their arguments in the query) and returns the raw JSON.</summary>
    public async Task<string> PostStringAsync(string path, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUri, path));
        using HttpResponseMessage response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    public static IReadOnlyList<ModelInfo> ParseModels(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("data", out JsonElement data) || data.ValueKind != JsonValueKind.Array)
            {
                throw new OpenAiException("/v1/models: no \"data\" array in the response");
            }

            var models = new List<ModelInfo>();
            foreach (JsonElement m in data.EnumerateArray())
            {
                if (m.ValueKind == JsonValueKind.Object && m.TryGetProperty("id", out JsonElement id) && id.ValueKind == JsonValueKind.String)
                {
                    string? owner = m.TryGetProperty("owned_by", out JsonElement o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
                    long? created = m.TryGetProperty("created", out JsonElement c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt64(out long t) ? t : null;
                    models.Add(new ModelInfo(id.GetString()!, owner, created));
                }
            }

            return models;
        }
        catch (JsonException e)
        {
            throw new OpenAiException("/v1/models: the response is not JSON: " + e.Message);
        }
    }

    /// <summary>The model to use: the given one, else the first that <c>/v1/models</c> lists.</summary>
    public async Task<string> ResolveModelAsync(string? model, CancellationToken cancellationToken = default)
    {
        if (!string.IsNullOrWhiteSpace(model))
        {
            return model;
        }

        IReadOnlyList<ModelInfo> models = await ListModelsAsync(cancellationToken).ConfigureAwait(false);
        return models.Count > 0 ? models[0].Id : throw new OpenAiException($"{new Uri(BaseUri, "models")} lists no models; give --model");
    }

    public static JsonObject ChatRequest(IEnumerable<ChatMessage> messages, GenerationOptions options)
    {
        var array = new JsonArray();
        foreach (ChatMessage m in messages)
        {
            array.Add(new JsonObject { ["role"] = m.Role, ["content"] = m.Content });
        }

        JsonObject body = Common(options);
        body["messages"] = array;
        return body;
    }

    public static JsonObject CompletionRequest(string prompt, GenerationOptions options)
    {
        JsonObject body = Common(options);
        body["prompt"] = prompt;
        return body;
    }

    /// <summary>
    /// Posts a streaming request (<c>"stream": true</c> in <paramref name="body"/>) to <paramref name="path"/> (relative to /v1/) and
    /// yields one chunk per server-sent event as it arrives, ending after <c>[DONE]</c> or the end of the stream. Error events are
    /// yielded as chunks with <see cref="CompletionChunk.Error"/> set; an HTTP error status throws <see cref="OpenAiException"/>.
    /// </summary>
    public async IAsyncEnumerable<CompletionChunk> StreamAsync(string path, JsonObject body, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using HttpRequestMessage request = Post(path, body);
        using HttpResponseMessage response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        string? mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is "application/json")
        {
            // A server that ignored "stream": true (or answered with an error object and a 200).
            string json = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            yield return CompletionChunkParser.ParseJson(json);
            yield break;
        }

        Stream stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            await foreach (SseEvent e in SseParser.ReadAsync(stream, cancellationToken).ConfigureAwait(false))
            {
                CompletionChunk chunk = CompletionChunkParser.Parse(e);
                yield return chunk;
                if (chunk.IsDone)
                {
                    yield break;
                }
            }
        }
    }

    /// <summary>Posts a non-streaming request and returns the whole answer as one chunk (an error body throws).</summary>
    public async Task<CompletionChunk> PostAsync(string path, JsonObject body, CancellationToken cancellationToken = default)
    {
        using HttpRequestMessage request = Post(path, body);
        using HttpResponseMessage response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        string json = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        CompletionChunk chunk = CompletionChunkParser.ParseJson(json);
        return chunk.Error is null ? chunk : throw new OpenAiException(chunk.Error);
    }

    public void Dispose() => _http.Dispose();

    private static JsonObject Common(GenerationOptions o)
    {
        var body = new JsonObject { ["model"] = o.Model, ["stream"] = o.Stream };
        if (o.Stream && o.IncludeUsage)
        {
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
        }

        if (o.Temperature is double t)
        {
            body["temperature"] = t;
        }

        if (o.MaxTokens is int max)
        {
            body["max_tokens"] = max;
        }

        if (o.Seed is int seed)
        {
            body["seed"] = seed;
        }

        if (o.IgnoreEos)
        {
            body["ignore_eos"] = true;
        }

        return body;
    }

    private HttpRequestMessage Post(string path, JsonObject body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUri, path))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        try
        {
            return await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new OpenAiException($"{request.RequestUri}: {e.Message}", e);
        }
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        string detail = body.Trim();
        if (detail.StartsWith('{'))
        {
            CompletionChunk parsed = CompletionChunkParser.ParseJson(detail);
            detail = parsed.Error ?? detail;
        }

        int code = (int)response.StatusCode;
        string reason = response.ReasonPhrase ?? response.StatusCode.ToString();
        throw new OpenAiException(
            $"HTTP {code} {reason}" + (detail.Length > 0 ? ": " + CompletionChunkParser.Truncate(detail.ReplaceLineEndings(" "), 300) : ""),
            response.StatusCode);
    }
}
