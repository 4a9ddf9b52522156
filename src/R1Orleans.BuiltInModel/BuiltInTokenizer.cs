using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using R1Orleans.Text.Tokenization;

namespace R1Orleans.BuiltInModel;

/// <summary>
/// The built-in model's tokenizer: a Hugging Face tokenizer.json in DeepSeek-V3's layout (byte-level BPE; the three
/// Split regexes then ByteLevel; ByteLevel decoder; a TemplateProcessing post-processor that puts BOS first; R1's added
/// tokens) whose merges are learned by <see cref="BpeTrainer"/> from <see cref="TrainingText"/>.
/// Ids: 0–2 BOS, EOS and padding (special), 3–258 the 256 bytes in GPT-2 order, then the merges, then the added tokens
/// that are not special.
/// </summary>
internal sealed class BuiltInTokenizer
{
    public const string Bos = "<｜begin▁of▁sentence｜>";
    public const string Eos = "<｜end▁of▁sentence｜>";
    public const string Pad = "<｜▁pad▁｜>";

    /// <summary>The first Split of DeepSeek-V3's pre-tokenizer: runs of up to three digits.</summary>
    public const string DigitsRegex = """\p{N}{1,3}""";

    /// <summary>The second Split: runs of CJK ideographs, hiragana and katakana.</summary>
    public const string CjkRegex = "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+";

    /// <summary>The third Split: DeepSeek-V3's main word/punctuation/space regex, as its tokenizer.json writes it.</summary>
    public const string MainRegex = """[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""";

    /// <summary>Added tokens that are not special: the chat roles, the think block and R1's tool-call markers.</summary>
    public static readonly IReadOnlyList<string> ChatTokens =
    [
        "<｜User｜>",
        "<｜Assistant｜>",
        "<think>",
        "</think>",
        "<｜tool▁calls▁begin｜>",
        "<｜tool▁calls▁end｜>",
        "<｜tool▁call▁begin｜>",
        "<｜tool▁call▁end｜>",
        "<｜tool▁outputs▁begin｜>",
        "<｜tool▁outputs▁end｜>",
        "<｜tool▁output▁begin｜>",
        "<｜tool▁output▁end｜>",
        "<｜tool▁sep｜>",
    ];

    private static readonly string[] s_specialTokens = [Bos, Eos, Pad];

    private static readonly JsonWriterOptions s_jsonOptions = new()
    {
        Indented = true,
        NewLine = "\n",
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private BuiltInTokenizer(List<string> vocab, List<(string Left, string Right)> merges)
    {
        Vocab = vocab;
        Merges = merges;
    }

    /// <summary>The BPE vocabulary in id order (the special tokens first, then bytes, then merged tokens).</summary>
    public IReadOnlyList<string> Vocab { get; }

    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    /// <summary>The whole id space: the vocabulary plus the non-special added tokens.</summary>
    public int Size => Vocab.Count + ChatTokens.Count;

    public static int BosId => 0;

    public static int EosId => 1;

    /// <summary>Learns up to <c>size − 259 − 13</c> merges from the built-in text so that <see cref="Size"/> ≤ <paramref name="size"/>.</summary>
    public static BuiltInTokenizer Train(int size)
    {
        var baseVocab = new List<string>(s_specialTokens);
        foreach (byte b in ByteLevel.Order)
        {
            baseVocab.Add(ByteLevel.ToChar(b).ToString());
        }

        int maxMerges = size - baseVocab.Count - ChatTokens.Count;
        ArgumentOutOfRangeException.ThrowIfNegative(maxMerges, nameof(size));

        // Pre-tokenize exactly as the finished tokenizer will: the same pipeline, with no merges yet.
        R1Tokenizer bootstrap = R1Tokenizer.FromJson(new BuiltInTokenizer(baseVocab, []).TokenizerJson());
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string piece in bootstrap.PreTokenize(TrainingText.Text.ReplaceLineEndings("\n")))
        {
            string word = ByteLevel.Encode(piece);
            counts[word] = counts.GetValueOrDefault(word) + 1;
        }

        List<(string Left, string Right)> merges = BpeTrainer.Train(counts, maxMerges);
        var vocab = new List<string>(baseVocab);
        var known = new HashSet<string>(vocab, StringComparer.Ordinal);
        foreach ((string left, string right) in merges)
        {
            if (known.Add(left + right))
            {
                vocab.Add(left + right);
            }
        }

        return new BuiltInTokenizer(vocab, merges);
    }

