namespace R1Orleans.Grains.Layers;

/// <summary>
/// One decoder layer of one silo's rank (key: <c>{silo address}/{layer}</c>; placed on that silo): the layer's MLA and
/// its dense FFN or shared expert and gate live in the rank's engine on that silo, with the rank's latent KV, and the
/// forward pass uses them in process, never through this grain. The grain is their control-plane face: what the layer
/// is and holds there.
/// </summary>
[Alias("R1Orleans.IRankLayerGrain")]
public interface IRankLayerGrain : IGrainWithStringKey
{
    [Alias("Describe")]
    Task<LayerReport> Describe();
}

/// <summary>What one layer of one rank is and holds.</summary>
/// <param name="Layer">The layer's index (the MTP layer is num_hidden_layers).</param>
/// <param name="Kind">"dense" (a dense FFN), "moe" (shared expert and gate here, routed experts where the placement says) or "mtp".</param>
/// <param name="Silo">The silo the grain (and the layer's objects) live on.</param>
/// <param name="RoutedExpertsHeldHere">The routed experts of this layer that this silo's holder has loaded.</param>
/// <param name="KvPositionsUsed">Latent KV positions reserved on this rank (blocks in use × block size; every layer's cache is paged alike; null while the model loads).</param>
[GenerateSerializer, Immutable, Alias("R1Orleans.LayerReport")]
public sealed record LayerReport(
    [property: Id(0)] int Layer,
    [property: Id(1)] string Kind,
    [property: Id(2)] string Silo,
    [property: Id(3)] int RoutedExpertsHeldHere,
    [property: Id(4)] long? KvPositionsUsed);
