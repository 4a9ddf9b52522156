namespace R1Orleans.Cuda;

/// <summary>
/// The per-step buffers of <see cref="MoeFp8Experts"/> — inputs, output, f16 activations, grouping metadata, the K-split
/// partial sums and the prefill schedule — sized for a layer shape and a token count. Layers that run one after another
/// on one stream share one (V3 at 512 tokens: about 1.5 GB, most of it split-K partials, which 58 layers must not each
/// hold). Owns its buffers.
/// </summary>
public sealed class MoeScratch : IDisposable
{
    private readonly List<DeviceBuffer> _owned = [];

    public MoeScratch(CudaContext context, int experts, int hidden, int intermediate, int topK, int maxTokens, int maxSplits)
    {
        ArgumentNullException.ThrowIfNull(context);
        Experts = experts;
        Hidden = hidden;
        Intermediate = intermediate;
        TopK = topK;
        MaxTokens = maxTokens;
        MaxSplits = maxSplits;
        long e = experts, h = hidden, i = intermediate, s = (long)maxTokens * topK;
        X = Own(context.Allocate(maxTokens * h * 4));
        TopkIds = Own(context.Allocate(s * 4));
        TopkWeights = Own(context.Allocate(s * 4));
        Output = Own(context.Allocate(maxTokens * h * 4));
        X16 = Own(context.Allocate(maxTokens * h * 2));
        Meta = Own(context.Allocate(((2 * e) + 2) * 4));
        SlotToken = Own(context.Allocate(s * 4));
        SlotOf = Own(context.Allocate(s * 4));
        Partial = Own(context.Allocate(maxSplits * s * 2 * i * 4));
        H16 = Own(context.Allocate(s * i * 2));
        Y = Own(context.Allocate(MoeFp8Experts.MaxDownSplits * s * h * 4));
        MaxPrefillTiles = MoePrefillConfig.Variants.Max(c => c.MaxTiles((int)s, experts));
        ScheduleTiles = Own(context.Allocate(2L * MaxPrefillTiles * 4));
        ScheduleCount = Own(context.Allocate(4));
    }

    public int Experts { get; }

    public int Hidden { get; }

    public int Intermediate { get; }

    public int TopK { get; }

    public int MaxTokens { get; }

    public int MaxSplits { get; }

    public int MaxPrefillTiles { get; }

    /// <summary>[tokens, hidden] float32 in.</summary>
    public DeviceBuffer X { get; }

    /// <summary>[tokens, topK] expert ids in.</summary>
    public DeviceBuffer TopkIds { get; }

    /// <summary>[tokens, topK] routing weights in.</summary>
    public DeviceBuffer TopkWeights { get; }

    /// <summary>[tokens, hidden] float32 out.</summary>
    public DeviceBuffer Output { get; }

    public DeviceBuffer X16 { get; }

    public DeviceBuffer Meta { get; }

    public DeviceBuffer SlotToken { get; }

    public DeviceBuffer SlotOf { get; }

    public DeviceBuffer Partial { get; }

    public DeviceBuffer H16 { get; }

    public DeviceBuffer Y { get; }

    public DeviceBuffer ScheduleTiles { get; }

    public DeviceBuffer ScheduleCount { get; }

    /// <summary>Device bytes held.</summary>
    public long Bytes => _owned.Sum(b => b.Bytes);

    /// <summary>True when a layer of this shape may use these buffers.</summary>
    public bool Fits(int experts, int hidden, int intermediate, int topK, int maxTokens, int maxSplits) =>
        experts == Experts && hidden == Hidden && intermediate == Intermediate && topK == TopK && maxTokens <= MaxTokens && maxSplits <= MaxSplits;

    public void Dispose()
    {
        foreach (DeviceBuffer b in _owned)
        {
            b.Dispose();
        }

        _owned.Clear();
    }

    private DeviceBuffer Own(DeviceBuffer b)
    {
        _owned.Add(b);
        return b;
    }
}
