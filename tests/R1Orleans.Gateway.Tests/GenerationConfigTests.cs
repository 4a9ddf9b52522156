using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Orleans.Engine.Api;

namespace R1Orleans.Gateway.Tests;

/// <summary>Sampling parameters a request leaves out come from the checkpoint's generation_config.json, as in vLLM.</summary>
[Collection(GatewayCollection.Name)]
public sealed class GenerationConfigTests(GatewayFixture fx)
{
    [Fact]
    public async Task The_checkpoints_generation_config_supplies_omitted_sampling_parameters_unless_turned_off()
    {
        // A checkpoint whose generation_config.json asks for greedy decoding.
        string dir = CopyOfFixtureModel();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "generation_config.json"), """{"do_sample": false, "temperature": 0.0, "top_p": 0.95}""");
            await using InferenceEngine engine = InferenceEngine.Load(dir, GatewayFixture.EngineOptions);
            Assert.Equal(0f, engine.SamplingDefaults.Temperature);
            Assert.Equal(0.95f, engine.SamplingDefaults.TopP);

            string greedy = await GreedyAsync(engine);
            await using (GatewayServer auto = await GatewayServer.StartAsync(engine))
            {
                // No temperature given: the checkpoint's 0 applies, so any seed gives the greedy text.
                Assert.Equal(greedy, await CompleteAsync(auto, seed: 1));
                Assert.Equal(greedy, await CompleteAsync(auto, seed: 2));
            }

            await using GatewayServer none = await GatewayServer.StartAsync(engine, new Dictionary<string, string?> { ["Gateway:GenerationConfig"] = "none" });
            string[] sampled = [await CompleteAsync(none, seed: 1), await CompleteAsync(none, seed: 2), await CompleteAsync(none, seed: 3)];

            // OpenAI's temperature 1 on a random-weight model: the seeds give different texts.
            Assert.True(sampled.Distinct().Count() > 1, "temperature 1 sampled the same text for three seeds");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task A_bad_generation_config_value_stops_the_load_naming_the_field()
    {
        string dir = CopyOfFixtureModel();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "generation_config.json"), """{"temperature": 7}""");
            InvalidDataException e = Assert.Throws<InvalidDataException>(() => InferenceEngine.Load(dir, GatewayFixture.EngineOptions));
            Assert.Contains("generation_config.json: field 'temperature'", e.Message, StringComparison.Ordinal);
            Assert.Contains("got 7", e.Message, StringComparison.Ordinal);

            await File.WriteAllTextAsync(Path.Combine(dir, "generation_config.json"), """{"top_p": "high"}""");
            e = Assert.Throws<InvalidDataException>(() => InferenceEngine.Load(dir, GatewayFixture.EngineOptions));
            Assert.Contains("'top_p' must be a number", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>A temporary copy of the fixture's checkpoint directory (the caller deletes it).</summary>
    private string CopyOfFixtureModel()
    {
        string dir = Directory.CreateTempSubdirectory("r1-genconfig-").FullName;
        foreach (string file in Directory.GetFiles(fx.ModelDirectory))
        {
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        }

        return dir;
    }

    private static async Task<string> CompleteAsync(GatewayServer server, int seed)
    {
        JsonObject body = Api.CompletionBody("the defaults decide", 16);
        body.Remove("temperature");
        body["seed"] = seed;
        body["ignore_eos"] = true;
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(server, "/v1/completions", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return json.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    /// <summary>The text with an explicit temperature 0, whatever the defaults.</summary>
    private static async Task<string> GreedyAsync(InferenceEngine engine)
    {
        await using GatewayServer server = await GatewayServer.StartAsync(engine, new Dictionary<string, string?> { ["Gateway:GenerationConfig"] = "none" });
        JsonObject body = Api.CompletionBody("the defaults decide", 16);
        body["temperature"] = 0;
        body["ignore_eos"] = true;
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(server, "/v1/completions", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return json.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }
}
