using System.Text;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.Text.Tests.Tokenization;

/// <summary>Untrusted input: size cap, pathological texts, ill-formed UTF-16, and malformed or unsupported tokenizer.json files.</summary>
public class TokenizerSafetyTests
{
    private static R1Tokenizer V3 => TokenizerGoldenCases.Tokenizer(TokenizerGoldenCases.DeepSeekV3);

    public static TheoryData<string, string> Pathological => new()
    {
        { "spaces", new string(' ', 100_000) },
        { "spaces then a letter", new string(' ', 100_000) + "x" },
        { "digits", new string('7', 100_000) },
        { "letters", new string('a', 100_000) },
        { "newlines", new string('\n', 100_000) },
        { "space newline", string.Concat(Enumerable.Repeat(" \n", 50_000)) },
        { "tabs and spaces", string.Concat(Enumerable.Repeat("\t ", 50_000)) + "!" },
        { "punctuation", new string('!', 100_000) },
        { "CJK", string.Concat(Enumerable.Repeat("深度求索", 25_000)) },
        { "emoji", string.Concat(Enumerable.Repeat("🙂", 50_000)) },
        { "combining marks", "e" + new string('\u0301', 100_000) },
        { "almost special", string.Concat(Enumerable.Repeat("<｜User", 15_000)) },
        { "digit space", string.Concat(Enumerable.Repeat("1 ", 50_000)) },
    };

    [Theory]
    [MemberData(nameof(Pathological))]
    public void PathologicalInputRoundTripsWithWorkLinearInItsLength(string name, string text)
    {
        foreach (string caseName in TokenizerGoldenCases.Names)
        {
            R1Tokenizer t = TokenizerGoldenCases.Tokenizer(caseName);
            (IReadOnlyList<int> ids, long work) = EncodeCountingWork(t, text);
            Assert.Equal(text, t.Decode(ids));
            Assert.True(work > 0, "the work counters saw the encoding");

            // Work, not time (timings are benchmarks): twice the text takes at most about twice the work.
            (_, long twice) = EncodeCountingWork(t, text + text);
            Assert.True(twice <= (2.2 * work) + 10_000, $"{caseName}: '{name}': {work} steps for {text.Length} chars, {twice} for twice that");
        }
    }

    /// <summary>Encodes, counting the pre-tokenizer's regex steps and the long-piece BPE's merge steps on this thread.</summary>
    private static (IReadOnlyList<int> Ids, long Work) EncodeCountingWork(R1Tokenizer t, string text)
    {
        long before = CodePointRegex.ThreadStepsOnThisThread + LongPieceBpe.QueueStepsOnThisThread;
        IReadOnlyList<int> ids = t.Encode(text, addSpecialTokens: false);
        return (ids, CodePointRegex.ThreadStepsOnThisThread + LongPieceBpe.QueueStepsOnThisThread - before);
    }

    [Fact]
    public void InputAboveTheCapIsRefused()
    {
        R1Tokenizer small = R1Tokenizer.Load(
            TokenizerGoldenCases.TokenizerPath(TokenizerGoldenCases.Bpe), new R1TokenizerOptions { MaxInputChars = 1000 });
        Assert.Equal(1000, small.Options.MaxInputChars);
        Assert.NotEmpty(small.Encode(new string('a', 1000)));
        ArgumentException e = Assert.Throws<ArgumentException>(() => small.Encode(new string('a', 1001)));
        Assert.Contains("1001", e.Message, StringComparison.Ordinal);
        Assert.Contains("limit", e.Message, StringComparison.Ordinal);

        // The default cap: 1 Mi characters.
        Assert.Equal(R1TokenizerOptions.DefaultMaxInputChars, V3.Options.MaxInputChars);
        Assert.Throws<ArgumentException>(() => V3.Encode(new string('a', R1TokenizerOptions.DefaultMaxInputChars + 1)));
        Assert.Throws<ArgumentNullException>(() => V3.Encode(null!));
        Assert.Throws<ArgumentException>(() =>
            R1Tokenizer.Load(TokenizerGoldenCases.TokenizerPath(TokenizerGoldenCases.Bpe), new R1TokenizerOptions { MaxInputChars = 0 }));
    }

