using System.Text.Json;

namespace R1Orleans.Client.Chaos;

/// <summary>A question with its known answer (held-out, never trained on: see tools/model-questions/make_questions.py).</summary>
public sealed record Question(string Text, string? Answer);

/// <summary>
/// The fixed questions of the chaos workload: by default the 20 held-out 3-digit additions of r1orleans-tiny
/// (tests/R1Orleans.ModelAccuracy.Tests/heldout.json, built in), or a JSON file of the same shape
/// (<c>[{"question": "...", "answer": "..."}]</c>, answer optional).
/// </summary>
public static class QuestionSet
{
    private const string ResourceName = "R1Orleans.Client.Chaos.heldout.json";

    private sealed record Row(string? Question, string? Answer);

    public static IReadOnlyList<Question> Load(string? path)
    {
        string json;
        if (path is null)
        {
            using Stream stream = typeof(QuestionSet).Assembly.GetManifestResourceStream(ResourceName)
                ?? throw new InvalidOperationException($"the built-in question set {ResourceName} is missing from the assembly");
            using var reader = new StreamReader(stream);
            json = reader.ReadToEnd();
        }
        else
        {
            json = File.ReadAllText(path);
        }

        Row[] rows;
        try
        {
            rows = JsonSerializer.Deserialize<Row[]>(json, HistoryJson.Options) ?? [];
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path ?? ResourceName}: not a question file: {e.Message}", e);
        }

        Question[] questions = [.. rows.Where(r => !string.IsNullOrWhiteSpace(r.Question)).Select(r => new Question(r.Question!, r.Answer))];
        return questions.Length > 0 ? questions : throw new FormatException($"{path ?? ResourceName}: no questions (expected [{{\"question\": ..., \"answer\": ...}}])");
    }
}