    /// <summary>tokenizer.json, UTF-8, as Hugging Face <c>tokenizers</c> lays it out.</summary>
    public byte[] TokenizerJson()
    {
        return Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (int i = 0; i < s_specialTokens.Length; i++)
            {
                WriteAddedToken(w, i, s_specialTokens[i], special: true);
            }

            for (int i = 0; i < ChatTokens.Count; i++)
            {
                WriteAddedToken(w, Vocab.Count + i, ChatTokens[i], special: false);
            }

            w.WriteEndArray();
            w.WriteNull("normalizer");

            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            foreach (string regex in new[] { DigitsRegex, CjkRegex, MainRegex })
            {
                w.WriteStartObject();
                w.WriteString("type", "Split");
                w.WriteStartObject("pattern");
                w.WriteString("Regex", regex);
                w.WriteEndObject();
                w.WriteString("behavior", "Isolated");
                w.WriteBoolean("invert", false);
                w.WriteEndObject();
            }

            w.WriteStartObject();
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", false);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();

            w.WriteStartObject("post_processor");
            w.WriteString("type", "TemplateProcessing");
            w.WriteStartArray("single");
            WriteSpecialPiece(w);
            WriteSequencePiece(w, "A");
            w.WriteEndArray();
            w.WriteStartArray("pair");
            WriteSpecialPiece(w);
            WriteSequencePiece(w, "A");
            WriteSpecialPiece(w);
            WriteSequencePiece(w, "B");
            w.WriteEndArray();
            w.WriteStartObject("special_tokens");
            w.WriteStartObject(Bos);
            w.WriteString("id", Bos);
            w.WriteStartArray("ids");
            w.WriteNumberValue(BosId);
            w.WriteEndArray();
            w.WriteStartArray("tokens");
            w.WriteStringValue(Bos);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();

            w.WriteStartObject("decoder");
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", true);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", true);
            w.WriteEndObject();

            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            for (int i = 0; i < Vocab.Count; i++)
            {
                w.WriteNumber(Vocab[i], i);
            }

            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach ((string left, string right) in Merges)
            {
                w.WriteStartArray();
                w.WriteStringValue(left);
                w.WriteStringValue(right);
                w.WriteEndArray();
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    /// <summary>tokenizer_config.json: the BOS/EOS names and R1's chat template.</summary>
    /// <remarks>tokenizer_class is PreTrainedTokenizerFast, not R1's LlamaTokenizerFast: transformers 5.x rebuilds the
    /// pre-tokenizer of the latter as Metaspace and drops spaces.</remarks>
    public static byte[] TokenizerConfigJson(int modelMaxLength) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteBoolean("add_bos_token", true);
        w.WriteBoolean("add_eos_token", false);
        w.WriteString("bos_token", Bos);
        w.WriteString("eos_token", Eos);
        w.WriteString("pad_token", Eos);
        w.WriteNull("unk_token");
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        w.WriteBoolean("legacy", true);
        w.WriteNumber("model_max_length", modelMaxLength);
        w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
        w.WriteString("chat_template", R1ChatTemplate.Source);
        w.WriteEndObject();
    });

    /// <summary>generation_config.json with DeepSeek-R1's recommended sampling (temperature 0.6, top-p 0.95).</summary>
    public static byte[] GenerationConfigJson() => Json(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("bos_token_id", BosId);
        w.WriteNumber("eos_token_id", EosId);
        w.WriteBoolean("do_sample", true);
        w.WriteNumber("temperature", 0.6);
        w.WriteNumber("top_p", 0.95);
        w.WriteEndObject();
    });

    private static void WriteAddedToken(Utf8JsonWriter w, int id, string content, bool special)
    {
        w.WriteStartObject();
        w.WriteNumber("id", id);
        w.WriteString("content", content);
        w.WriteBoolean("single_word", false);
        w.WriteBoolean("lstrip", false);
        w.WriteBoolean("rstrip", false);
        w.WriteBoolean("normalized", false);
        w.WriteBoolean("special", special);
        w.WriteEndObject();
    }

    private static void WriteSpecialPiece(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("SpecialToken");
        w.WriteString("id", Bos);
        w.WriteNumber("type_id", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSequencePiece(Utf8JsonWriter w, string id)
    {
        w.WriteStartObject();
        w.WriteStartObject("Sequence");
        w.WriteString("id", id);
        w.WriteNumber("type_id", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, s_jsonOptions))
        {
            write(w);
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
