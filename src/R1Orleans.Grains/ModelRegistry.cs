namespace R1Orleans.Grains;

/// <summary>
/// Which silo serves which model: the plain state behind <see cref="IModelRegistryGrain"/>. A silo registers a model
/// when it is ready and unregisters it when it stops; registering again (a restarted silo) replaces the old record.
/// Not thread-safe: the grain's single-threaded turns serialize access.
/// </summary>
public sealed class ModelRegistry
{
    private readonly Dictionary<(string ModelId, string Silo), ServedModelRecord> _records = [];

    public int Count => _records.Count;

    public void Register(ServedModelRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentException.ThrowIfNullOrWhiteSpace(record.ModelId);
        ArgumentException.ThrowIfNullOrWhiteSpace(record.Silo);
        _records[(record.ModelId, record.Silo)] = record;
    }

    /// <summary>Removes one silo's record of a model; false when there was none.</summary>
    public bool Unregister(string modelId, string silo) => _records.Remove((modelId, silo));

    /// <summary>Removes every record of a silo (it left the cluster); returns how many.</summary>
    public int RemoveSilo(string silo)
    {
        var gone = _records.Keys.Where(k => k.Silo == silo).ToList();
        foreach ((string, string) key in gone)
        {
            _records.Remove(key);
        }

        return gone.Count;
    }

    /// <summary>Every record, ordered by model id then silo.</summary>
    public IReadOnlyList<ServedModelRecord> List() =>
        _records.Values.OrderBy(r => r.ModelId, StringComparer.Ordinal).ThenBy(r => r.Silo, StringComparer.Ordinal).ToList();

    /// <summary>The silos serving <paramref name="modelId"/>, earliest ready first.</summary>
    public IReadOnlyList<ServedModelRecord> Find(string modelId) =>
        _records.Values.Where(r => r.ModelId == modelId).OrderBy(r => r.ReadyAt).ThenBy(r => r.Silo, StringComparer.Ordinal).ToList();
}
