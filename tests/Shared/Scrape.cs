using System.Globalization;

namespace R1Orleans.Tests.Shared;

/// <summary>One Prometheus text scrape, read series by series (name, label text, value).</summary>
internal sealed class Scrape
{
    private Scrape(string text)
    {
        Text = text;
        Samples = [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).Select(Parse)];
    }

    public string Text { get; }

    public IReadOnlyList<(string Name, string Labels, double Value)> Samples { get; }

    public static async Task<Scrape> OfAsync(HttpClient http) => new(await http.GetStringAsync("/metrics"));

    /// <summary>The series of metric <paramref name="name"/> (exactly) whose labels include every one of <paramref name="labels"/> (<c>key="value"</c>).</summary>
    public IEnumerable<(string Labels, double Value)> Series(string name, params string[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => HasLabel(s.Labels, l))).Select(s => (s.Labels, s.Value));

    /// <summary>The value of the one series of <paramref name="name"/> with <paramref name="labels"/>.</summary>
    public double Value(string name, params string[] labels)
    {
        var found = Series(name, labels).ToList();
        Assert.True(found.Count == 1, $"{found.Count} series of {name} with {string.Join(",", labels)}");
        return found[0].Value;
    }

    private static bool HasLabel(string labels, string label) =>
        labels.Split(',').Contains(label, StringComparer.Ordinal);

    private static (string, string, double) Parse(string line)
    {
        int brace = line.IndexOf('{', StringComparison.Ordinal);
        int space = line.LastIndexOf(' ');
        string name = brace >= 0 ? line[..brace] : line[..space];
        string labels = brace >= 0 ? line[(brace + 1)..line.LastIndexOf('}')] : "";
        string value = line[(space + 1)..];
        return (name, labels, value switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            _ => double.Parse(value, CultureInfo.InvariantCulture),
        });
    }
}
