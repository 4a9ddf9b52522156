using R1Orleans.Backend;
using R1Orleans.Model;

namespace R1Orleans.Cuda.Forward;

/// <summary>
/// Copies a loaded <see cref="DeepseekV3Model"/> and the routed experts it reaches to the device, as the model holds
/// them (FP8 matrices stay FP8 with their block scales; the rest float32). The routed experts are stacked per layer for
/// the reference kernels; every expert of every MoE layer must be in <paramref name="experts"/>. With
/// <paramref name="fastExperts"/> (a kernel library holding moe_fp8 and moe_prefill), a layer whose experts are FP8 with
/// 128x128 blocks in a shape the fast kernels take goes to <see cref="MoeFp8Experts"/> instead (sized for
/// <paramref name="maxTokens"/> rows a step); other layers keep the reference stacks.
/// </summary>
public static class DeviceWeightUpload
{
    /// <param name="sharedExpertSlots">Also pack each MoE layer's shared expert as a slot of its fast routed experts (for
    /// <see cref="DeviceForwardOptions.SharedExpertInRoutedStep"/>; an expert's weights more per layer), where every
    /// layer's fits (<see cref="SharedSlots"/>).</param>
    public static DeviceModelWeights FromModel(CudaContext context, CudaStream stream, DeepseekV3Model model, ExpertShard experts, KernelLibrary? fastExperts = null, int maxTokens = 512, bool sharedExpertSlots = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(experts);
        long needed = model.Embedding.Table.ByteSize + model.Head.Weight.ByteSize
            + experts.Keys.Where(k => k.Layer < model.Blocks.Count).Sum(k => experts.Get(k.Layer, k.Expert).WeightBytes);
        DeviceMemoryCheck.Require(needed, context.MemoryInfo().Free, context.Name);
        var owned = new List<IDisposable>();
        try
        {
            T Own<T>(T d) where T : IDisposable
            {
                owned.Add(d);
                return d;
            }

            DeviceWeight Weight(Matrix m) => Own(DeviceWeight.Upload(context, m, stream));
            DeviceBuffer Floats(ReadOnlySpan<float> v)
            {
                DeviceBuffer b = Own(context.Allocate(Math.Max(4, v.Length * 4L)));
                b.Upload(v);
                return b;
            }

            DeviceNorm Norm(RmsNorm n) => new(Floats(n.Weight), n.Dim, n.Eps);
            DeviceFeedForward Ffn(FeedForward f) => new(Weight(f.Gate), Weight(f.Up), Weight(f.Down));

            var layers = new List<DeviceLayer>();
            MoeScratch? scratch = null;

            // The layers share one scratch, so either every MoE layer carries its shared expert as a slot or none does.
            int sharedSlots = sharedExpertSlots ? model.Blocks.Where(b => b.Moe is not null).Select(b => SharedSlots(b.Moe!.Shared, model.Config)).DefaultIfEmpty(0).Min() : 0;
            foreach (DecoderBlock block in model.Blocks)
            {
                MultiHeadLatentAttention a = block.Attention;
                var attention = new DeviceAttention(
                    a.QA is null ? null : Weight(a.QA),
                    a.QANorm is null ? null : Norm(a.QANorm),
                    Weight(a.QB),
                    Weight(a.KvA),
                    Norm(a.KvANorm),
                    Weight(a.O),
                    Floats(Stack(a.AbsorbedKeys)),
                    Floats(Stack(a.AbsorbedValues)));
                DeviceMoe? moe = null;
                if (block.Moe is { } m)
                {
                    MoeFp8Experts? fast = fastExperts is null ? null : FastExperts(context, stream, fastExperts, experts, model.Config, block.Layer, sharedSlots, maxTokens, owned, ref scratch);
                    DeviceFeedForward? shared = m.Shared is null ? null : Ffn(m.Shared);
                    if (shared is not null && fast is { SharedExperts: 1 })
                    {
                        fast.PackSharedExpert(0, shared.Gate, shared.Up, shared.Down, stream);
                    }

                    moe = new DeviceMoe(
                        Weight(m.Gate.Weight.IsFp8 ? m.Gate.Weight.ToFloat32() : m.Gate.Weight),
                        Floats(m.Gate.Bias),
                        shared,
                        fast is null ? RoutedExperts(context, experts, model.Config.NRoutedExperts, block.Layer, owned) : null,
                        fast);
                }

                layers.Add(new DeviceLayer(block.Layer, Norm(block.InputNorm), Norm(block.PostAttentionNorm), attention, block.Mlp is null ? null : Ffn(block.Mlp), moe));
            }

            Matrix table = model.Embedding.Table.IsFp8 ? model.Embedding.Table.ToFloat32() : model.Embedding.Table;
            DeviceBuffer embedding = Floats(table.Data);
            DeviceNorm final = Norm(model.Head.Norm);
            DeviceWeight head = Weight(model.Head.Weight);
            YarnRope rope = model.Blocks[0].Attention.Rope;
            DeviceBuffer invFreq = Own(context.Allocate(Math.Max(8, rope.InverseFrequencies.Length * 8L)));
            invFreq.Upload(rope.InverseFrequencies);
            stream.Synchronize();
            return new DeviceModelWeights(model.Config, embedding, layers, final, head, invFreq, rope.AttentionFactor, rope.SoftmaxScale, owned);
        }
        catch
        {
            stream.Synchronize();
            owned.ForEach(d => d.Dispose());
            throw;
        }
    }

