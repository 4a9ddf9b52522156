namespace R1Orleans.Grains.Routing;

/// <summary>
/// The router as the control plane reaches it: a stateless worker, so every silo answers with its own activation and
/// its own placement view. Given the gate's choice for some tokens (never changed), it says which holder each chosen
/// expert goes to, how many nodes each token's experts span, and how many tokens break the node limit. The forward pass
/// routes with the same <c>ExpertRouter</c> in process, never through this grain.
/// </summary>
[Alias("R1Orleans.IExpertRouterGrain")]
public interface IExpertRouterGrain : IGrainWithIntegerKey
{
    /// <summary>Routes <paramref name="topkIds"/> (tokens × <paramref name="k"/> expert ids of layer <paramref name="layer"/>) as this silo's rank would now.</summary>
    [Alias("Route")]
    Task<RoutePreview> Route(int layer, int k, int[] topkIds);
}

/// <summary>Where each (token, slot) goes under the placement <see cref="Version"/>/<see cref="Epoch"/>.</summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.RoutePreview")]
public sealed record RoutePreview(
    [property: Id(0)] long Version,
    [property: Id(1)] long Epoch,
    [property: Id(2)] string[] Holders,
    [property: Id(3)] int[] NodesSpanned,
    [property: Id(4)] int Violations,
    [property: Id(5)] string RoutedBy);
