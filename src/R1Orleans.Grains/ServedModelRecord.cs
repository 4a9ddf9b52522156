namespace R1Orleans.Grains;

/// <summary>One model served by one silo, as the control plane records it.</summary>
/// <param name="ModelId">The id clients use (OpenAI's <c>model</c> field).</param>
/// <param name="Silo">The silo that serves it (its Orleans address).</param>
/// <param name="Directory">The checkpoint directory on that silo.</param>
/// <param name="RandomWeights">True for the built-in model: its output is noise.</param>
/// <param name="Config">A summary of its config.json.</param>
/// <param name="ReadyAt">When the silo finished loading it.</param>
/// <param name="LoadSeconds">How long loading took.</param>
[GenerateSerializer, Immutable, Alias("R1Orleans.ServedModelRecord")]
public sealed record ServedModelRecord(
    [property: Id(0)] string ModelId,
    [property: Id(1)] string Silo,
    [property: Id(2)] string Directory,
    [property: Id(3)] bool RandomWeights,
    [property: Id(4)] ModelConfigSummary Config,
    [property: Id(5)] DateTimeOffset ReadyAt,
    [property: Id(6)] double LoadSeconds);

/// <summary>The config.json facts an operator or a router needs to know about a served model.</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.ModelConfigSummary")]
public sealed record ModelConfigSummary(
    [property: Id(0)] int Layers,
    [property: Id(1)] int HiddenSize,
    [property: Id(2)] int RoutedExperts,
    [property: Id(3)] int ExpertsPerToken,
    [property: Id(4)] int VocabSize,
    [property: Id(5)] int ContextLength,
    [property: Id(6)] bool Fp8,
    [property: Id(7)] bool Mtp);
