using System.Text.RegularExpressions;

namespace R1Orleans.Text.Tools;

/// <summary>One function call the model wrote: the function's name and its arguments as the model wrote them (JSON text).</summary>
public sealed record ToolCallText(string Name, string Arguments);

/// <summary>
/// DeepSeek-V3/R1's tool-call markup, as its chat template writes it and vLLM's deepseek_v3 parser reads it:
/// <c>&lt;｜tool▁calls▁begin｜&gt;&lt;｜tool▁call▁begin｜&gt;function&lt;｜tool▁sep｜&gt;NAME\n```json\nARGUMENTS\n```&lt;｜tool▁call▁end｜&gt;…&lt;｜tool▁calls▁end｜&gt;</c>.
/// Text before the opening marker is the answer's content.
/// </summary>
public static partial class ToolCallMarkup
{
    public const string CallsBegin = "<｜tool▁calls▁begin｜>";
    public const string CallsEnd = "<｜tool▁calls▁end｜>";
    public const string CallBegin = "<｜tool▁call▁begin｜>";
    public const string CallEnd = "<｜tool▁call▁end｜>";
    public const string Separator = "<｜tool▁sep｜>";

    /// <summary>
    /// Splits a finished answer into its content and its tool calls. Without the opening marker, or when no call in the
    /// markup is well formed, everything is content and there are no calls (the text is never lost).
    /// </summary>
    public static (string Content, IReadOnlyList<ToolCallText> Calls) Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int begin = text.IndexOf(CallsBegin, StringComparison.Ordinal);
        if (begin < 0)
        {
            return (text, []);
        }

        var calls = new List<ToolCallText>();
        foreach (Match m in Call().Matches(text, begin))
        {
            calls.Add(new ToolCallText(m.Groups["name"].Value.Trim(), m.Groups["args"].Value));
        }

        return calls.Count == 0 ? (text, []) : (text[..begin], calls);
    }

    [GeneratedRegex("<｜tool▁call▁begin｜>(?<type>.*?)<｜tool▁sep｜>(?<name>.*?)\\n```json\\n(?<args>.*?)\\n```<｜tool▁call▁end｜>", RegexOptions.Singleline)]
    private static partial Regex Call();
}
