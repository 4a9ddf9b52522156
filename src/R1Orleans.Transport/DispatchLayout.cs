using R1Orleans.Model;

namespace R1Orleans.Transport;

/// <summary>
/// Where each (token, slot) of a routing goes, grouped by expert (DeepEP's dispatch layout): the rows for expert e
/// are [ExpertOffsets[e], ExpertOffsets[e + 1]) of SourceToken / SourceSlot, in token order.
/// </summary>
public sealed class DispatchLayout
{
    private DispatchLayout(int[] offsets, int[] token, int[] slot)
    {
        ExpertOffsets = offsets;
        SourceToken = token;
        SourceSlot = slot;
    }

    public int[] ExpertOffsets { get; }

    public int[] SourceToken { get; }

    public int[] SourceSlot { get; }

    public int Experts => ExpertOffsets.Length - 1;

    public int TokensFor(int expert) => ExpertOffsets[expert + 1] - ExpertOffsets[expert];

    public static DispatchLayout Build(ExpertRouting routing, int experts)
    {
        int[] counts = new int[experts + 1];
        foreach (int e in routing.TopkIds)
        {
            if ((uint)e >= (uint)experts)
            {
                throw new ArgumentOutOfRangeException(nameof(routing), $"routing names expert {e}, the layer has {experts}");
            }

            counts[e + 1]++;
        }

        for (int e = 0; e < experts; e++)
        {
            counts[e + 1] += counts[e];
        }

        int[] next = counts[..experts];
        int[] token = new int[routing.TopkIds.Length];
        int[] slot = new int[routing.TopkIds.Length];
        for (int t = 0; t < routing.Tokens; t++)
        {
            for (int k = 0; k < routing.K; k++)
            {
                int e = routing.TopkIds[(t * routing.K) + k];
                int row = next[e]++;
                token[row] = t;
                slot[row] = k;
            }
        }

        return new DispatchLayout(counts, token, slot);
    }
}
