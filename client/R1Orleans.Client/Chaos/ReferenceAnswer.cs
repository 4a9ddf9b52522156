using System.Text.Json;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>What a fault-free single silo answered for one <see cref="ReferenceKey"/>: the text, the tokens, the finish reason and the usage.</summary>
public sealed record ReferenceAnswer(
    ReferenceKey Key,
    string Reasoning,
    string Content,
    IReadOnlyList<StreamedToken> Tokens,
    string? FinishReason,
    int? CompletionTokens);

/// <summary>The references of a run, by key; read from and written to a JSON file (an array of <see cref="ReferenceAnswer"/>).</summary>
public sealed class ReferenceSet
{
    private readonly Dictionary<ReferenceKey, ReferenceAnswer> _answers = [];

    public ReferenceSet(IEnumerable<ReferenceAnswer> answers)
    {
        ArgumentNullException.ThrowIfNull(answers);
        foreach (ReferenceAnswer a in answers)
        {
            _answers[a.Key] = a;
        }
    }

    public int Count => _answers.Count;

    public IEnumerable<ReferenceAnswer> Answers => _answers.Values;

    public ReferenceAnswer? Find(ReferenceKey key) => _answers.GetValueOrDefault(key);

    public bool Contains(ReferenceKey key) => _answers.ContainsKey(key);

    public static ReferenceSet Load(string path)
    {
        try
        {
            return new ReferenceSet(JsonSerializer.Deserialize<ReferenceAnswer[]>(File.ReadAllText(path), HistoryJson.Options)
                ?? throw new FormatException($"{path}: no references"));
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: not a references file: {e.Message}", e);
        }
    }

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(_answers.Values.ToArray(), HistoryJson.Options));
}
