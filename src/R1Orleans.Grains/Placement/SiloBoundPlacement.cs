using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace R1Orleans.Grains.Placement;

/// <summary>
/// Places a grain on the silo its key names (<c>{silo address}</c> or <c>{silo address}/{anything}</c>): the grains
/// that front one silo's own resources (its expert holder, its expert shards, its rank). If that silo is not active
/// the activation fails instead of moving the grain elsewhere, where it would front nothing.
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.SiloBoundPlacement")]
public sealed class SiloBoundPlacement : PlacementStrategy
{
    public static readonly SiloBoundPlacement Instance = new();

    /// <summary>The key of the grain bound to <paramref name="silo"/> (with an optional suffix after '/').</summary>
    public static string Key(SiloAddress silo, string? suffix = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        return suffix is null ? silo.ToParsableString() : $"{silo.ToParsableString()}/{suffix}";
    }

    /// <summary>The silo a key names.</summary>
    public static SiloAddress SiloOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        return SiloAddress.FromParsableString(slash < 0 ? key : key[..slash]);
    }
}

/// <summary>Marks a grain class for <see cref="SiloBoundPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloBoundAttribute : PlacementAttribute
{
    public SiloBoundAttribute()
        : base(SiloBoundPlacement.Instance)
    {
    }
}

/// <summary>The director of <see cref="SiloBoundPlacement"/>: the silo in the key, or an error naming it.</summary>
public sealed class SiloBoundPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        SiloAddress silo = SiloBoundPlacement.SiloOf(target.GrainIdentity.Key.ToString()!);
        if (!context.GetCompatibleSilos(target).Contains(silo))
        {
            throw new SiloUnavailableException($"silo {silo} is not active: grain {target.GrainIdentity} is bound to it and is not placed elsewhere");
        }

        return Task.FromResult(silo);
    }
}
