namespace R1Orleans.Checkpoint;

/// <summary>How <see cref="CheckpointReader"/> treats what it reads.</summary>
public sealed record CheckpointReadOptions
{
    /// <summary>The defaults: non-finite weights fail their read.</summary>
    public static CheckpointReadOptions Default { get; } = new();

    /// <summary>
    /// Accept NaN and ±Inf in weights (read as stored). By default <see cref="CheckpointReader.ReadWeight"/> fails on the
    /// first one with a <see cref="CheckpointFormatException"/> naming the tensor and the element's index: such a
    /// model serves NaN, and a byte-shifted or corrupted file usually shows itself this way.
    /// </summary>
    public bool AllowNonfiniteWeights { get; init; }
}
