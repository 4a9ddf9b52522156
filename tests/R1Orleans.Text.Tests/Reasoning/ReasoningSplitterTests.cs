using CsCheck;
using R1Orleans.Text.Reasoning;

namespace R1Orleans.Text.Tests.Reasoning;

public sealed class ReasoningSplitterTests
{
    [Fact]
    public void Prompt_that_opened_think_starts_inside_the_reasoning()
    {
        ReasoningDelta d = ReasoningSplitter.SplitAll("\nLet me add.\n</think>\n\n432", promptOpenedThink: true);
        Assert.Equal("\nLet me add.\n", d.Reasoning);
        Assert.Equal("\n\n432", d.Content);
    }

    [Fact]
    public void Leading_think_tag_opens_the_reasoning_when_the_prompt_did_not()
    {
        ReasoningDelta d = ReasoningSplitter.SplitAll("  <think>hmm</think>yes", promptOpenedThink: false);
        Assert.Equal("hmm", d.Reasoning);
        Assert.Equal("yes", d.Content);
    }

    [Fact]
    public void Output_without_think_is_all_content()
    {
        Assert.Equal(new ReasoningDelta("", "Hello <think> world"), ReasoningSplitter.SplitAll("Hello <think> world", promptOpenedThink: false));
    }

    [Fact]
    public void Unfinished_reasoning_stays_reasoning_and_a_partial_tag_is_released_at_the_end()
    {
        Assert.Equal(new ReasoningDelta("thinking </thi", ""), ReasoningSplitter.SplitAll("thinking </thi", promptOpenedThink: true));
    }

    [Fact]
    public void Close_tag_split_across_pieces_is_recognised()
    {
        var s = new ReasoningSplitter(promptOpenedThink: true);
        ReasoningDelta a = s.Push("abc</th");
        Assert.Equal(new ReasoningDelta("abc", ""), a);
        ReasoningDelta b = s.Push("ink>def");
        Assert.Equal(new ReasoningDelta("", "def"), b);
    }

    [Fact]
    public void Streaming_in_any_pieces_equals_splitting_the_whole_output()
    {
        string[] parts = ["a", "b", " ", "\n", "<", ">", "/", "think", "<think>", "</think>", "</th", "ink>", "42"];
        Gen<string> text = Gen.Int[0, parts.Length - 1].Select(i => parts[i]).Array[0, 30].Select(a => string.Concat(a));
        Gen.Select(text, Gen.Int[1, 6].Array[1, 30], Gen.Bool).Sample((s, cuts, opened) =>
        {
            ReasoningDelta whole = ReasoningSplitter.SplitAll(s, opened);
            var splitter = new ReasoningSplitter(opened);
            string reasoning = "", content = "";
            int at = 0;
            foreach (int c in cuts)
            {
                int len = Math.Min(c, s.Length - at);
                ReasoningDelta d = splitter.Push(s.Substring(at, len));
                reasoning += d.Reasoning;
                content += d.Content;
                at += len;
            }

            ReasoningDelta tail = splitter.Push(s[at..]);
            ReasoningDelta end = splitter.Flush();
            return whole.Reasoning == reasoning + tail.Reasoning + end.Reasoning && whole.Content == content + tail.Content + end.Content;
        });
    }
}
