using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

public class PromptSynthesizerTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(128)]
    [InlineData(4096)]
    public void PromptHasTheRequestedNumberOfWords(int tokens)
    {
        string prompt = new PromptSynthesizer(0).Create(3, tokens);
        string[] words = prompt.Split(' ');
        Assert.Equal(tokens, words.Length);
        Assert.All(words, w => Assert.Contains(w, PromptSynthesizer.Words));
    }

    [Fact]
    public void DeterministicPerSeedAndIndexAndDistinctAcrossIndices()
    {
        Assert.Equal(new PromptSynthesizer(5).Create(9, 64), new PromptSynthesizer(5).Create(9, 64));
        Assert.NotEqual(new PromptSynthesizer(5).Create(9, 64), new PromptSynthesizer(5).Create(10, 64));
        Assert.NotEqual(new PromptSynthesizer(5).Create(9, 64), new PromptSynthesizer(6).Create(9, 64));
        Assert.Equal("", new PromptSynthesizer(0).Create(0, 0));

        // The substream seed is a fixed function (not the per-process randomized HashCode).
        Assert.Equal(340815906, PromptSynthesizer.StreamSeed(1, 2));
        Assert.Equal(2065550767, PromptSynthesizer.StreamSeed(0, 0));
        Assert.NotEqual(PromptSynthesizer.StreamSeed(1, 2), PromptSynthesizer.StreamSeed(2, 1));
    }
}
