using System.Text.Json;

namespace R1Orleans.Text.Tokenization;

/// <summary>
/// The part of tokenizer.json's <c>post_processor</c> that changes single-sequence ids when special tokens are added:
/// <c>TemplateProcessing</c>'s <c>single</c> template (e.g. DeepSeek-R1's <c>[BOS, $A]</c>). <c>ByteLevel</c> only
/// trims offsets and adds nothing (DeepSeek-V3's own tokenizer.json: no BOS is added, whatever tokenizer_config.json's
/// <c>add_bos_token</c> says, exactly as Hugging Face <c>tokenizers</c> runs it). <c>Sequence</c> applies its members in order.
/// </summary>
internal sealed class PostProcessor
{
    private readonly List<List<int>?> _single;

    private PostProcessor(List<List<int>?> single) => _single = single;

    /// <summary>A post-processor that adds nothing.</summary>
    public static PostProcessor None { get; } = new([null]);

    /// <summary>The first id the template puts before the sequence, if it starts with a special token.</summary>
    public int? LeadingSpecialId => _single.Count > 0 && _single[0] is { Count: > 0 } first ? first[0] : null;

    /// <summary>Whether the template adds any token.</summary>
    public bool AddsTokens => _single.Exists(item => item is { Count: > 0 });

    /// <summary>The template applied to <paramref name="ids"/>.</summary>
    public List<int> Apply(List<int> ids)
    {
        if (!AddsTokens)
        {
            return ids;
        }

        var result = new List<int>(ids.Count + 4);
        foreach (List<int>? item in _single)
        {
            if (item is null)
            {
                result.AddRange(ids);
            }
            else
            {
                result.AddRange(item);
            }
        }

        return result;
    }

    public static PostProcessor FromJson(JsonElement? element)
    {
        if (element is not { } e)
        {
            return None;
        }

        List<List<int>?> template = [null];
        Collect(e, ref template, depth: 0);
        return new PostProcessor(template);
    }

    private static void Collect(JsonElement e, ref List<List<int>?> template, int depth)
    {
        if (depth > 8)
        {
            throw new InvalidDataException("tokenizer.json: post_processor nested too deeply");
        }

        string type = TokenizerJson.RequiredString(e, "type", "post_processor");
        switch (type)
        {
            case "ByteLevel":
                break;
            case "Sequence":
                foreach (JsonElement child in TokenizerJson.RequiredArray(e, "processors", "post_processor Sequence"))
                {
                    Collect(child, ref template, depth + 1);
                }

                break;
            case "TemplateProcessing":
                template = ParseTemplate(e, template);
                break;
            default:
                throw new NotSupportedException(
                    $"tokenizer.json: post_processor type '{type}' is not supported (supported: TemplateProcessing, ByteLevel, Sequence)");
        }
    }

    /// <summary>Expands the <c>single</c> template; <c>$A</c> stands for whatever earlier processors produced.</summary>
    private static List<List<int>?> ParseTemplate(JsonElement e, List<List<int>?> inner)
    {
        var specials = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        if (TokenizerJson.Optional(e, "special_tokens") is { ValueKind: JsonValueKind.Object } st)
        {
            foreach (JsonProperty p in st.EnumerateObject())
            {
                var ids = new List<int>();
                foreach (JsonElement id in TokenizerJson.RequiredArray(p.Value, "ids", $"post_processor special token '{p.Name}'"))
                {
                    ids.Add(id.TryGetInt32(out int v) && v >= 0
                        ? v
                        : throw new InvalidDataException($"tokenizer.json: post_processor special token '{p.Name}' has an invalid id"));
                }

                specials[p.Name] = ids;
            }
        }

        var result = new List<List<int>?>();
        foreach (JsonElement item in TokenizerJson.RequiredArray(e, "single", "TemplateProcessing"))
        {
            if (item.TryGetProperty("SpecialToken", out JsonElement special))
            {
                string id = TokenizerJson.RequiredString(special, "id", "TemplateProcessing SpecialToken");
                result.Add(specials.TryGetValue(id, out List<int>? ids)
                    ? ids
                    : throw new InvalidDataException($"tokenizer.json: TemplateProcessing uses '{id}', which special_tokens does not define"));
            }
            else if (item.TryGetProperty("Sequence", out JsonElement sequence))
            {
                string id = TokenizerJson.RequiredString(sequence, "id", "TemplateProcessing Sequence");
                if (id != "A")
                {
                    throw new InvalidDataException($"tokenizer.json: the single TemplateProcessing template refers to sequence '{id}'");
                }

                result.AddRange(inner);
            }
            else
            {
                throw new InvalidDataException("tokenizer.json: TemplateProcessing item is neither SpecialToken nor Sequence");
            }
        }

        return result;
    }
}
