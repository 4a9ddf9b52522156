namespace R1Orleans.Checkpoint;

/// <summary>
/// A checkpoint file or directory is malformed or disagrees with its config. The message always names the file,
/// and the tensor when one is involved, so an operator can find the bad bytes.
/// </summary>
public sealed class CheckpointFormatException : Exception
{
    public CheckpointFormatException(string file, string? tensor, string problem, Exception? inner = null)
        : base(Compose(file, tensor, problem), inner)
    {
        File = file;
        Tensor = tensor;
        Problem = problem;
    }

    public string File { get; }

    public string? Tensor { get; }

    public string Problem { get; }

    private static string Compose(string file, string? tensor, string problem) =>
        tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}";
}
