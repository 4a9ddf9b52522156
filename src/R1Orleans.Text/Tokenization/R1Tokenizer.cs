using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

[assembly: InternalsVisibleTo("R1Orleans.Text.Tests")]

namespace R1Orleans.Text.Tokenization;

/// <summary>
/// A byte-level BPE tokenizer read from a Hugging Face <c>tokenizer.json</c> (DeepSeek-V3, R1 and their family),
/// reproducing what Hugging Face <c>tokenizers</c> does with the file as written: added tokens matched first,
/// then the pre-tokenizer pipeline, byte-level BPE, and the post-processor's template.
/// </summary>
/// <remarks>
/// <para>The pipeline is read from tokenizer.json, never inferred from <c>tokenizer_class</c> (transformers 5.x's
/// LlamaTokenizerFast swaps the ByteLevel pre-tokenizer for Metaspace and drops spaces). tokenizer_config.json, when
/// present beside tokenizer.json, only names the BOS and EOS tokens; its <c>add_bos_token</c> does not change
/// encoding (the post-processor decides, as in <c>tokenizers</c>).</para>
/// <para>What comes from Microsoft.ML.Tokenizers: the BPE model itself (<see cref="BpeTokenizer"/> with
/// <c>ByteLevel = true</c>): UTF-8 to byte-level characters, the merge loop by rank, its word cache.
/// What is written here, and why:</para>
/// <list type="bullet">
/// <item>BPE of pieces longer than <see cref="LongPieceChars"/> characters (<see cref="LongPieceBpe"/>): ML's merge
/// loop is quadratic in the piece length (100k CJK characters, one piece, took over 10 s), a denial-of-service risk
/// with untrusted prompts; the same algorithm in O(n log n) gives the same ids.</item>
/// <item>Pre-tokenization (<see cref="PreTokenizerPipeline"/>): <see cref="System.Text.RegularExpressions.Regex"/>
/// works on UTF-16 code units, so <c>\p{L}</c>/<c>\p{S}</c> never match characters outside the BMP (emoji,
/// CJK Extension B) and the golden ids for emoji differ; the patterns run on <see cref="CodePointRegex"/>, a linear-time
/// engine over code points. ML's <see cref="CompositePreTokenizer"/> also differs from Hugging Face's <c>Sequence</c>
/// (it passes only the text between one step's matches to the next step).</item>
/// <item>Added tokens (<see cref="AddedTokenMatcher"/>): Hugging Face splits them out before pre-tokenization with
/// leftmost-longest matching, non-normalized tokens first; ML's special tokens are a leftmost-first regex alternation
/// inside the pre-tokenizer.</item>
/// <item>Decoding: ML's <c>considerSpecialTokens</c> treats every added token as special, while Hugging Face's
/// <c>skip_special_tokens</c> keeps added tokens that are not special (e.g. <c>&lt;think&gt;</c>); decoding is
/// bytes plus lossy UTF-8, as the ByteLevel decoder does.</item>
/// <item>The post-processor template, input limits and lone-surrogate handling.</item>
/// </list>
/// <para>Instances are immutable and safe to use from several threads.</para>
/// </remarks>
public sealed class R1Tokenizer
{
    /// <summary>Largest id accepted from a tokenizer.json (keeps a hostile file from allocating gigabytes).</summary>
    private const int MaxTokenId = 16_000_000;

    /// <summary>Pieces longer than this (UTF-16 characters) are merged by <see cref="LongPieceBpe"/> instead of ML's BpeTokenizer.</summary>
    internal const int LongPieceChars = 32;

    /// <summary>True once the long-piece BPE has been built (on the first long piece, never by Load).</summary>
    internal bool LongPieceBpeBuilt => _longBpe.IsValueCreated;

    private readonly BpeTokenizer _bpe;
    private readonly Lazy<LongPieceBpe?> _longBpe;
    private readonly Dictionary<string, int> _vocab;
    private readonly bool _ignoreMerges;
    private readonly AddedTokenMatcher _rawAdded;
    private readonly AddedTokenMatcher _normalizedAdded;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly PreTokenizerPipeline _preTokenizer;
    private readonly PostProcessor _postProcessor;
    private readonly string?[] _idToToken;
    private readonly byte[]?[] _idToBytes;
    private readonly byte[] _flags;

    private const byte FlagAdded = 1;
    private const byte FlagSpecial = 2;

