using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using R1Orleans.Checkpoint;

namespace R1Orleans.BuiltInModel;

/// <summary>
/// The model the silo serves when no checkpoint is given: a small DeepSeek-V3-architecture checkpoint with RANDOM
/// weights (FP8 128×128 blocks, an MTP layer, YaRN, two shards) plus a tokenizer learned here from a built-in text and
/// R1's chat template. Its output is noise; it exists so that every part of the serving pipeline can run anywhere
/// without downloading anything. Generation is deterministic: the same generator writes byte-identical files.
/// </summary>
public static class BuiltInModel
{
    /// <summary>The model id the built-in model is served under.</summary>
    public const string Name = "r1orleans-builtin-random";

    /// <summary>Bump whenever the generator's output changes, so that caches regenerate.</summary>
    public const int GeneratorVersion = 1;

    /// <summary>Seeds every weight.</summary>
    public const int Seed = 20250120;

    /// <summary>The tokenizer's id space (vocabulary plus added tokens) is at most this, and the model's vocab_size is this.</summary>
    public const int VocabSize = 1280;

    /// <summary>Context length (max_position_embeddings and the tokenizer's model_max_length).</summary>
    public const int ContextLength = 4096;

    /// <summary>Environment variable that overrides <see cref="DefaultCacheDirectory"/>.</summary>
    public const string CacheDirectoryVariable = "R1ORLEANS_CACHE_DIR";

    /// <summary>Written last into a finished model directory: generator version, fingerprint, and each file's size and SHA-256.</summary>
    public const string MarkerFileName = "r1orleans-builtin.json";

    private const string TempPrefix = ".tmp-";

    private static readonly Lazy<string> s_fingerprint = new(ComputeFingerprint);