    /// <summary>Row-major float32 matrices of one shape, one after another.</summary>
    private static float[] Stack(IReadOnlyList<Matrix> heads)
    {
        int size = heads[0].Rows * heads[0].Cols;
        var all = new float[heads.Count * size];
        for (int h = 0; h < heads.Count; h++)
        {
            heads[h].Data.AsSpan().CopyTo(all.AsSpan(h * size, size));
        }

        return all;
    }

    /// <summary>
    /// A layer's experts for the fast FP8 kernels (MoeFp8Experts), or null when they are not FP8 with 128x128 blocks in a
    /// shape those kernels take: vLLM's w13 (each expert's gate rows, then its up rows) and w2, row-major, then packed
    /// into tile order. Every layer shares one <paramref name="scratch"/>. With <paramref name="sharedSlots"/> = 1 (every
    /// MoE layer's shared expert fits, <see cref="SharedSlots"/>) the layer also gets a slot after the routed experts,
    /// which the caller fills once the shared expert is on the device (<see cref="MoeFp8Experts.PackSharedExpert"/>).
    /// </summary>
    private static MoeFp8Experts? FastExperts(CudaContext context, CudaStream stream, KernelLibrary kernels, ExpertShard shard, Checkpoint.ModelConfig c, int layer, int sharedSlots, int maxTokens, List<IDisposable> owned, ref MoeScratch? scratch)
    {
        int e = c.NRoutedExperts, h = c.HiddenSize, i = c.MoeIntermediateSize;
        var ffns = new FeedForward[e];
        for (int x = 0; x < e; x++)
        {
            if (!shard.Contains(layer, x))
            {
                return null;
            }

            ffns[x] = shard.Get(layer, x);
            foreach (Matrix m in new[] { ffns[x].Gate, ffns[x].Up, ffns[x].Down })
            {
                if (!m.IsFp8 || m.BlockRows != 128 || m.BlockCols != 128)
                {
                    return null;
                }
            }
        }

        if (h % 256 != 0 || i % 128 != 0 || h > 8192 || i > 8192 || e > 1024)
        {
            return null;
        }

        if (scratch is null)
        {
            scratch = MoeFp8Experts.NewScratch(context, e, h, i, c.NumExpertsPerTok, maxTokens, MoeFp8Experts.DefaultMaxSplits, sharedSlots);
            owned.Add(scratch);
        }

        var fast = new MoeFp8Experts(context, kernels, e, h, i, c.NumExpertsPerTok, maxTokens, scratch: scratch, sharedExperts: sharedSlots);
        owned.Add(fast);
        using DeviceBuffer w13 = context.Allocate(fast.W13.Bytes);
        using DeviceBuffer w2 = context.Allocate(fast.W2.Bytes);
        long gateBytes = (long)i * h, gateScales = (long)(i / 128) * (h / 128), downScales = (long)(h / 128) * (i / 128);
        for (int x = 0; x < e; x++)
        {
            w13.Upload<byte>(ffns[x].Gate.Codes, x * 2 * gateBytes);
            w13.Upload<byte>(ffns[x].Up.Codes, (x * 2 * gateBytes) + gateBytes);
            w2.Upload<byte>(ffns[x].Down.Codes, x * gateBytes);
            fast.S13.Upload<float>(ffns[x].Gate.Scales, x * 2 * gateScales * 4);
            fast.S13.Upload<float>(ffns[x].Up.Scales, ((x * 2) + 1) * gateScales * 4);
            fast.S2.Upload<float>(ffns[x].Down.Scales, x * downScales * 4);
        }

        fast.PackWeights(w13, w2, stream);
        stream.Synchronize();
        return fast;
    }

