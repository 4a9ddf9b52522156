namespace R1Orleans.Client;

/// <summary>A plain aligned text table (readable in logs and CI output, no terminal features needed).</summary>
public static class TextTable
{
    public static void Write(TextWriter w, string[] header, IReadOnlyList<string[]> rows)
    {
        int[] width = header.Select(h => h.Length).ToArray();
        foreach (string[] r in rows)
        {
            for (int i = 0; i < r.Length; i++)
            {
                width[i] = Math.Max(width[i], r[i].Length);
            }
        }

        void Line(string[] cells) => w.WriteLine(string.Join("  ", cells.Select((c, i) => c.PadRight(width[i]))).TrimEnd());
        Line(header);
        Line(width.Select(n => new string('-', n)).ToArray());
        foreach (string[] r in rows)
        {
            Line(r);
        }
    }
}
