namespace R1Orleans.Cuda;

/// <summary>
/// One dense_mma launch: <see cref="TokenTiles"/> tiles of 8 tokens share each weight read, each warp owns
/// <see cref="RowTiles"/> 16-row tiles, and K runs in <see cref="Splits"/> runs of <see cref="PerSplit"/> chunks.
/// </summary>
public readonly record struct DenseMmaConfig(int TokenTiles, int RowTiles, int Splits, int PerSplit);
