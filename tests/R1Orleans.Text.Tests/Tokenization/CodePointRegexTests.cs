using R1Orleans.Text.Tokenization;

namespace R1Orleans.Text.Tests.Tokenization;

/// <summary>The pre-tokenizer's regex engine: Oniguruma semantics on code points, in linear time.</summary>
public class CodePointRegexTests
{
    /// <summary>DeepSeek-V3's third Split pattern, as tokenizer.json holds it.</summary>
    private const string DeepSeekMain =
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static string[] Matches(string pattern, string text)
    {
        CodePointRegex re = CodePointRegex.Compile(pattern);
        return [.. re.FindAll(text).Select(m => text[m.Start..m.End])];
    }

    [Theory]
    [InlineData("a|ab", "ab", new[] { "a" })] // leftmost-first, not longest
    [InlineData("ab|a", "ab", new[] { "ab" })]
    [InlineData("a+", "aaa", new[] { "aaa" })]
    [InlineData("a+?", "aaa", new[] { "a", "a", "a" })]
    [InlineData("a??b", "ab", new[] { "ab" })]
    [InlineData("\\p{N}{1,3}", "1234567", new[] { "123", "456", "7" })]
    [InlineData("a{2}", "aaaaa", new[] { "aa", "aa" })]
    [InlineData("a{2,}", "aaaaa", new[] { "aaaaa" })]
    [InlineData("a{,2}b", "aaab", new[] { "aab" })]
    [InlineData("x{y", "x{y", new[] { "x{y" })] // '{' without an interval is literal
    [InlineData("\\s+(?!\\S)|\\s+", "   x  ", new[] { "  ", " ", "  " })]
    [InlineData("a(?=b)", "acab", new[] { "a" })]
    [InlineData("(?i:'s|'t)", "it'S 'T", new[] { "'S", "'T" })]
    [InlineData("(?i)ab", "xAbAB", new[] { "Ab", "AB" })]
    [InlineData("[^a-c]+", "abcxyzab", new[] { "xyz" })]
    [InlineData("[\\-a]+", "-a-b", new[] { "-a-" })]
    [InlineData("[a-]+", "a-b", new[] { "a-" })]
    [InlineData("^a|b$", "ab\nab", new[] { "a", "b", "a", "b" })]
    [InlineData("\\Aa", "aa", new[] { "a" })]
    [InlineData("a\\z", "aa", new[] { "a" })]
    [InlineData(".+", "ab\ncd", new[] { "ab", "cd" })]
    [InlineData("\\x41\\u0042\\x{43}", "ABC", new[] { "ABC" })]
    [InlineData("(?:ab)+", "ababa", new[] { "abab" })]
    [InlineData("(?<name>a)b", "ab", new[] { "ab" })]
    [InlineData("\\d+", "a١٢3", new[] { "١٢3" })] // Unicode Nd
    [InlineData("\\w+", "héllo_1 x", new[] { "héllo_1", "x" })]
    [InlineData("\\P{L}+", "ab12cd", new[] { "12" })]
    [InlineData("[\\p{Lu}\\p{Nd}]+", "aB1c", new[] { "B1" })]
    public void MatchesLikeOniguruma(string pattern, string text, string[] expected)
    {
        Assert.Equal(expected, Matches(pattern, text));
    }

    [Fact]
    public void CategoriesApplyToCharactersOutsideTheBmp()
    {
        // Emoji are \p{S}, CJK Extension B and mathematical letters are \p{L}; .NET's Regex would see surrogates (Cs).
        Assert.Equal(["🚀🔥✨"], Matches("\\p{S}+", "🚀🔥✨"));
        Assert.Equal(["𠀀𝐀"], Matches("\\p{L}+", "𠀀𝐀"));
        Assert.Equal(["𝟘𝟙"], Matches("\\p{N}+", "𝟘𝟙"));
        Assert.Empty(Matches("[^\\p{L}]", "𝐀"));
        Assert.Equal(["🚀"], Matches(".", "🚀"));
    }

    [Fact]
    public void DeepSeekPatternSplitsLikeTokenizers()
    {
        Assert.Equal(["Hello", ",", " World", "!"], Matches(DeepSeekMain, "Hello, World!"));
        Assert.Equal(["  ", " leading", " spaces"], Matches(DeepSeekMain, "   leading spaces"));
        Assert.Equal(["\r\n"], Matches(DeepSeekMain, "\r\n"));
        Assert.Equal([" 🚀🔥✨", " —", " “", "quotes", "”,"], Matches(DeepSeekMain, " 🚀🔥✨ — “quotes”,"));
        Assert.Equal(["def", " f", "(x", "):\n", "\treturn"], Matches(DeepSeekMain, "def f(x):\n\treturn"));
        Assert.Equal(["'t"], Matches(DeepSeekMain, "'t"));
    }

    [Theory]
    [InlineData("\\1")]
    [InlineData("(a)\\1")]
    [InlineData("(?<=a)b")]
    [InlineData("(?<!a)b")]
    [InlineData("(?>a)")]
    [InlineData("a++")]
    [InlineData("[[:alpha:]]")]
    [InlineData("[a&&b]")]
    [InlineData("\\p{Han}")]
    [InlineData("\\bword")]
    [InlineData("(?!ab)")]
    [InlineData("(?x)a")]
    [InlineData("a{2000}")]
    public void UnsupportedConstructsAreRejected(string pattern)
    {
        Assert.Throws<NotSupportedException>(() => CodePointRegex.Compile(pattern));
    }

    [Theory]
    [InlineData("(a")]
    [InlineData("a)")]
    [InlineData("[ab")]
    [InlineData("a{3,1}")]
    [InlineData("*a")]
    [InlineData("[z-a]")]
    [InlineData("\\")]
    public void MalformedPatternsAreRejected(string pattern)
    {
        Assert.Throws<ArgumentException>(() => CodePointRegex.Compile(pattern));
    }

    [Theory]
    [InlineData("(a*)*b")]
    [InlineData("(a|aa)*c")]
    [InlineData("(a+)+$x")]
    [InlineData("\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")]
    public void NoCatastrophicBacktracking(string pattern)
    {
        // Work, not time: each search is linear in the text (at most one VM thread per instruction per position),
        // so two searches of 20,000 characters stay within 2 × 20,001 × program length thread steps.
        CodePointRegex re = CodePointRegex.Compile(pattern);
        string text = new('a', 20_000);
        long before = CodePointRegex.ThreadStepsOnThisThread;
        re.FindAll(text);
        re.FindAll(new string(' ', 20_000) + "x");
        long steps = CodePointRegex.ThreadStepsOnThisThread - before;
        Assert.InRange(steps, 20_000, 2L * 20_001 * re.ProgramLength);
    }

    [Fact]
    public void LiteralPatternMatchesItself()
    {
        CodePointRegex re = CodePointRegex.Literal("a.b🚀");
        Assert.Equal([(1, 6)], re.FindAll("xa.b🚀a-b🚀"));
    }
}
