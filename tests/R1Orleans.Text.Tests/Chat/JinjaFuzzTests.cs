using CsCheck;
using R1Orleans.Text.Chat;

namespace R1Orleans.Text.Tests.Chat;

/// <summary>
/// Untrusted templates: whatever the source, parsing and rendering either succeed or throw
/// <see cref="TemplateException"/>, and always end (the step budget is small here to keep the test fast).
/// </summary>
public sealed class JinjaFuzzTests
{
    private static readonly string[] s_fragments =
    [
        "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", " ", "\n", "x", "'s'", "\"t\"", "1", "2.5", "-",
        "+", "*", "**", "/", "//", "%", "~", "(", ")", "[", "]", "{", "}", ",", ":", ".", "|", "=", "==", "!=", "<", ">=",
        "if", "elif", "else", "endif", "for", "in", "endfor", "set", "endset", "macro", "endmacro", "not", "and", "or",
        "is", "defined", "none", "true", "loop", "loop.index", "messages", "m", "ns", "namespace(a=1)", "ns.a", "range(3)",
        "|length", "|tojson", "|trim", "|string", "|join(',')", ".split('a')", "[-1]", "[1:]", "raw", "endraw", "break",
        "raise_exception('r')", "'\\u00e9'", "'\\x4'", "0x1", "1e5", "_", "é", "\t",
    ];

    private static readonly JinjaOptions s_options = new() { MaxSteps = 20_000, MaxOutputLength = 100_000 };

    private static readonly Dictionary<string, object?> s_variables = new()
    {
        ["messages"] = new List<object?> { new Dictionary<string, object?> { ["role"] = "user", ["content"] = "a</think>b" } },
        ["m"] = new Dictionary<string, object?> { ["content"] = null },
        ["x"] = "xyz",
    };

    private static void RenderOrReject(string source)
    {
        try
        {
            JinjaTemplate.Parse(source, s_options).Render(s_variables);
        }
        catch (TemplateException e)
        {
            Assert.False(string.IsNullOrEmpty(e.Reason));
        }
    }

    [Fact]
    public void Random_token_soup_renders_or_fails_cleanly()
    {
        Gen<string> soup = Gen.Int[0, s_fragments.Length - 1].Array[1, 40].Select(ix => string.Concat(ix.Select(i => s_fragments[i])));
        Gen.OneOf(soup, Gen.String[Gen.Char, 0, 40]).Sample(RenderOrReject, iter: 3000);
    }

    [Fact]
    public void Mutated_deepseek_template_renders_or_fails_cleanly()
    {
        string source = ChatTemplate.FromTokenizerConfig(GoldenChat.ConfigPath("tokenizer-deepseek-v3")).Source;
        Gen.Select(Gen.Int[0, source.Length - 1], Gen.Int[1, 40], Gen.Int[0, s_fragments.Length - 1], Gen.Bool)
            .Sample(
                (at, length, fragment, delete) =>
                {
                    int end = Math.Min(source.Length, at + length);
                    string mutated = delete ? source.Remove(at, end - at) : source.Insert(at, s_fragments[fragment]);
                    RenderOrReject(mutated);
                },
                iter: 1000);
    }
}
