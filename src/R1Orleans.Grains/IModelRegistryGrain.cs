namespace R1Orleans.Grains;

/// <summary>
/// The cluster's record of served models (one activation, key <see cref="DefaultKey"/>). Silos register the model they
/// serve once it is loaded; gateways and tools ask which models exist and where. In memory: after the grain's silo
/// restarts, silos register again on their next start (a durable store comes with Redis clustering).
/// </summary>
[Alias("R1Orleans.IModelRegistryGrain")]
public interface IModelRegistryGrain : IGrainWithStringKey
{
    public const string DefaultKey = "default";

    [Alias("Register")]
    Task Register(ServedModelRecord record);

    [Alias("Unregister")]
    Task<bool> Unregister(string modelId, string silo);

    [Alias("List")]
    Task<IReadOnlyList<ServedModelRecord>> List();

    [Alias("Find")]
    Task<IReadOnlyList<ServedModelRecord>> Find(string modelId);
}
