using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace R1Orleans.Gateway.Tests;

/// <summary>HTTP-level behaviour as OpenAI's API has it: media types, HEAD, Allow on 405, and bodies that are not UTF-8.</summary>
[Collection(GatewayCollection.Name)]
public sealed class HttpConformanceTests(GatewayFixture fx)
{
    private const string ChatJson = """{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}""";

    [Theory]
    [InlineData("/v1/chat/completions", "text/plain")]
    [InlineData("/v1/chat/completions", "application/x-www-form-urlencoded")]
    [InlineData("/v1/chat/completions", "multipart/form-data; boundary=x")]
    [InlineData("/v1/completions", "text/plain; charset=utf-8")]
    [InlineData("/v1/completions", "application/xml")]
    [InlineData("/v1/chat/completions", "application/json; charset=utf-16")]
    [InlineData("/v1/chat/completions", null)]
    public async Task A_body_that_is_not_declared_json_is_415(string path, string? contentType)
    {
        // text/plain, form and multipart bodies (and none at all) are what a web page may post cross-site without a CORS
        // preflight: refusing them keeps a browser from driving a local server.
        long generated = fx.Engine.Stats.GeneratedTokens;
        string body = path.EndsWith("chat/completions", StringComparison.Ordinal) ? ChatJson : """{"prompt":"hi","max_tokens":2}""";
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        using HttpResponseMessage response = await fx.Server.Http.PostAsync(path, content);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        (string message, string type, string? param, string? code) = Api.Error(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement);
        Assert.Equal(("invalid_request_error", null, "unsupported_media_type"), (type, param, code));
        Assert.Contains("application/json", message, StringComparison.Ordinal);
        Assert.Equal(generated, fx.Engine.Stats.GeneratedTokens);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("Application/JSON; charset=UTF-8")]
    public async Task Json_media_types_are_accepted(string contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(ChatJson));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using HttpResponseMessage response = await fx.Server.Http.PostAsync("/v1/chat/completions", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Raw_invalid_utf8_in_a_body_is_a_400_that_says_invalid_utf8()
    {
        byte[] body = [.. Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"a"""), 0xFF, 0xC3, .. Encoding.UTF8.GetBytes("""b"}]}""")];
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using HttpResponseMessage response = await fx.Server.Http.PostAsync("/v1/chat/completions", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        (string message, _, _, string? code) = Api.Error(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement);
        Assert.Equal("invalid_json", code);
        Assert.Contains("invalid UTF-8", message, StringComparison.Ordinal);
        Assert.DoesNotContain("surrogate", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/v1/chat/completions", "POST")]
    [InlineData("PUT", "/v1/completions", "POST")]
    [InlineData("DELETE", "/v1/models", "GET, HEAD")]
    [InlineData("POST", "/health", "GET, HEAD")]
    [InlineData("POST", "/metrics", "GET, HEAD")]
    public async Task Method_not_allowed_names_the_allowed_methods(string method, string path, string allowed)
    {
        using HttpResponseMessage response = await fx.Server.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(allowed.Split(", ").Order(), response.Content.Headers.Allow.Order());
        Assert.Equal("method_not_allowed", Api.Error(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement).Code);
    }

    [Theory]
    [InlineData("/health", "application/json")]
    [InlineData("/v1/models", "application/json")]
    [InlineData("/v1/models/" + GatewayServer.ModelId, "application/json")]
    [InlineData("/metrics", "text/plain")]
    public async Task Head_answers_wherever_get_does_without_a_body(string path, string mediaType)
    {
        using HttpResponseMessage get = await fx.Server.Http.GetAsync(path);
        using HttpResponseMessage head = await fx.Server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(mediaType, head.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.NotEmpty(await get.Content.ReadAsByteArrayAsync());
    }
}
