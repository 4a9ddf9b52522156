using R1Orleans.Checkpoint;

namespace R1Orleans.Placement;

/// <summary>
/// The shape placement works on: which layers are MoE layers, how many routed experts each has, and how the gate
/// groups them (n_group groups of consecutive experts, of which a token may use topk_group).
/// </summary>
public sealed class ExpertLayout : IEquatable<ExpertLayout>
{
    private readonly int[] _moeLayers;

    public ExpertLayout(IEnumerable<int> moeLayers, int experts, int groups, int topkGroup)
    {
        ArgumentNullException.ThrowIfNull(moeLayers);
        _moeLayers = [.. moeLayers];
        if (_moeLayers.Length == 0)
        {
            throw new ArgumentException("an expert layout needs at least one MoE layer", nameof(moeLayers));
        }

        for (int i = 0; i < _moeLayers.Length; i++)
        {
            if (_moeLayers[i] < 0 || (i > 0 && _moeLayers[i] <= _moeLayers[i - 1]))
            {
                throw new ArgumentException($"MoE layers must be non-negative and strictly ascending, got [{string.Join(", ", _moeLayers)}]", nameof(moeLayers));
            }
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(experts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (experts % groups != 0)
        {
            throw new ArgumentException($"n_routed_experts {experts} is not a multiple of n_group {groups}", nameof(groups));
        }

        if (topkGroup < 1 || topkGroup > groups)
        {
            throw new ArgumentOutOfRangeException(nameof(topkGroup), $"topk_group {topkGroup} must be in [1, n_group {groups}]");
        }

        Experts = experts;
        Groups = groups;
        TopkGroup = topkGroup;
    }

    /// <summary>The MoE layer ids, ascending (the MTP layer's id is num_hidden_layers).</summary>
    public IReadOnlyList<int> MoeLayers => _moeLayers;

    /// <summary>Routed experts per MoE layer (n_routed_experts).</summary>
    public int Experts { get; }

    /// <summary>Expert groups (n_group); 1 means the gate has no group limit.</summary>
    public int Groups { get; }

    /// <summary>Groups one token may use (topk_group).</summary>
    public int TopkGroup { get; }

    public int ExpertsPerGroup => Experts / Groups;

    public int GroupOf(int expert) => expert / ExpertsPerGroup;

    /// <summary>The layout of a config's MoE layers, the MTP layers' included when <paramref name="withMtp"/>.</summary>
    public static ExpertLayout From(ModelConfig config, bool withMtp = true)
    {
        ArgumentNullException.ThrowIfNull(config);
        int layers = config.NumHiddenLayers + (withMtp ? config.NumNextnPredictLayers : 0);
        int[] moe = [.. Enumerable.Range(0, layers).Where(config.IsMoeLayer)];
        return new ExpertLayout(moe, config.NRoutedExperts, config.NGroup, config.TopkGroup);
    }

    public bool Equals(ExpertLayout? other) =>
        other is not null && Experts == other.Experts && Groups == other.Groups && TopkGroup == other.TopkGroup
        && _moeLayers.AsSpan().SequenceEqual(other._moeLayers);

    public override bool Equals(object? obj) => Equals(obj as ExpertLayout);

    public override int GetHashCode() => HashCode.Combine(Experts, Groups, TopkGroup, _moeLayers.Length, _moeLayers[0]);

    public override string ToString() =>
        $"{_moeLayers.Length} MoE layers x {Experts} experts in {Groups} groups (topk_group {TopkGroup})";
}
