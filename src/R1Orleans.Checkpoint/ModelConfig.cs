namespace R1Orleans.Checkpoint;

/// <summary>YaRN context extension (rope_scaling with type yarn).</summary>
public sealed record YarnScaling(
    double Factor,
    int OriginalMaxPositionEmbeddings,
    double BetaFast,
    double BetaSlow,
    double Mscale,
    double MscaleAllDim);

/// <summary>Block-wise FP8 weights (quantization_config with quant_method fp8).</summary>
public sealed record Fp8Quantization(string Format, int BlockRows, int BlockCols);

/// <summary>
/// A DeepSeek-V3-family config.json, field for field (the names follow the file, in PascalCase).
/// Build one with <see cref="ModelConfigParser"/>, which validates it.
/// </summary>
public sealed record ModelConfig
{
    public required string ModelType { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int MoeIntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NRoutedExperts { get; init; }
    public required int NSharedExperts { get; init; }
    public required int NumExpertsPerTok { get; init; }
    public required int NGroup { get; init; }
    public required int TopkGroup { get; init; }
    public required string TopkMethod { get; init; }
    public required string ScoringFunc { get; init; }
    public required bool NormTopkProb { get; init; }
    public required double RoutedScalingFactor { get; init; }
    public required int FirstKDenseReplace { get; init; }
    public required int MoeLayerFreq { get; init; }
    public required int? QLoraRank { get; init; }
    public required int KvLoraRank { get; init; }
    public required int QkNopeHeadDim { get; init; }
    public required int QkRopeHeadDim { get; init; }
    public required int VHeadDim { get; init; }
    public required double RmsNormEps { get; init; }
    public required double RopeTheta { get; init; }
    public required YarnScaling? RopeScaling { get; init; }
    public required int MaxPositionEmbeddings { get; init; }
    public required int NumNextnPredictLayers { get; init; }
    public required Fp8Quantization? Quantization { get; init; }
    public required int? BosTokenId { get; init; }
    public required int? EosTokenId { get; init; }

    /// <summary>Per-head query/key width: nope + rope.</summary>
    public int QkHeadDim => QkNopeHeadDim + QkRopeHeadDim;

    /// <summary>Values cached per token per layer by absorbed MLA: the latent c plus the shared rope key.</summary>
    public int LatentCacheDim => KvLoraRank + QkRopeHeadDim;

    public int ExpertsPerGroup => NRoutedExperts / NGroup;

    public bool IsMoeLayer(int layer) => layer >= FirstKDenseReplace && NRoutedExperts > 0 && layer % MoeLayerFreq == 0;
}
