using System.Globalization;

namespace R1Orleans.Cuda;

/// <summary>
/// Where the model's math runs, as <c>--device</c> names it: <c>cpu</c> (the default) or <c>cuda:N</c> (<c>cuda</c> is
/// cuda:0), the N-th CUDA device in the driver's order.
/// </summary>
public readonly record struct ComputeDevice(int? CudaOrdinal)
{
    public static ComputeDevice Cpu => default;

    public bool IsCuda => CudaOrdinal is not null;

    /// <summary>What the option accepts, for messages.</summary>
    public const string Forms = "cpu or cuda:N (e.g. cuda:0)";

    public static bool TryParse(string? text, out ComputeDevice device)
    {
        device = Cpu;
        string t = (text ?? "").Trim();
        if (t.Length == 0 || t.Equals("cpu", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (t.Equals("cuda", StringComparison.OrdinalIgnoreCase))
        {
            device = new ComputeDevice(0);
            return true;
        }

        if (t.StartsWith("cuda:", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(t.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int ordinal))
        {
            device = new ComputeDevice(ordinal);
            return true;
        }

        return false;
    }

    public static ComputeDevice Parse(string? text) =>
        TryParse(text, out ComputeDevice d) ? d : throw new FormatException($"device '{text}' is not {Forms}");

    public override string ToString() => CudaOrdinal is int n ? $"cuda:{n}" : "cpu";
}
