using System.ClientModel;
using System.Net;
using System.Text;
using OpenAI;
using OpenAI.Chat;

namespace R1Orleans.Cluster.Tests;

/// <summary>What the silo-process tests do over HTTP: the OpenAI client of a silo, requests, health, bounded waits.</summary>
internal static class ClusterHttp
{
    public static ChatClient ChatClientOf(SiloProcess silo) => new(
        "r1orleans-tiny",
        new ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = new Uri(silo.Url, "/v1"), NetworkTimeout = TimeSpan.FromSeconds(180) });

    public static ChatCompletionOptions Options(float temperature, long? seed)
    {
        var options = new ChatCompletionOptions { Temperature = temperature, MaxOutputTokenCount = 400 };
#pragma warning disable OPENAI001
        options.Seed = seed;
#pragma warning restore OPENAI001
        return options;
    }

    /// <summary>
    /// The streamed content pieces, joined with a separator so that a different split, a repeated or a missing piece
    /// shows; <paramref name="started"/> is set at the first update.
    /// </summary>
    public static async Task<string> Streamed(ChatClient chat, string question, ChatCompletionOptions options, TaskCompletionSource? started = null)
    {
        var text = new StringBuilder();
        await foreach (StreamingChatCompletionUpdate u in chat.CompleteChatStreamingAsync([new UserChatMessage(question)], options))
        {
            foreach (ChatMessageContentPart part in u.ContentUpdate)
            {
                text.Append(part.Text).Append('|');
            }

            started?.TrySetResult();
        }

        return text.ToString();
    }

    public static async Task<bool> Healthy(HttpClient http, SiloProcess silo)
    {
        try
        {
            return (await http.GetAsync(new Uri(silo.Url, "/health"))).StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>
    /// Polls <paramref name="ready"/> until true, failing at once if a silo exited, and at <paramref name="timeout"/>
    /// with every silo's output and, when given, what <paramref name="describe"/> says of the state reached.
    /// </summary>
    public static async Task WaitUntil(Func<Task<bool>> ready, SiloProcess[] processes, TimeSpan timeout, Func<Task<string>>? describe = null)
    {
        for (var deadline = DateTime.UtcNow + timeout; DateTime.UtcNow < deadline; await Task.Delay(250))
        {
            Assert.All(processes, p => Assert.False(p.HasExited, $"a silo exited:\n{p.Output}"));
            if (await ready())
            {
                return;
            }
        }

        string state = describe is null ? "" : await describe();
        Assert.Fail($"not reached within {timeout.TotalSeconds} s:\n{state}\n" + string.Join("\n----\n", processes.Select(p => p.Output)));
    }
}
