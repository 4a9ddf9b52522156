using R1Orleans.Grains.Placement;

namespace R1Orleans.Grains.Layers;

/// <summary>Thin over the silo's own layers (<see cref="ILocalLayers"/>).</summary>
[SiloBound]
public sealed class RankLayerGrain(ILocalLayers local) : Grain, IRankLayerGrain
{
    public Task<LayerReport> Describe()
    {
        string key = this.GetPrimaryKeyString();
        int slash = key.LastIndexOf('/');
        if (slash < 0 || !int.TryParse(key.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int layer))
        {
            throw new ArgumentException($"a layer grain's key is {{silo}}/{{layer}}, not '{key}'");
        }

        return Task.FromResult(local.Describe(layer));
    }
}

/// <summary>The silo's rank's layers, as its layer grains describe them.</summary>
public interface ILocalLayers
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a layer the model does not have.</summary>
    LayerReport Describe(int layer);
}
