using System.Text.Json;
using R1Orleans.Checkpoint;

namespace R1Orleans.Engine.Sampling;

/// <summary>
/// The sampling defaults a checkpoint recommends in its generation_config.json (DeepSeek-R1 ships temperature 0.6,
/// top_p 0.95). A request that leaves a parameter out gets the checkpoint's value, as vLLM serves by default; a request
/// that gives it wins. Only the fields vLLM takes are read: temperature, top_p, top_k, min_p, repetition_penalty.
/// </summary>
public sealed record SamplingDefaults
{
    public const string FileName = "generation_config.json";

    /// <summary>A generation_config.json larger than this is rejected unread (Hugging Face's are under 1 KiB).</summary>
    public const long MaxFileBytes = 1024 * 1024;

    public static SamplingDefaults None { get; } = new();

    public float? Temperature { get; init; }

    public float? TopP { get; init; }

    public int? TopK { get; init; }

    public float? MinP { get; init; }

    public float? RepetitionPenalty { get; init; }

    /// <summary>
    /// The defaults of a checkpoint directory: <see cref="None"/> without a generation_config.json. One that is not a
    /// regular file, or is over <see cref="MaxFileBytes"/>, is a <see cref="CheckpointFormatException"/>.
    /// </summary>
    public static SamplingDefaults Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        return RegularFile.Exists(path) ? Parse(RegularFile.ReadAllText(path, MaxFileBytes)) : None;
    }

    /// <summary>Reads the JSON of a generation_config.json; a field of the wrong type or out of range throws naming it.</summary>
    public static SamplingDefaults Parse(string json)
    {
        using JsonDocument doc = ReadObject(json, out JsonElement root);
        var d = new SamplingDefaults
        {
            Temperature = Number(root, "temperature"),
            TopP = Number(root, "top_p"),
            TopK = Number(root, "top_k") is float k ? (int)k : null,
            MinP = Number(root, "min_p"),
            RepetitionPenalty = Number(root, "repetition_penalty"),
        };
        try
        {
            d.Apply(new SamplingParams()).Validate();
        }
        catch (SamplingParamException e)
        {
            string problem = e.Message.Split(" (Parameter", 2)[0];
            throw new InvalidDataException($"{FileName}: field '{e.Param}' {problem}", e);
        }

        return d;
    }

    /// <summary>The given parameters with every default this checkpoint sets (callers apply it before the request's own values).</summary>
    public SamplingParams Apply(SamplingParams p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return p with
        {
            Temperature = Temperature ?? p.Temperature,
            TopP = TopP ?? p.TopP,
            TopK = TopK ?? p.TopK,
            MinP = MinP ?? p.MinP,
            RepetitionPenalty = RepetitionPenalty ?? p.RepetitionPenalty,
        };
    }

    private static JsonDocument ReadObject(string json, out JsonElement root)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{FileName} is not valid JSON: {e.Message}", e);
        }

        root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new InvalidDataException($"{FileName} must hold a JSON object");
        }

        return doc;
    }

    private static float? Number(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
        {
            throw new InvalidDataException($"{FileName}: field '{name}' must be a number, got {v.GetRawText()}");
        }

        if (name == "top_k" && d != Math.Floor(d))
        {
            throw new InvalidDataException($"{FileName}: field 'top_k' must be an integer, got {v.GetRawText()}");
        }

        return (float)d;
    }
}
