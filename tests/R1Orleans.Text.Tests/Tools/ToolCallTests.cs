using CsCheck;
using R1Orleans.Text.Tools;

namespace R1Orleans.Text.Tests.Tools;

public sealed class ToolCallTests
{
    // Exactly what DeepSeek-V3's chat template writes for an assistant turn with two tool calls.
    private const string TwoCalls =
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>"
        + "\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{\"zone\": \"CET\",\n \"format\": \"24h\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";

    [Fact]
    public void Parses_every_call_and_keeps_the_text_before_the_markup_as_content()
    {
        (string content, IReadOnlyList<ToolCallText> calls) = ToolCallMarkup.Parse("Let me look that up." + TwoCalls);
        Assert.Equal("Let me look that up.", content);
        Assert.Equal([new ToolCallText("get_weather", "{\"city\": \"Paris\"}"), new ToolCallText("get_time", "{\"zone\": \"CET\",\n \"format\": \"24h\"}")], calls);
    }

    [Theory]
    [InlineData("Paris is sunny today.")]
    [InlineData("<｜tool▁calls▁begin｜>not a call at all")]
    [InlineData("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{}")]
    public void Text_without_a_well_formed_call_is_all_content(string text)
    {
        (string content, IReadOnlyList<ToolCallText> calls) = ToolCallMarkup.Parse(text);
        Assert.Equal(text, content);
        Assert.Empty(calls);
    }

    [Fact]
    public void Streaming_holds_back_a_possible_marker_start_and_never_sends_markup()
    {
        var filter = new ToolCallStreamFilter();
        Assert.Equal("Checking", filter.Push("Checking"));
        Assert.Equal(" now.", filter.Push(" now.<｜tool"));
        Assert.Equal("", filter.Push("▁calls▁begin｜><｜tool▁call▁begin｜>function"));
        Assert.Equal("", filter.Push(TwoCalls[(TwoCalls.IndexOf("<｜tool▁sep｜>", StringComparison.Ordinal))..]));
        (string tail, IReadOnlyList<ToolCallText> calls) = filter.Finish();
        Assert.Equal("", tail);
        Assert.Equal(["get_weather", "get_time"], calls.Select(c => c.Name));
    }

    [Fact]
    public void Held_back_text_that_is_not_a_marker_is_sent_with_the_next_piece_or_at_the_end()
    {
        var filter = new ToolCallStreamFilter();
        Assert.Equal("a ", filter.Push("a <｜"));
        Assert.Equal("<｜b", filter.Push("b"));
        Assert.Equal("", filter.Push("<｜tool"));
        (string tail, IReadOnlyList<ToolCallText> calls) = filter.Finish();
        Assert.Equal("<｜tool", tail);
        Assert.Empty(calls);
    }

    [Fact]
    public void Broken_markup_at_the_end_comes_back_as_content()
    {
        var filter = new ToolCallStreamFilter();
        Assert.Equal("ok", filter.Push("ok<｜tool▁calls▁begin｜>oops"));
        (string tail, IReadOnlyList<ToolCallText> calls) = filter.Finish();
        Assert.Equal("<｜tool▁calls▁begin｜>oops", tail);
        Assert.Empty(calls);
    }

    [Fact]
    public void However_the_text_is_cut_into_pieces_streaming_gives_what_parsing_the_whole_gives()
    {
        string[] texts = ["Sure." + TwoCalls, "no tools here <｜ but a stray bar", TwoCalls, "x<｜tool▁calls▁begin｜>broken"];
        Gen.Int[0, texts.Length - 1].SelectMany(t => Gen.Int[1, 12].Array[0, 40].Select(cuts => (t, cuts))).Sample(sample =>
        {
            string text = texts[sample.t];
            var filter = new ToolCallStreamFilter();
            var sent = new System.Text.StringBuilder();
            int at = 0;
            foreach (int cut in sample.cuts)
            {
                int n = Math.Min(cut, text.Length - at);
                sent.Append(filter.Push(text.Substring(at, n)));
                at += n;
            }

            sent.Append(filter.Push(text[at..]));
            (string tail, IReadOnlyList<ToolCallText> calls) = filter.Finish();
            sent.Append(tail);
            (string content, IReadOnlyList<ToolCallText> expected) = ToolCallMarkup.Parse(text);
            Assert.Equal(content, sent.ToString());
            Assert.Equal(expected, calls);
        });
    }
}