    private R1Tokenizer(
        BpeTokenizer bpe,
        Lazy<LongPieceBpe?> longBpe,
        Dictionary<string, int> vocab,
        bool ignoreMerges,
        AddedTokenMatcher rawAdded,
        AddedTokenMatcher normalizedAdded,
        Dictionary<string, int> addedByContent,
        PreTokenizerPipeline preTokenizer,
        PostProcessor postProcessor,
        string?[] idToToken,
        byte[]?[] idToBytes,
        byte[] flags,
        R1TokenizerOptions options)
    {
        _bpe = bpe;
        _longBpe = longBpe;
        _vocab = vocab;
        _ignoreMerges = ignoreMerges;
        _rawAdded = rawAdded;
        _normalizedAdded = normalizedAdded;
        _addedByContent = addedByContent;
        _preTokenizer = preTokenizer;
        _postProcessor = postProcessor;
        _idToToken = idToToken;
        _idToBytes = idToBytes;
        _flags = flags;
        Options = options;
    }

    /// <summary>The limits in force.</summary>
    public R1TokenizerOptions Options { get; }

    /// <summary>Size of the id space: one more than the largest id of the vocabulary and the added tokens (DeepSeek-V3: 128,815; the model's vocab_size pads it).</summary>
    public int VocabSize => _idToToken.Length;

    /// <summary>The BOS id: tokenizer_config.json's <c>bos_token</c> when given, else the special token the post-processor puts first; null when neither says.</summary>
    public int? BosId { get; private init; }

    /// <summary>The EOS id, from tokenizer_config.json's <c>eos_token</c>; null without one.</summary>
    public int? EosId { get; private init; }

    /// <summary>Whether <see cref="Encode"/> with <c>addSpecialTokens</c> adds tokens (the post-processor's template).</summary>
    public bool AddsSpecialTokens => _postProcessor.AddsTokens;

