using System.Text.Json;
using R1Orleans.Text.Chat;

namespace R1Orleans.Text.Tests.Chat;

/// <summary>Every <c>chat</c> entry of the golden tokenizer cases, rendered from the template in tokenizer_config.json.</summary>
public sealed class ChatTemplateGoldenTests
{
    public static TheoryData<string, int> Entries()
    {
        var data = new TheoryData<string, int>();
        foreach (string caseName in GoldenChat.Cases)
        {
            for (int i = 0; i < GoldenChat.Entries(caseName).Count; i++)
            {
                data.Add(caseName, i);
            }
        }

        return data;
    }

    [Fact]
    public void Golden_cases_hold_the_expected_number_of_chat_entries()
    {
        Assert.Equal(4, GoldenChat.Entries("tokenizer-bpe").Count);
        Assert.Equal(10, GoldenChat.Entries("tokenizer-deepseek-v3").Count);
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Rendering_json_messages_matches_golden_text(string caseName, int index)
    {
        JsonElement entry = GoldenChat.Entries(caseName)[index];
        ChatTemplate template = ChatTemplate.FromTokenizerConfig(GoldenChat.ConfigPath(caseName));

        string text = template.Render(entry.GetProperty("messages"), entry.GetProperty("add_generation_prompt").GetBoolean());

        Assert.Equal(entry.GetProperty("text").GetString(), text);
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Rendering_message_records_matches_golden_text(string caseName, int index)
    {
        JsonElement entry = GoldenChat.Entries(caseName)[index];
        ChatTemplate template = ChatTemplate.FromTokenizerConfig(GoldenChat.ConfigPath(caseName));
        List<ChatMessage> messages = GoldenChat.ToRecords(entry.GetProperty("messages"));

        string text = template.Render(messages, entry.GetProperty("add_generation_prompt").GetBoolean());

        Assert.Equal(entry.GetProperty("text").GetString(), text);
    }

    [Fact]
    public void Bos_token_is_read_from_a_string_and_from_an_AddedToken_object()
    {
        ChatTemplate r1 = ChatTemplate.FromTokenizerConfig(GoldenChat.ConfigPath("tokenizer-bpe"));
        ChatTemplate v3 = ChatTemplate.FromTokenizerConfig(GoldenChat.ConfigPath("tokenizer-deepseek-v3"));

        Assert.Equal("<｜begin▁of▁sentence｜>", r1.BosToken);
        Assert.Equal("<｜begin▁of▁sentence｜>", v3.BosToken);
        Assert.Equal("<｜end▁of▁sentence｜>", v3.EosToken);
    }

    [Fact]
    public void R1_template_strips_earlier_thinking_and_opens_a_think_block()
    {
        ChatTemplate r1 = ChatTemplate.FromTokenizerConfig(GoldenChat.ConfigPath("tokenizer-bpe"));

        string text = r1.Render(
            [
                ChatMessage.System("sys"),
                ChatMessage.User("q1"),
                ChatMessage.Assistant("<think>\nsecret\n</think>\n\na1"),
                ChatMessage.User("q2"),
            ],
            addGenerationPrompt: true);

        Assert.Equal("<｜begin▁of▁sentence｜>sys<｜User｜>q1<｜Assistant｜>\n\na1<｜end▁of▁sentence｜><｜User｜>q2<｜Assistant｜><think>\n", text);
    }

    [Fact]
    public void Tool_call_with_reply_after_outputs_closes_the_outputs_block()
    {
        ChatTemplate v3 = ChatTemplate.FromTokenizerConfig(GoldenChat.ConfigPath("tokenizer-deepseek-v3"));

        string text = v3.Render(
            [
                ChatMessage.User("w?"),
                ChatMessage.Assistant(null, [ToolCall.Function("f", "{}", "call_1")]),
                ChatMessage.Tool("42", "call_1"),
                ChatMessage.Assistant("done"),
            ],
            addGenerationPrompt: false);

        Assert.Equal(
            "<｜begin▁of▁sentence｜><｜User｜>w?<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{}\n```<｜tool▁call▁end｜>"
            + "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>42<｜tool▁output▁end｜><｜tool▁outputs▁end｜>done<｜end▁of▁sentence｜>",
            text);
    }
}
