using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Gateway.Membership;
using R1Orleans.Gateway.Ranks;

namespace R1Orleans.Gateway;

/// <summary>The request handlers of the OpenAI-compatible API and /health (/metrics: <see cref="GatewayTelemetry"/>).</summary>
internal sealed class GatewayEndpoints(ModelHost host, IRankRouter ranks, MembershipStoreStatus membershipStore, RequestTable requests, IOptions<GatewayOptions> options, GatewayMetrics metrics, TokenizerGate tokenizerGate, ILogger<GatewayEndpoints> logger)
{
    private GatewayOptions Options => options.Value;

    public Task ChatCompletionsAsync(HttpContext http) => GenerateAsync(http, chat: true);

    public Task CompletionsAsync(HttpContext http) => GenerateAsync(http, chat: false);

    public Task ModelsAsync(HttpContext http)
    {
        (InferenceEngine engine, ServedModelInfo info) = RequireReady();
        return WriteJsonAsync(http, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            WriteModel(w, engine, info);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public Task ModelAsync(HttpContext http)
    {
        (InferenceEngine engine, ServedModelInfo info) = RequireReady();
        string id = http.Request.RouteValues["id"] as string ?? "";
        CheckModel(id, info);
        return WriteJsonAsync(http, StatusCodes.Status200OK, w => WriteModel(w, engine, info));
    }

    public Task HealthAsync(HttpContext http)
    {
        string? unready = host.IsReady ? ranks.Unready : null;
        if (host.TryGet(out _, out ServedModelInfo? info) && unready is null)
        {
            return WriteJsonAsync(http, StatusCodes.Status200OK, w =>
            {
                // A membership store that does not answer leaves the silo serving (200): it is "degraded", not down.
                MembershipStoreReport? store = membershipStore.Report;
                w.WriteStartObject();
                w.WriteString("status", store is { Reachable: false } ? "degraded" : "ok");
                w.WriteString("model", info.Id);
                WriteMembershipStore(w, store);
                w.WriteEndObject();
            });
        }

        http.Response.Headers.RetryAfter = Options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return WriteJsonAsync(http, StatusCodes.Status503ServiceUnavailable, w =>
        {
            w.WriteStartObject();
            w.WriteString("status", unready is null ? "loading" : "unavailable");
            w.WriteString("detail", unready ?? host.LoadingStatus);
            WriteMembershipStore(w, membershipStore.Report);
            w.WriteEndObject();
        });
    }

    /// <summary>The membership store's state (Redis clustering only): reachable or unreachable since when, and why.</summary>
    private static void WriteMembershipStore(Utf8JsonWriter w, MembershipStoreReport? store)
    {
        if (store is null)
        {
            return;
        }

        w.WriteStartObject("membershipStore");
        w.WriteString("store", store.Store);
        w.WriteString("state", store.State);
        if (store.UnreachableSince is { } since)
        {
            w.WriteString("unreachableSince", since);
        }

        if (store.Error is { } error)
        {
            w.WriteString("error", error);
        }

        w.WriteString("persistence", store.Persistence);
        w.WriteNumber("tableRestores", store.TableRestores);
        w.WriteEndObject();
    }

    private async Task GenerateAsync(HttpContext http, bool chat)
    {
        long start = Stopwatch.GetTimestamp();
        RequestBody.RequireJson(http.Request);
        (InferenceEngine engine, ServedModelInfo info) = RequireReady();
        GatewayOptions o = Options;
        using JsonDocument body = await RequestBody.ReadJsonAsync(http, o.MaxBodyBytes).ConfigureAwait(false);
        GenerationSpec spec;
        try
        {
            SamplingDefaults defaults = o.UsesGenerationConfig ? engine.SamplingDefaults : SamplingDefaults.None;
            spec = chat ? OpenAiRequests.ParseChat(body.RootElement, defaults) : OpenAiRequests.ParseCompletion(body.RootElement, defaults);
        }
        catch (InvalidOperationException)
        {
            // JsonElement.GetString on an escaped lone surrogate ("\ud800"): valid JSON, not valid text.
            throw OpenAiErrorException.BadRequest("the request holds a string that is not valid Unicode (an unpaired surrogate)", null, "invalid_json");
        }
        if (spec.Model is string model)
        {
            CheckModel(model, info);
        }

        GenerationPlan plan = await GenerationPlanner.PlanAsync(engine, ranks, o, spec, tokenizerGate, http.RequestAborted).ConfigureAwait(false);
        ResponseFormat format = chat ? new ChatFormat(engine.Tokenizer) : new CompletionFormat(engine.Tokenizer);
        using var run = new GenerationRun(plan, metrics, requests, ranks, start, http.RequestAborted);
        await new GenerationResponder(http, format, spec, plan, info, o, logger).RespondAsync(run).ConfigureAwait(false);
    }

    private (InferenceEngine, ServedModelInfo) RequireReady()
    {
        if (host.TryGet(out InferenceEngine? engine, out ServedModelInfo? info))
        {
            return (engine, info);
        }

        throw new OpenAiErrorException(503, OpenAiErrorException.ServerErrorType, $"the model is not ready yet ({host.LoadingStatus}); retry later", null, "model_not_ready")
        {
            RetryAfterSeconds = Options.RetryAfterSeconds,
        };
    }

    private static void CheckModel(string model, ServedModelInfo info)
    {
        if (!string.Equals(model, info.Id, StringComparison.Ordinal))
        {
            throw new OpenAiErrorException(404, OpenAiErrorException.InvalidRequestType, $"The model `{model}` does not exist. This server serves `{info.Id}`.", "model", "model_not_found");
        }
    }

    private static void WriteModel(Utf8JsonWriter w, InferenceEngine engine, ServedModelInfo info)
    {
        w.WriteStartObject();
        w.WriteString("id", info.Id);
        w.WriteString("object", "model");
        w.WriteNumber("created", info.Created.ToUnixTimeSeconds());
        w.WriteString("owned_by", info.OwnedBy);
        w.WriteString("description", info.Description);
        w.WriteNumber("max_model_len", engine.Core.MaxModelLen);
        w.WriteEndObject();
    }

    internal static async Task WriteJsonAsync(HttpContext http, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, ResponseJson.Options))
        {
            write(w);
        }

        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = buffer.WrittenCount;
        await http.Response.Body.WriteAsync(buffer.WrittenMemory, http.RequestAborted).ConfigureAwait(false);
    }
}
