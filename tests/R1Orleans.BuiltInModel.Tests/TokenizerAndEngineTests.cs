using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Text.Chat;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.BuiltInModel.Tests;

public sealed class TokenizerAndEngineTests(BuiltInModelFixture model) : IClassFixture<BuiltInModelFixture>
{
    public static TheoryData<string> Samples => new()
    {
        "Hello, world!",
        "R1Orleans serves mixture of experts models on Microsoft Orleans.",
        "  leading and trailing spaces  ",
        "tabs\tand\nnew\r\nlines\n\n",
        "numbers 1234567 and 3.14159",
        "punctuation: (a) [b] {c} <d> \"e\" 'f' -- ... ?!",
        "café naïve façade über straße",
        "数学は楽しい 日本語 中文",
        "emoji 🙂🚀 and a zero-width joiner 👩‍💻",
        "Привет, мир",
        "",
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void Tokenizer_round_trips_text(string text)
    {
        R1Tokenizer tokenizer = R1Tokenizer.Load(Path.Combine(model.ModelDirectory, "tokenizer.json"));
        IReadOnlyList<int> ids = tokenizer.Encode(text, addSpecialTokens: false);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.All(ids, id => Assert.InRange(id, 3, tokenizer.VocabSize - 1));

        IReadOnlyList<int> withBos = tokenizer.Encode(text, addSpecialTokens: true);
        Assert.Equal(0, withBos[0]);
        Assert.Equal(ids, withBos.Skip(1));
    }

    [Fact]
    public void Tokenizer_merges_common_words_and_knows_the_special_tokens()
    {
        R1Tokenizer tokenizer = R1Tokenizer.Load(Path.Combine(model.ModelDirectory, "tokenizer.json"));
        Assert.Equal(0, tokenizer.BosId);
        Assert.Equal(1, tokenizer.EosId);
        Assert.True(tokenizer.IsSpecial(0));
        Assert.True(tokenizer.IsSpecial(1));
        Assert.False(tokenizer.IsSpecial(tokenizer.TokenId("<think>")!.Value));

        // Words of the training text become single tokens.
        Assert.Single(tokenizer.Encode(" the", addSpecialTokens: false));
        Assert.Single(tokenizer.Encode(" model", addSpecialTokens: false));
        string text = "The model that ships with the silo is small and its weights are random.";
        Assert.True(tokenizer.Encode(text, addSpecialTokens: false).Count < text.Length / 3);

        IReadOnlyList<int> ids = tokenizer.Encode("<｜User｜>hi<｜Assistant｜><think>\n", addSpecialTokens: false);
        Assert.Equal(tokenizer.TokenId("<｜User｜>"), ids[0]);
        Assert.Contains(tokenizer.TokenId("<think>")!.Value, ids);
    }

    [Fact]
    public void Chat_template_renders_a_user_message_with_rs_generation_prompt()
    {
        ChatTemplate template = ChatTemplate.FromTokenizerConfig(Path.Combine(model.ModelDirectory, "tokenizer_config.json"));
        string rendered = template.Render([ChatMessage.User("hi")], addGenerationPrompt: true);
        Assert.Equal("<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜><think>\n", rendered);
        Assert.EndsWith("<｜Assistant｜><think>\n", rendered, StringComparison.Ordinal);

        string withSystem = template.Render([ChatMessage.System("Be brief."), ChatMessage.User("hi"), ChatMessage.Assistant("<think>x</think>hello"), ChatMessage.User("again")], addGenerationPrompt: false);
        Assert.Equal("<｜begin▁of▁sentence｜>Be brief.<｜User｜>hi<｜Assistant｜>hello<｜end▁of▁sentence｜><｜User｜>again", withSystem);
    }

    [Fact]
    public async Task Checkpoint_loads_with_the_engine_and_generates_five_greedy_tokens()
    {
        var stages = new List<string>();
        await using InferenceEngine engine = InferenceEngine.Load(model.ModelDirectory, new InferenceEngineOptions { KvCacheTokens = 4096 }, stages.Add);
        Assert.Contains("mtp", stages);
        Assert.Null(engine.TemplateProblem);

        var sampling = SamplingParams.Greedy(5) with { IgnoreEos = true };
        List<TextEvent> first = await Collect(engine, sampling);
        List<TextEvent> second = await Collect(engine, sampling);
        Assert.Equal(5, first.Count);
        Assert.Equal(FinishReason.Length, first[^1].Finish);
        Assert.Equal(5, first[^1].Usage.CompletionTokens);
        Assert.All(first, e => Assert.InRange(e.Token, 0, engine.Config.VocabSize - 1));
        Assert.Equal(first.Select(e => e.Token), second.Select(e => e.Token));
    }

    private static async Task<List<TextEvent>> Collect(InferenceEngine engine, SamplingParams sampling)
    {
        var events = new List<TextEvent>();
        await foreach (TextEvent e in engine.GenerateAsync(PromptInput.FromMessages([ChatMessage.User("Tell me about experts.")]), sampling))
        {
            events.Add(e);
        }

        return events;
    }
}
