using System.ClientModel;
using System.Net;
using System.Text.Json;
using OpenAI.Chat;
using R1Orleans.Tests.Shared;
using static R1Orleans.Cluster.Tests.ClusterHttp;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// Three silo processes on loopback joined through a real redis-server, experts spread over them and exchanged over
/// UCX (shared memory, then TCP), driven by the official OpenAI client through one silo's HTTP: greedy and
/// seeded-sampling answers, streamed and not, are exactly a single silo's, one at a time and all at once (spread over
/// the three ranks by the gateway); each silo holds a strict subset of the experts, runs requests as a rank and sends
/// dispatch bytes.
/// </summary>
public sealed class RedisClusterProcessTests
{
    private static readonly (string Question, float Temperature, long? Seed)[] s_requests =
    [
        ("What is 47 + 385?", 0f, null),
        ("What is 23 * 47?", 0f, null),
        ("What is 618 - 259?", 0.8f, 7),
        ("What is 905 + 96?", 1.0f, 12345),
    ];

    [Theory]
    [InlineData("posix,cma,self")]
    [InlineData("tcp,self")]
    public async Task Three_silo_processes_through_redis_answer_exactly_as_one_silo(string tls)
    {
        var environment = new Dictionary<string, string> { ["UCX_TLS"] = tls, ["UCX_NET_DEVICES"] = "lo" };
        await using RedisServer redis = await RedisServer.StartAsync();
        string cluster = $"cluster-{Guid.NewGuid():N}";
        string[] common = ["--clustering", "redis", "--redis", redis.Address, "--cluster-id", cluster, "--Logging:LogLevel:Default", "Warning"];
        await using SiloProcess single = SiloProcess.Start(http: true, environment, "--Logging:LogLevel:Default", "Warning");
        await using SiloProcess gateway = SiloProcess.Start(http: true, environment, [.. common, "--node", "node-a"]);
        await using SiloProcess worker1 = SiloProcess.Start(http: false, environment, [.. common, "--node", "node-b"]);
        await using SiloProcess worker2 = SiloProcess.Start(http: false, environment, [.. common, "--node", "node-c"]);
        SiloProcess[] all = [single, gateway, worker1, worker2];

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await WaitUntil(async () => await Healthy(http, single) && await Healthy(http, gateway) && await PlacedOverThree(http, gateway), all, TimeSpan.FromSeconds(120));

        using (JsonDocument status = JsonDocument.Parse(await http.GetStringAsync(new Uri(gateway.Url, "/cluster/status"))))
        {
            JsonElement[] silos = [.. status.RootElement.GetProperty("silos").EnumerateArray()];
            Assert.Equal(3, silos.Length);
            Assert.Equal(["node-a", "node-b", "node-c"], silos.Select(s => s.GetProperty("node").GetString()));
            int total = silos.Sum(s => s.GetProperty("expertsPlaced").GetInt32());
            Assert.All(silos, s => Assert.InRange(s.GetProperty("expertsPlaced").GetInt32(), 1, total - 1));
        }

        ChatClient reference = ChatClientOf(single), distributed = ChatClientOf(gateway);
        var expected = new List<string>();
        foreach ((string question, float temperature, long? seed) in s_requests)
        {
            ChatCompletionOptions options = Options(temperature, seed);
            string answer = await Answer(reference, question, options), streamed = await Streamed(reference, question, options);
            Assert.Equal(answer, await Answer(distributed, question, options));
            Assert.Equal(streamed, await Streamed(distributed, question, options));
            expected.AddRange([answer, streamed]);
        }

        // All at once: the gateway sends each to the least-loaded rank, so the other silos' ranks run some of them.
        string[] concurrent = await Task.WhenAll(s_requests.SelectMany(r => new[]
        {
            Answer(distributed, r.Question, Options(r.Temperature, r.Seed)),
            Streamed(distributed, r.Question, Options(r.Temperature, r.Seed)),
        }));
        Assert.Equal(expected, concurrent);

        using (JsonDocument status = JsonDocument.Parse(await http.GetStringAsync(new Uri(gateway.Url, "/cluster/status"))))
        {
            JsonElement[] ranks = [.. status.RootElement.GetProperty("silos").EnumerateArray().Select(s => s.GetProperty("rank"))];
            Assert.All(ranks, r => Assert.True(r.GetProperty("finished").GetInt64() > 0, $"a rank ran no request: {status.RootElement}"));
            Assert.All(ranks, r => Assert.True(r.GetProperty("dispatchSentBytes").GetInt64() > 0 && r.GetProperty("dispatchReceivedBytes").GetInt64() > 0, $"a rank sent no dispatch bytes: {status.RootElement}"));
            Assert.All(ranks, r => Assert.True(r.GetProperty("tokensRunByHolder").GetInt64() > 0, $"a holder ran no expert: {status.RootElement}"));
        }

        Assert.All(all, p => Assert.False(p.HasExited, p.Output));
    }


    /// <summary>The whole message as JSON (reasoning_content and content), not streamed.</summary>
    private static async Task<string> Answer(ChatClient chat, string question, ChatCompletionOptions options)
    {
        ClientResult<ChatCompletion> result = await chat.CompleteChatAsync([new UserChatMessage(question)], options);
        using JsonDocument raw = JsonDocument.Parse(result.GetRawResponse().Content.ToString());
        return raw.RootElement.GetProperty("choices")[0].GetProperty("message").ToString();
    }

    private static async Task<bool> PlacedOverThree(HttpClient http, SiloProcess gateway)
    {
        try
        {
            using JsonDocument status = JsonDocument.Parse(await http.GetStringAsync(new Uri(gateway.Url, "/cluster/status")));
            JsonElement root = status.RootElement;
            return root.GetProperty("silos").GetArrayLength() == 3 && root.GetProperty("pendingVersion").ValueKind == JsonValueKind.Null
                && root.GetProperty("version").ValueKind == JsonValueKind.Number && root.GetProperty("thisSiloVersion").ToString() == root.GetProperty("version").ToString();
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

}