    /// <summary>
    /// Loads <paramref name="tokenizerJsonPath"/>; a tokenizer_config.json in the same directory, if any, supplies the
    /// BOS and EOS token names.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is malformed.</exception>
    /// <exception cref="NotSupportedException">The file uses a model, normalizer, pre-tokenizer, post-processor or decoder this class does not implement.</exception>
    public static R1Tokenizer Load(string tokenizerJsonPath, R1TokenizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJsonPath);
        options ??= new R1TokenizerOptions();
        var info = new FileInfo(tokenizerJsonPath);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"tokenizer.json not found: {tokenizerJsonPath}", tokenizerJsonPath);
        }

        if (info.Length > options.MaxTokenizerFileBytes)
        {
            throw new InvalidDataException(
                $"{tokenizerJsonPath}: {info.Length} bytes, above the limit of {options.MaxTokenizerFileBytes} bytes");
        }

        byte[] json = File.ReadAllBytes(tokenizerJsonPath);
        string configPath = Path.Combine(info.DirectoryName ?? ".", "tokenizer_config.json");
        ReadOnlyMemory<byte>? config = null;
        if (File.Exists(configPath) && new FileInfo(configPath).Length <= options.MaxTokenizerFileBytes)
        {
            config = File.ReadAllBytes(configPath);
        }

        try
        {
            return FromJson(json, config, options);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{tokenizerJsonPath}: {e.Message}", e);
        }
    }

    /// <summary>Builds a tokenizer from tokenizer.json's UTF-8 bytes (and optionally tokenizer_config.json's).</summary>
    public static R1Tokenizer FromJson(ReadOnlyMemory<byte> tokenizerJson, ReadOnlyMemory<byte>? tokenizerConfigJson = null, R1TokenizerOptions? options = null)
    {
        options ??= new R1TokenizerOptions();
        if (options.MaxInputChars <= 0)
        {
            throw new ArgumentException("MaxInputChars must be positive", nameof(options));
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(tokenizerJson, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"tokenizer.json is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            R1Tokenizer tokenizer = Build(doc.RootElement, options);
            if (tokenizerConfigJson is { } configBytes)
            {
                (string? bos, string? eos) = ReadConfigTokens(configBytes);
                return new R1Tokenizer(tokenizer)
                {
                    BosId = (bos is null ? null : tokenizer.TokenId(bos)) ?? tokenizer.BosId,
                    EosId = eos is null ? null : tokenizer.TokenId(eos),
                };
            }

            return tokenizer;
        }
    }

    private R1Tokenizer(R1Tokenizer other)
        : this(other._bpe, other._longBpe, other._vocab, other._ignoreMerges, other._rawAdded, other._normalizedAdded, other._addedByContent,
               other._preTokenizer, other._postProcessor, other._idToToken, other._idToBytes, other._flags, other.Options)
    {
    }

    /// <summary>
    /// Encodes <paramref name="text"/>. With <paramref name="addSpecialTokens"/>, the post-processor's template is
    /// applied (DeepSeek-R1's tokenizer.json: BOS first; DeepSeek-V3's: nothing). Added and special tokens written in
    /// the text are always recognized, as in Hugging Face <c>tokenizers</c>. Lone surrogates are encoded as U+FFFD.
    /// </summary>
    /// <exception cref="ArgumentException">The text is longer than <see cref="R1TokenizerOptions.MaxInputChars"/>.</exception>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        List<int> ids = EncodeCore(text, pieces: null);
        return addSpecialTokens ? _postProcessor.Apply(ids) : ids;
    }

    /// <summary>The token strings of <see cref="Encode"/>'s ids (without the post-processor): added tokens as written, byte-level tokens in their vocabulary form (e.g. <c>Ġworld</c>).</summary>
    public IReadOnlyList<string> Tokenize(string text)
    {
        List<int> ids = EncodeCore(text, pieces: null);
        var tokens = new List<string>(ids.Count);
        foreach (int id in ids)
        {
            tokens.Add(_idToToken[id] ?? string.Empty);
        }

        return tokens;
    }

    /// <summary>The pre-tokenized pieces of <paramref name="text"/> (added tokens included as pieces), before BPE; for diagnostics and tests.</summary>
    public IReadOnlyList<string> PreTokenize(string text)
    {
        var pieces = new List<string>();
        EncodeCore(text, pieces);
        return pieces;
    }

    private List<int> EncodeCore(string text, List<string>? pieces)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > Options.MaxInputChars)
        {
            throw new ArgumentException(
                $"input text is {text.Length} characters long, above the limit of {Options.MaxInputChars}", nameof(text));
        }

        text = ReplaceLoneSurrogates(text);
        var ids = new List<int>(text.Length / 3);

        // 1. Added tokens: non-normalized ones on the raw text, then normalized ones on what is left (the normalizer is
        //    the identity, so both see the same characters).
        var first = new List<AddedTokenMatcher.Segment>();
        _rawAdded.Split(text, 0, text.Length, first);
        var segments = new List<AddedTokenMatcher.Segment>();
        foreach (AddedTokenMatcher.Segment s in first)
        {
            if (s.TokenId >= 0)
            {
                segments.Add(s);
            }
            else
            {
                _normalizedAdded.Split(text, s.Offset, s.Length, segments);
            }
        }

        // 2. Each stretch of ordinary text: pre-tokenize, then BPE each piece.
        foreach (AddedTokenMatcher.Segment s in segments)
        {
            if (s.TokenId >= 0)
            {
                ids.Add(s.TokenId);
                pieces?.Add(text.Substring(s.Offset, s.Length));
                continue;
            }

            foreach (ReadOnlyMemory<char> piece in _preTokenizer.Run(text.AsMemory(s.Offset, s.Length)))
            {
                if (pieces is not null)
                {
                    pieces.Add(piece.ToString());
                    continue;
                }

                EncodePiece(piece.Span, ids);
            }
        }

        return ids;
    }

    private void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        if (_ignoreMerges && _vocab.TryGetValue(ByteLevelAlphabet.Encode(piece), out int whole))
        {
            ids.Add(whole);
            return;
        }

        if (piece.Length > LongPieceChars && _longBpe.Value is { } longBpe)
        {
            longBpe.Encode(piece, ids);
            return;
        }

        ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
    }

    /// <summary>One piece through one BPE implementation (for the test that both agree).</summary>
    internal List<int> EncodePieceWith(string piece, bool longPieceBpe)
    {
        var ids = new List<int>();
        if (longPieceBpe)
        {
            (_longBpe.Value ?? throw new InvalidOperationException("no long-piece BPE for this vocabulary")).Encode(piece, ids);
        }
        else
        {
            ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
        }

        return ids;
    }

    /// <summary>
    /// Decodes ids to text as Hugging Face <c>tokenizers</c> does with a ByteLevel decoder: the bytes of consecutive
    /// vocabulary tokens are joined and read as UTF-8 (ill-formed sequences become U+FFFD); added tokens contribute
    /// their text. With <paramref name="skipSpecialTokens"/>, special tokens are left out (other added tokens stay).
    /// Ids outside the vocabulary (e.g. the model's padding ids) are skipped.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            switch (Classify(id, skipSpecialTokens))
            {
                case PieceKind.Bytes:
                    bytes.AddRange(_idToBytes[id]!);
                    break;
                case PieceKind.Text:
                    FlushBytes(bytes, text);
                    text.Append(_idToToken[id]);
                    break;
                default:
                    break;
            }
        }

        FlushBytes(bytes, text);
        return text.ToString();
    }

    private static void FlushBytes(List<byte> bytes, StringBuilder text)
    {
        if (bytes.Count > 0)
        {
            text.Append(Utf8Lossy.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)));
            bytes.Clear();
        }
    }

    /// <summary>A streaming decoder for one request's generated ids.</summary>
    public IncrementalDetokenizer CreateDetokenizer(bool skipSpecialTokens) => new(this, skipSpecialTokens);

    /// <summary>Whether <paramref name="id"/> is an added token marked special (BOS, EOS, padding, placeholders...).</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)_flags.Length && (_flags[id] & FlagSpecial) != 0;

    /// <summary>Whether <paramref name="id"/> is an added token (special or not, e.g. <c>&lt;｜User｜&gt;</c>).</summary>
    public bool IsAddedToken(int id) => (uint)id < (uint)_flags.Length && (_flags[id] & FlagAdded) != 0;

    /// <summary>The token's string: an added token's content, or a vocabulary token in byte-level form; null for an unknown id.</summary>
    public string? TokenText(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>The raw bytes a vocabulary token stands for (null for added tokens and unknown ids).</summary>
    public ReadOnlyMemory<byte>? TokenBytes(int id) =>
        (uint)id < (uint)_idToBytes.Length && _idToBytes[id] is { } b && (_flags[id] & FlagAdded) == 0 ? b : null;

    /// <summary>The id of a token string (added tokens first, then the vocabulary), or null.</summary>
    public int? TokenId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_addedByContent.TryGetValue(token, out int id) || _vocab.TryGetValue(token, out id))
        {
            return id;
        }

        return null;
    }

    internal enum PieceKind
    {
        Skip,
        Bytes,
        Text,
    }

    /// <summary>How decoding treats <paramref name="id"/>.</summary>
    internal PieceKind Classify(int id, bool skipSpecialTokens)
    {
        if ((uint)id >= (uint)_idToToken.Length || _idToToken[id] is null)
        {
            return PieceKind.Skip;
        }

        byte flags = _flags[id];
        if ((flags & FlagAdded) != 0)
        {
            return skipSpecialTokens && (flags & FlagSpecial) != 0 ? PieceKind.Skip : PieceKind.Text;
        }

        return PieceKind.Bytes;
    }

    internal byte[] BytesOf(int id) => _idToBytes[id]!;

    internal string TextOf(int id) => _idToToken[id]!;

    private static string ReplaceLoneSurrogates(string text)
    {
        int i = 0;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsSurrogate(c))
            {
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                    continue;
                }

                break;
            }
        }

        if (i >= text.Length)
        {
            return text;
        }

        var sb = new StringBuilder(text.Length);
        sb.Append(text, 0, i);
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[i + 1]);
                i++;
            }
            else
            {
                sb.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
            }
        }

        return sb.ToString();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Loading

    private static R1Tokenizer Build(JsonElement root, R1TokenizerOptions options)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("tokenizer.json: the top level is not an object");
        }

        CheckNormalizer(TokenizerJson.Optional(root, "normalizer"));
        CheckDecoder(TokenizerJson.Optional(root, "decoder"));

        if (TokenizerJson.Optional(root, "model") is not { ValueKind: JsonValueKind.Object } model)
        {
            throw new InvalidDataException("tokenizer.json: no 'model' object");
        }

        string modelType = model.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "BPE";
        if (modelType != "BPE")
        {
            throw new NotSupportedException($"tokenizer.json: model type '{modelType}' is not supported (only byte-level BPE)");
        }

        CheckUnsupportedBpeOption(model, "dropout", v => v.ValueKind == JsonValueKind.Number && v.GetDouble() != 0);
        CheckUnsupportedBpeOption(model, "byte_fallback", v => v.ValueKind == JsonValueKind.True);
        CheckUnsupportedBpeOption(model, "continuing_subword_prefix", v => v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0);
        CheckUnsupportedBpeOption(model, "end_of_word_suffix", v => v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0);
        bool ignoreMerges = TokenizerJson.OptionalBool(model, "ignore_merges") ?? false;
        string? unkToken = TokenizerJson.Optional(model, "unk_token") is { ValueKind: JsonValueKind.String } unk ? unk.GetString() : null;
        bool fuseUnk = TokenizerJson.OptionalBool(model, "fuse_unk") ?? false;

        PreTokenizerPipeline preTokenizer = PreTokenizerPipeline.FromJson(TokenizerJson.Optional(root, "pre_tokenizer"));
        if (!preTokenizer.HasByteLevel)
        {
            throw new NotSupportedException("tokenizer.json: the pre_tokenizer has no ByteLevel step; only byte-level BPE is supported");
        }

        PostProcessor postProcessor = PostProcessor.FromJson(TokenizerJson.Optional(root, "post_processor"));

        // Vocabulary.
        if (TokenizerJson.Optional(model, "vocab") is not { ValueKind: JsonValueKind.Object } vocabJson)
        {
            throw new InvalidDataException("tokenizer.json: model.vocab is not an object");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int maxId = -1;
        foreach (JsonProperty p in vocabJson.EnumerateObject())
        {
            int id = ReadId(p.Value, $"model.vocab['{p.Name}']");
            if (!vocab.TryAdd(p.Name, id))
            {
                throw new InvalidDataException($"tokenizer.json: model.vocab lists '{p.Name}' twice");
            }

            maxId = Math.Max(maxId, id);
        }

        if (vocab.Count == 0)
        {
            throw new InvalidDataException("tokenizer.json: model.vocab is empty");
        }

        // Merges: "a b" strings (older files) or ["a", "b"] pairs (newer ones).
        var merges = new List<string>();
        if (TokenizerJson.Optional(model, "merges") is { } mergesJson)
        {
            if (mergesJson.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException("tokenizer.json: model.merges is not an array");
            }

            foreach (JsonElement m in mergesJson.EnumerateArray())
            {
                merges.Add(ReadMerge(m, merges.Count));
            }
        }

        // Added tokens.
        var rawAdded = new AddedTokenMatcher();
        var normalizedAdded = new AddedTokenMatcher();
        var addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        var added = new List<(int Id, string Content, bool Special)>();
        if (TokenizerJson.Optional(root, "added_tokens") is { } addedJson)
        {
            if (addedJson.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException("tokenizer.json: added_tokens is not an array");
            }

            foreach (JsonElement a in addedJson.EnumerateArray())
            {
                int id = ReadId(a.TryGetProperty("id", out JsonElement idJson) ? idJson : default, "added_tokens[].id");
                string content = TokenizerJson.RequiredString(a, "content", "added_tokens[]");
                foreach (string flag in (ReadOnlySpan<string>)["single_word", "lstrip", "rstrip"])
                {
                    if (TokenizerJson.OptionalBool(a, flag) == true)
                    {
                        throw new NotSupportedException($"tokenizer.json: added token '{content}' sets {flag}, which is not supported");
                    }
                }

                bool special = TokenizerJson.OptionalBool(a, "special") ?? false;
                bool normalized = TokenizerJson.OptionalBool(a, "normalized") ?? !special;
                (normalized ? normalizedAdded : rawAdded).Add(content, id);
                addedByContent[content] = id;
                added.Add((id, content, special));
                maxId = Math.Max(maxId, id);
            }
        }

        // Id tables.
        var idToToken = new string?[maxId + 1];
        var idToBytes = new byte[]?[maxId + 1];
        var flags = new byte[maxId + 1];
        foreach ((string token, int id) in vocab)
        {
            if (idToToken[id] is not null)
            {
                throw new InvalidDataException($"tokenizer.json: model.vocab gives id {id} to both '{idToToken[id]}' and '{token}'");
            }

            idToToken[id] = token;
            idToBytes[id] = ByteLevelAlphabet.TokenBytes(token);
        }

        foreach ((int id, string content, bool special) in added)
        {
            idToToken[id] = content;
            flags[id] = (byte)(FlagAdded | (special ? FlagSpecial : 0));
        }

        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = merges,
                ByteLevel = true,
                UnknownToken = unkToken,
                FuseUnknownTokens = fuseUnk,
            });
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"tokenizer.json: inconsistent BPE model: {e.Message}", e);
        }

        // Built on first use (a long piece): about 0.1 s for DeepSeek-V3's 127k merges, not needed by most prompts.
        var longBpe = new Lazy<LongPieceBpe?>(() => LongPieceBpe.TryCreate(vocab, merges), LazyThreadSafetyMode.ExecutionAndPublication);
        var tokenizer = new R1Tokenizer(
            bpe, longBpe, vocab, ignoreMerges, rawAdded, normalizedAdded, addedByContent, preTokenizer, postProcessor,
            idToToken, idToBytes, flags, options)
        {
            BosId = postProcessor.LeadingSpecialId,
        };
        return tokenizer;
    }

    private static int ReadId(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id) || id < 0 || id > MaxTokenId)
        {
            throw new InvalidDataException($"tokenizer.json: {where} is not a token id in [0, {MaxTokenId}]");
        }

        return id;
    }

    private static string ReadMerge(JsonElement m, int index)
    {
        if (m.ValueKind == JsonValueKind.String)
        {
            string s = m.GetString()!;
            int space = s.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || space == s.Length - 1 || s.IndexOf(' ', space + 1) >= 0)
            {
                throw new InvalidDataException($"tokenizer.json: model.merges[{index}] is not of the form \"a b\"");
            }

            return s;
        }

        if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
            && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
        {
            string a = m[0].GetString()!;
            string b = m[1].GetString()!;
            if (a.Length == 0 || b.Length == 0 || a.Contains(' ', StringComparison.Ordinal) || b.Contains(' ', StringComparison.Ordinal))
            {
                // Microsoft.ML.Tokenizers takes merges as "a b" strings; byte-level tokens never hold a space (it is Ġ).
                throw new NotSupportedException($"tokenizer.json: model.merges[{index}] has an empty token or one containing a space");
            }

            return a + " " + b;
        }

        throw new InvalidDataException($"tokenizer.json: model.merges[{index}] is neither \"a b\" nor [\"a\", \"b\"]");
    }

    private static void CheckUnsupportedBpeOption(JsonElement model, string name, Func<JsonElement, bool> unsupported)
    {
        if (model.TryGetProperty(name, out JsonElement v) && unsupported(v))
        {
            throw new NotSupportedException($"tokenizer.json: BPE option '{name}' = {v.GetRawText()} is not supported");
        }
    }

    private static void CheckNormalizer(JsonElement? normalizer)
    {
        if (normalizer is not { } n)
        {
            return;
        }

        string type = TokenizerJson.RequiredString(n, "type", "normalizer");
        if (type == "Sequence" && TokenizerJson.RequiredArray(n, "normalizers", "normalizer Sequence").Any())
        {
            throw new NotSupportedException("tokenizer.json: only an empty normalizer Sequence (or none) is supported");
        }

        if (type != "Sequence")
        {
            throw new NotSupportedException($"tokenizer.json: normalizer type '{type}' is not supported (only none or an empty Sequence)");
        }
    }

    private static void CheckDecoder(JsonElement? decoder)
    {
        string? type = decoder is { } d ? TokenizerJson.RequiredString(d, "type", "decoder") : null;
        if (type != "ByteLevel")
        {
            throw new NotSupportedException($"tokenizer.json: decoder '{type ?? "none"}' is not supported (only ByteLevel)");
        }
    }

    private static (string? Bos, string? Eos) ReadConfigTokens(ReadOnlyMemory<byte> configJson)
    {
        try
        {
            using JsonDocument config = JsonDocument.Parse(configJson, new JsonDocumentOptions { MaxDepth = 64 });
            return (TokenName(config.RootElement, "bos_token"), TokenName(config.RootElement, "eos_token"));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"tokenizer_config.json is not valid JSON: {e.Message}", e);
        }

        // "bos_token": "<...>" or {"__type": "AddedToken", "content": "<...>", ...}.
        static string? TokenName(JsonElement root, string name) =>
            TokenizerJson.Optional(root, name) switch
            {
                { ValueKind: JsonValueKind.String } s => s.GetString(),
                { ValueKind: JsonValueKind.Object } o when o.TryGetProperty("content", out JsonElement c) && c.ValueKind == JsonValueKind.String => c.GetString(),
                _ => null,
            };
    }
}
