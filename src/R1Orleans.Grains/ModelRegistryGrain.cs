using Microsoft.Extensions.Logging;

namespace R1Orleans.Grains;

/// <summary>The grain over <see cref="ModelRegistry"/>; kept alive (never collected when idle) since its state is in memory.</summary>
[KeepAlive]
public sealed class ModelRegistryGrain(ILogger<ModelRegistryGrain> logger) : Grain, IModelRegistryGrain
{
    private readonly ModelRegistry _registry = new();

    public Task Register(ServedModelRecord record)
    {
        _registry.Register(record);
        logger.LogInformation("model {ModelId} is served by {Silo}", record.ModelId, record.Silo);
        return Task.CompletedTask;
    }

    public Task<bool> Unregister(string modelId, string silo)
    {
        bool removed = _registry.Unregister(modelId, silo);
        if (removed)
        {
            logger.LogInformation("model {ModelId} is no longer served by {Silo}", modelId, silo);
        }

        return Task.FromResult(removed);
    }

    public Task<IReadOnlyList<ServedModelRecord>> List() => Task.FromResult(_registry.List());

    public Task<IReadOnlyList<ServedModelRecord>> Find(string modelId) => Task.FromResult(_registry.Find(modelId));
}