    /// <summary>
    /// 1 when a layer's shared expert can run as a slot of the fast routed experts: one shared expert (n_shared_experts
    /// = 1), gate and up [moe_intermediate_size, hidden] and down the transpose, all FP8 with 128x128 blocks; else 0.
    /// </summary>
    public static int SharedSlots(FeedForward? shared, Checkpoint.ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (shared is null || c.NSharedExperts != 1)
        {
            return 0;
        }

        int h = c.HiddenSize, i = c.MoeIntermediateSize;
        bool Fits(Matrix m, int rows, int cols) => m.IsFp8 && m.BlockRows == 128 && m.BlockCols == 128 && m.Rows == rows && m.Cols == cols;
        return Fits(shared.Gate, i, h) && Fits(shared.Up, i, h) && Fits(shared.Down, h, i) ? 1 : 0;
    }

    /// <summary>A layer's experts stacked for moe_ref_*: gate, up and down each one buffer (codes, then scales).</summary>
    private static DeviceRoutedExperts RoutedExperts(CudaContext context, ExpertShard shard, int count, int layer, List<IDisposable> owned)
    {
        var ffns = new FeedForward[count];
        for (int e = 0; e < count; e++)
        {
            ffns[e] = shard.Contains(layer, e)
                ? shard.Get(layer, e)
                : throw new ArgumentException($"the device forward needs every routed expert on this device; expert {e} of layer {layer} is not in the shard");
        }

        Matrix first = ffns[0].Gate;
        bool fp8 = first.IsFp8;
        foreach (FeedForward f in ffns)
        {
            foreach (Matrix m in new[] { f.Gate, f.Up, f.Down })
            {
                if (m.IsFp8 != fp8 || (fp8 && (m.BlockRows != first.BlockRows || m.BlockCols != first.BlockCols)))
                {
                    throw new ArgumentException($"layer {layer}: the routed experts mix weight types or scale blocks; the device forward stacks one kind");
                }
            }
        }

        ExpertStack Upload(Func<FeedForward, Matrix> part)
        {
            Matrix m0 = part(ffns[0]);
            long elems = (long)m0.Rows * m0.Cols;
            if (!fp8)
            {
                DeviceBuffer b = context.Allocate(count * elems * 4);
                owned.Add(b);
                for (int e = 0; e < count; e++)
                {
                    b.Upload<float>(part(ffns[e]).Data, e * elems * 4);
                }

                return new ExpertStack(b.Pointer, 0, elems, 0);
            }

            long scales = m0.Scales.Length;
            long codeBytes = (count * elems + 255) & ~255L;
            DeviceBuffer c = context.Allocate(codeBytes + (count * scales * 4));
            owned.Add(c);
            for (int e = 0; e < count; e++)
            {
                c.Upload<byte>(part(ffns[e]).Codes, e * elems);
                c.Upload<float>(part(ffns[e]).Scales, codeBytes + (e * scales * 4));
            }

            return new ExpertStack(c.Pointer, c.Pointer + (ulong)codeBytes, elems, scales);
        }

        return new DeviceRoutedExperts(Upload(f => f.Gate), Upload(f => f.Up), Upload(f => f.Down), fp8, first.BlockRows, first.BlockCols, first.Rows);
    }
}
