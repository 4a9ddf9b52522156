using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace R1Orleans.Client.Chaos;

/// <summary>The JSON of chaos histories and references: camelCase, nulls left out, one record a line.</summary>
public static class HistoryJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        // Text as written ("+", not "\u002B"): histories are read by people; they are never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string Line(HistoryRecord record) => JsonSerializer.Serialize(record, Options);

    /// <summary>Reads a history file back (one record a line, blank lines skipped).</summary>
    public static List<HistoryRecord> Read(string path)
    {
        var records = new List<HistoryRecord>();
        int n = 0;
        foreach (string line in File.ReadLines(path))
        {
            n++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                records.Add(JsonSerializer.Deserialize<HistoryRecord>(line, Options) ?? throw new FormatException($"{path}:{n}: null record"));
            }
            catch (JsonException e)
            {
                throw new FormatException($"{path}:{n}: not a history record: {e.Message}", e);
            }
        }

        return records;
    }
}

/// <summary>Writes history records as JSON lines as they happen (thread-safe, flushed per line so a crash keeps what was written).</summary>
public sealed class HistoryWriter : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly List<HistoryRecord> _records = [];
    private readonly Lock _lock = new();

    public HistoryWriter(string path)
    {
        Path = path;
        _writer = new StreamWriter(path, append: false) { AutoFlush = true };
    }

    public string Path { get; }

    /// <summary>Everything written so far, in order.</summary>
    public IReadOnlyList<HistoryRecord> Records
    {
        get
        {
            lock (_lock)
            {
                return [.. _records];
            }
        }
    }

    public void Write(HistoryRecord record)
    {
        string line = HistoryJson.Line(record);
        lock (_lock)
        {
            _records.Add(record);
            _writer.WriteLine(line);
        }
    }

    public void Dispose() => _writer.Dispose();
}