    [Fact]
    public void InputAtTheDefaultCapRoundTripsWithWorkLinearInItsLength()
    {
        // 1 Mi characters of mixed text, the largest input the default options accept.
        var sb = new StringBuilder();
        string chunk = "The quick brown fox 1234567 深度求索 🚀 <｜User｜> \n\t  ";
        while (sb.Length + chunk.Length <= R1TokenizerOptions.DefaultMaxInputChars)
        {
            sb.Append(chunk);
        }

        string text = sb.ToString();
        (IReadOnlyList<int> ids, long work) = EncodeCountingWork(V3, text);
        Assert.Equal(text, V3.Decode(ids));
        (_, long half) = EncodeCountingWork(V3, text[..(text.Length / 2 / chunk.Length * chunk.Length)]);
        Assert.True(work <= (2.2 * half) + 10_000, $"{work} steps for the whole text, {half} for half of it");
    }

    // Indexed: xunit cannot tell strings of lone surrogates apart in test ids, and would skip all but one.
    private static readonly string[] s_loneSurrogates = ["\uD800", "\uDC00", "a\uD83Db", "x\uDE80y\uD83D", "\uDE80\uD83D"];

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void LoneSurrogatesEncodeAsReplacementCharacter(int index)
    {
        string text = s_loneSurrogates[index];
        string replaced = new(text.Select(c => char.IsSurrogate(c) ? '\uFFFD' : c).ToArray());
        foreach (string caseName in TokenizerGoldenCases.Names)
        {
            R1Tokenizer t = TokenizerGoldenCases.Tokenizer(caseName);
            IReadOnlyList<int> ids = t.Encode(text, addSpecialTokens: false);
            Assert.Equal(t.Encode(replaced, addSpecialTokens: false), ids);
            Assert.Equal(replaced, t.Decode(ids));
        }
    }

    [Fact]
    public void ValidSurrogatePairsAreKept()
    {
        const string text = "🚀 𠀀 𝐀";
        Assert.Equal(text, V3.Decode(V3.Encode(text)));
    }

    [Fact]
    public void DecodeOfIllFormedBytesUsesReplacementCharacters()
    {
        // "🚀" is [ðŁļ, Ģ]: its first token alone is an incomplete character.
        IReadOnlyList<int> rocket = V3.Encode("🚀", addSpecialTokens: false);
        Assert.Equal(2, rocket.Count);
        Assert.Equal("\uFFFD", V3.Decode([rocket[0]]));
        Assert.Equal("\uFFFD", V3.Decode([rocket[1]]));
        Assert.Equal("\uFFFDa", V3.Decode([rocket[0], 67]));
        Assert.Equal("\uFFFD<｜User｜>", V3.Decode([rocket[0], 128_803]));

        // Skipped special tokens do not separate bytes; kept added tokens do.
        Assert.Equal("🚀", V3.Decode([rocket[0], 0, rocket[1]], skipSpecialTokens: true));
        Assert.Equal("\uFFFD<｜begin▁of▁sentence｜>\uFFFD", V3.Decode([rocket[0], 0, rocket[1]], skipSpecialTokens: false));
    }

    [Fact]
    public void MissingFileIsAClearError()
    {
        Assert.Throws<FileNotFoundException>(() => R1Tokenizer.Load(Path.Combine(Path.GetTempPath(), "no-such-dir", "tokenizer.json")));
    }