    /// <summary>
    /// Where the built-in model is cached: $R1ORLEANS_CACHE_DIR, else $XDG_CACHE_HOME/r1orleans, else ~/.cache/r1orleans
    /// (the local application data folder on Windows).
    /// </summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            string? overridden = Environment.GetEnvironmentVariable(CacheDirectoryVariable);
            if (!string.IsNullOrWhiteSpace(overridden))
            {
                return Path.GetFullPath(overridden);
            }

            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg))
            {
                return Path.Combine(xdg, "r1orleans");
            }

            if (OperatingSystem.IsWindows())
            {
                return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "r1orleans");
            }

            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, ".cache", "r1orleans");
        }
    }

    /// <summary>SHA-256 (hex) of everything the generated files depend on: generator version, seed, config, text, template.</summary>
    public static string Fingerprint => s_fingerprint.Value;

    /// <summary>The versioned folder name inside a cache directory, e.g. <c>r1orleans-builtin-random-v1-0123456789ab</c>.</summary>
    public static string FolderName => $"{Name}-v{GeneratorVersion}-{Fingerprint[..12]}";

    /// <summary>The built-in model's config.json: <see cref="SyntheticCheckpoint.TinyConfig"/> with an MTP layer, FP8 weights, YaRN to 4096 positions.</summary>
    public static ModelConfig Config() => SyntheticCheckpoint.TinyConfig() with
    {
        VocabSize = VocabSize,
        NumNextnPredictLayers = 1,
        Quantization = new Fp8Quantization("e4m3", 128, 128),
        MaxPositionEmbeddings = ContextLength,
        RopeScaling = new YarnScaling(Factor: 8, OriginalMaxPositionEmbeddings: ContextLength / 8, BetaFast: 32, BetaSlow: 1, Mscale: 1, MscaleAllDim: 1),
        BosTokenId = BuiltInTokenizer.BosId,
        EosTokenId = BuiltInTokenizer.EosId,
    };

    /// <summary>
    /// The built-in model's directory under <paramref name="cacheDirectory"/>, generating it first when it is missing,
    /// incomplete or from another generator version. Generation writes into a temporary folder beside it and renames it
    /// into place, so a crash never leaves a half-written model where a later start would use it; when several processes
    /// race, one rename wins and the others use its result.
    /// </summary>
    public static string EnsureCreated(string cacheDirectory, IProgress<string>? progress = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheDirectory);
        string root = Path.GetFullPath(cacheDirectory);
        string target = Path.Combine(root, FolderName);
        if (IsComplete(target))
        {
            progress?.Report($"using the built-in model in {target}");
            return target;
        }

        Directory.CreateDirectory(root);
        RemoveStaleTemporaries(root);
        string temp = Path.Combine(root, $"{TempPrefix}{FolderName}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            progress?.Report($"generating the built-in model (random weights) in {target}");
            Generate(temp, progress);
            if (Directory.Exists(target))
            {
                if (IsComplete(target))
                {
                    return target;
                }

                // Left over by an older generator or damaged: replace it.
                Directory.Delete(target, recursive: true);
            }

            try
            {
                Directory.Move(temp, target);
            }
            catch (IOException) when (IsComplete(target))
            {
                // Another process finished first.
            }

            progress?.Report($"built-in model ready in {target}");
            return target;
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                TryDelete(temp);
            }
        }
    }

    /// <summary>Writes the model (every file, the marker last) into <paramref name="directory"/>, which must not exist or be empty.</summary>
    public static void Generate(string directory, IProgress<string>? progress = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new IOException($"{directory} is not empty");
        }

        Directory.CreateDirectory(directory);
        progress?.Report("training the tokenizer");
        BuiltInTokenizer tokenizer = BuiltInTokenizer.Train(VocabSize);
        File.WriteAllBytes(Path.Combine(directory, "tokenizer.json"), tokenizer.TokenizerJson());
        File.WriteAllBytes(Path.Combine(directory, "tokenizer_config.json"), BuiltInTokenizer.TokenizerConfigJson(ContextLength));
        File.WriteAllBytes(Path.Combine(directory, "generation_config.json"), BuiltInTokenizer.GenerationConfigJson());

        ModelConfig config = Config();
        progress?.Report("writing random weights");
        SyntheticCheckpoint.Write(directory, config, new SyntheticCheckpointOptions(Seed: Seed, Shards: 2, IncludeMtpCopies: true));
        File.WriteAllText(Path.Combine(directory, "README.md"), ModelCard.Text(config, tokenizer, Fingerprint).ReplaceLineEndings("\n"));
        File.WriteAllBytes(Path.Combine(directory, MarkerFileName), Marker(directory));
    }

    /// <summary>Whether <paramref name="directory"/> holds a finished model of this generator: its marker matches and every file it lists has the listed size and hash.</summary>
    public static bool IsComplete(string directory)
    {
        string markerPath = Path.Combine(directory, MarkerFileName);
        if (!File.Exists(markerPath))
        {
            return false;
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(markerPath));
            JsonElement root = doc.RootElement;
            if (root.GetProperty("generator_version").GetInt32() != GeneratorVersion
                || root.GetProperty("fingerprint").GetString() != Fingerprint)
            {
                return false;
            }

            foreach (JsonProperty file in root.GetProperty("files").EnumerateObject())
            {
                var info = new FileInfo(Path.Combine(directory, file.Name));
                if (!info.Exists || info.Length != file.Value.GetProperty("bytes").GetInt64()
                    || Sha256(info.FullName) != file.Value.GetProperty("sha256").GetString())
                {
                    return false;
                }
            }

            return true;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException or FormatException)
        {
            return false;
        }
    }

    private static byte[] Marker(string directory)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            w.WriteStartObject();
            w.WriteString("name", Name);
            w.WriteNumber("generator_version", GeneratorVersion);
            w.WriteString("fingerprint", Fingerprint);
            w.WriteString("note", "random weights: the output is noise");
            w.WriteStartObject("files");
            foreach (string path in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
            {
                string name = Path.GetFileName(path);
                if (name == MarkerFileName)
                {
                    continue;
                }

                w.WriteStartObject(name);
                w.WriteNumber("bytes", new FileInfo(path).Length);
                w.WriteString("sha256", Sha256(path));
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    private static string Sha256(string path)
    {
        using FileStream f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    private static string ComputeFingerprint()
    {
        var text = new StringBuilder()
            .Append("generator=").Append(GeneratorVersion).Append('\n')
            .Append("seed=").Append(Seed).Append('\n')
            .Append("vocab=").Append(VocabSize).Append('\n')
            .Append("config=").Append(ModelConfigWriter.ToJson(Config()).ReplaceLineEndings("\n")).Append('\n')
            .Append("text=").Append(TrainingText.Text.ReplaceLineEndings("\n")).Append('\n')
            .Append("template=").Append(R1ChatTemplate.Source).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Temporary folders of generations that crashed over an hour ago.</summary>
    private static void RemoveStaleTemporaries(string root)
    {
        foreach (string dir in Directory.EnumerateDirectories(root, TempPrefix + Name + "*"))
        {
            if (Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow.AddHours(-1))
            {
                TryDelete(dir);
            }
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
