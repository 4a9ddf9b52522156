using System.Text.Json;
using System.Text.RegularExpressions;
using R1Orleans.Checkpoint;

namespace R1Orleans.Conformance;

/// <summary>One prompt's reference outputs from golden.safetensors.</summary>
public sealed record GoldenPrompt(
    int Index,
    int[] Tokens,
    float[] Logits,
    int[] Greedy,
    IReadOnlyDictionary<int, (long[] Ids, float[] Weights)> Routing,
    float[]? MtpLogits);

/// <summary>
/// A golden model case directory: a checkpoint (config.json, safetensors) and golden.safetensors with
/// prompt_i, logits_i, greedy_i, topk_i_layer{l}, topkw_i_layer{l} and mtp_logits_i, as transformers produced them.
/// Prompts and layers are discovered from the tensor names, so any directory of this format can be checked.
/// </summary>
public sealed partial class GoldenCase
{
    public const string FileName = "golden.safetensors";

    private GoldenCase(string directory, string name, int vocab, IReadOnlyList<GoldenPrompt> prompts)
    {
        Directory = directory;
        Name = name;
        VocabSize = vocab;
        Prompts = prompts;
    }

    public string Directory { get; }

    public string Name { get; }

    public int VocabSize { get; }

    public IReadOnlyList<GoldenPrompt> Prompts { get; }

    /// <summary>True when a directory looks like a model case (has config.json and golden.safetensors).</summary>
    public static bool IsModelCase(string directory) =>
        File.Exists(Path.Combine(directory, "config.json")) && File.Exists(Path.Combine(directory, FileName));

    public static GoldenCase Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{directory} is not a golden model case: {FileName} is missing", path);
        }

        ModelConfig config = ModelConfigParser.Load(Path.Combine(directory, "config.json"));
        using SafetensorsFile file = SafetensorsFile.Open(path);
        var names = file.Tensors.Select(t => t.Name).ToHashSet();
        var promptIndices = names.Select(n => PromptName().Match(n)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();
        if (promptIndices.Count == 0)
        {
            throw new CheckpointFormatException(path, "prompt_0", "no prompt_i tensors: not a golden model case");
        }

        var prompts = new List<GoldenPrompt>();
        foreach (int i in promptIndices)
        {
            int[] tokens = Ints(file, path, $"prompt_{i}");
            float[] logits = Floats(file, path, $"logits_{i}", [tokens.Length, config.VocabSize]);
            int[] greedy = Ints(file, path, $"greedy_{i}");
            var routing = new Dictionary<int, (long[], float[])>();
            foreach (string n in names)
            {
                Match m = TopkName().Match(n);
                if (m.Success && int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) == i)
                {
                    int layer = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
                    long[] shape = [tokens.Length, config.NumExpertsPerTok];
                    long[] ids = Longs(file, path, n, shape);
                    float[] w = Floats(file, path, $"topkw_{i}_layer{layer}", shape);
                    routing[layer] = (ids, w);
                }
            }

            float[]? mtp = names.Contains($"mtp_logits_{i}")
                ? Floats(file, path, $"mtp_logits_{i}", [tokens.Length - 1, config.VocabSize])
                : null;
            prompts.Add(new GoldenPrompt(i, tokens, logits, greedy, routing, mtp));
        }

        return new GoldenCase(directory, Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)), config.VocabSize, prompts);
    }

    private static long[] Longs(SafetensorsFile f, string path, string name, long[]? shape = null)
    {
        TensorInfo info = Require(f, path, name, shape);
        return ElementConversion.ToInt64(path, info, f.Bytes(info));
    }

    private static int[] Ints(SafetensorsFile f, string path, string name) =>
        Longs(f, path, name).Select(v => checked((int)v)).ToArray();

    private static float[] Floats(SafetensorsFile f, string path, string name, long[] shape)
    {
        TensorInfo info = Require(f, path, name, shape);
        var dst = new float[info.ElementCount];
        ElementConversion.ToFloat32(path, info, f.Bytes(info), dst);
        return dst;
    }

    private static TensorInfo Require(SafetensorsFile f, string path, string name, long[]? shape)
    {
        if (!f.TryGet(name, out TensorInfo info))
        {
            throw new CheckpointFormatException(path, name, "missing from the golden file");
        }

        if (shape is not null && !info.Shape.SequenceEqual(shape))
        {
            throw new CheckpointFormatException(path, name, $"shape {info.ShapeText}, expected [{string.Join(", ", shape)}]");
        }

        return info;
    }

    [GeneratedRegex(@"^prompt_(\d+)$")]
    private static partial Regex PromptName();

    [GeneratedRegex(@"^topk_(\d+)_layer(\d+)$")]
    private static partial Regex TopkName();
}