    public static TheoryData<string, Type> BadFiles => new()
    {
        { "not json", typeof(InvalidDataException) },
        { "[]", typeof(InvalidDataException) },
        { "{}", typeof(NotSupportedException) },
        { Minimal(model: """{"type":"Unigram","vocab":[]}"""), typeof(NotSupportedException) },
        { Minimal(model: """{"type":"BPE","vocab":{},"merges":[]}"""), typeof(InvalidDataException) },
        { Minimal(model: """{"type":"BPE","vocab":{"a":-1},"merges":[]}"""), typeof(InvalidDataException) },
        { Minimal(model: """{"type":"BPE","vocab":{"a":2000000000},"merges":[]}"""), typeof(InvalidDataException) },
        { Minimal(model: """{"type":"BPE","vocab":{"a":0,"b":0},"merges":[]}"""), typeof(InvalidDataException) },
        { Minimal(model: """{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a c"]}"""), typeof(InvalidDataException) },
        { Minimal(model: """{"type":"BPE","vocab":{"a":0,"b":1},"merges":["ab"]}"""), typeof(InvalidDataException) },
        { Minimal(model: """{"type":"BPE","vocab":{"a":0,"b":1},"merges":[7]}"""), typeof(InvalidDataException) },
        { Minimal(model: """{"type":"BPE","vocab":{"a":0},"merges":[],"byte_fallback":true}"""), typeof(NotSupportedException) },
        { Minimal(preTokenizer: """{"type":"Metaspace","replacement":"▁"}"""), typeof(NotSupportedException) },
        { Minimal(preTokenizer: """{"type":"Split","pattern":{"Regex":"(?<=a)b"},"behavior":"Isolated","invert":false}"""), typeof(NotSupportedException) },
        { Minimal(preTokenizer: """{"type":"Split","pattern":{"Regex":"(a"},"behavior":"Isolated","invert":false}"""), typeof(InvalidDataException) },
        { Minimal(decoder: """{"type":"Metaspace"}"""), typeof(NotSupportedException) },
        { Minimal(normalizer: """{"type":"NFKC"}"""), typeof(NotSupportedException) },
        { Minimal(postProcessor: """{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}}],"special_tokens":{}}"""), typeof(InvalidDataException) },
        { Minimal(added: """[{"id":5,"content":"<x>","lstrip":true,"special":true}]"""), typeof(NotSupportedException) },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void MalformedOrUnsupportedTokenizerJsonIsAClearError(string json, Type expected)
    {
        Exception e = Assert.ThrowsAny<Exception>(() => R1Tokenizer.FromJson(Encoding.UTF8.GetBytes(json)));
        Assert.IsAssignableFrom(expected, e);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void LoadsWithoutTokenizerConfig()
    {
        string dir = Path.Combine(Path.GetTempPath(), "r1tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "tokenizer.json");
            File.Copy(TokenizerGoldenCases.TokenizerPath(TokenizerGoldenCases.Bpe), path);
            R1Tokenizer t = R1Tokenizer.Load(path);
            Assert.Equal(0, t.BosId); // from the post-processor's template
            Assert.Null(t.EosId);
            Assert.Equal([0, 67], t.Encode("a"));

            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{not json");
            Assert.Throws<InvalidDataException>(() => R1Tokenizer.Load(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MinimalTokenizerJsonWorks()
    {
        R1Tokenizer t = R1Tokenizer.FromJson(Encoding.UTF8.GetBytes(Minimal()));
        Assert.Equal([0, 1], t.Encode("ab", addSpecialTokens: false));
        Assert.Equal([2, 0, 1], t.Encode("ab"));
        Assert.Equal([0, 2, 1], t.Encode("a<s>b", addSpecialTokens: false));
        Assert.Equal("<s>ab", t.Decode([2, 0, 1]));
        Assert.Equal("ab", t.Decode([2, 0, 1], skipSpecialTokens: true));
        Assert.Equal(2, t.BosId);
        Assert.Null(t.EosId);
    }

    private static string Minimal(
        string model = """{"type":"BPE","vocab":{"a":0,"b":1,"<s>":2},"merges":[]}""",
        string preTokenizer = """{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}""",
        string decoder = """{"type":"ByteLevel"}""",
        string normalizer = "null",
        string postProcessor = """{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<s>":{"id":"<s>","ids":[2],"tokens":["<s>"]}}}""",
        string added = """[{"id":2,"content":"<s>","special":true}]""") =>
        $$"""{"version":"1.0","added_tokens":{{added}},"normalizer":{{normalizer}},"pre_tokenizer":{{preTokenizer}},"post_processor":{{postProcessor}},"decoder":{{decoder}},"model":{{model}}}""";
}
