using R1Orleans.Model;

namespace R1Orleans.Cuda.Forward;

/// <summary>
/// A <see cref="DeepseekV3Model"/>'s steps through the <see cref="DeviceForward"/> (installed with
/// <see cref="DeepseekV3Model.UseAccelerator"/>): the model's weights and every routed expert copied to the GPU once,
/// the main layers' latent cache kept in device memory at the same block ids as the engine's host cache (only block
/// tables are read there, so the host never allocates those layers; the MTP layer's stays on the host). A batch larger than the forward was
/// sized for runs in consecutive chunks of rows (a sequence's later rows attend to the cache its earlier rows wrote),
/// and each step's results come back as the CPU path returns them: hidden states of every row, logits of the rows
/// asked for, and each MoE layer's routing for the batch's observer.
/// </summary>
public sealed class DeviceModelAccelerator : IModelAccelerator, IDisposable
{
    /// <summary>
    /// Environment switch for how a CUDA model's steps run. Unset (or 1): through the device-resident forward with
    /// float32 activations throughout (the golden numerics; the default since its engine path passed the golden cases,
    /// the engine checks and the silo's held-out questions on an H100). fast: with the FP8 routed experts and linears on
    /// tensor cores (f16 activations) and lm_head and the absorbed projections in BF16 on tensor cores, as the
    /// benchmark runs them. 0: op by op through CudaBackend (every op copies its activations in and out). Anything else
    /// is refused with the values it takes.
    /// </summary>
    public const string EnvironmentSwitch = "R1ORLEANS_DEVICE_FORWARD";

    private readonly CudaContext _context;
    private readonly KernelLibrary _kernels;
    private readonly DeepseekV3Model _model;
    private readonly DeviceModelWeights _weights;
    private readonly Action<int, ExpertRouting>? _routed;
    private readonly int _maxRows;
    private readonly Dictionary<int, CudaGraph> _graphs = [];
    private readonly HashSet<int> _eagerDecodeSizes = [];
    private readonly bool _useGraphs;
    private readonly bool _ownsKernels;
    private readonly DeviceForwardOptions _options;
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> _retiredPools = [];
    private DeviceLatentCache? _cache;
    private object? _pool;
    private DeviceForward? _forward;
    private long _biasVersion;
    private bool _graphsUseBias;

    /// <param name="useGraphs">Decode steps (one row per sequence) replay a CUDA graph per batch size, captured the
    /// second time that size runs; every other step launches its kernels one by one.</param>
    /// <param name="ownsKernels">Dispose <paramref name="kernels"/> with this accelerator.</param>
    /// <param name="fast"><see cref="DeviceForwardOptions.Fast"/>: FP8 routed experts and linears and the BF16 matrices on
    /// tensor cores (the kernel library must hold <see cref="ForwardKernels.Modules"/>); float32 activations everywhere otherwise.</param>
    public DeviceModelAccelerator(CudaContext context, KernelLibrary kernels, DeepseekV3Model model, ExpertShard experts, Action<int, ExpertRouting>? routed = null, int maxRows = 512, bool useGraphs = true, bool ownsKernels = false, bool fast = false)
    {
        _options = fast ? DeviceForwardOptions.Fast : new DeviceForwardOptions();
        _useGraphs = useGraphs;
        _ownsKernels = ownsKernels;
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(model);
        _context = context;
        _kernels = kernels;
        _model = model;
        _routed = routed;
        _maxRows = maxRows;
        context.MakeCurrent();
        using CudaStream upload = context.CreateStream();
        _weights = DeviceWeightUpload.FromModel(context, upload, model, experts, fast ? kernels : null, maxRows, sharedExpertSlots: _options.SharedExpertInRoutedStep);
    }

    /// <summary>How <see cref="For"/> runs CUDA models under the current environment, in words (for benchmark output and logs).</summary>
    public static string ModeDescription() => Mode() switch
    {
        DeviceForwardMode.Exact => $"device-resident forward (float32 activations, the golden numerics; {EnvironmentSwitch}=fast for tensor cores, =0 op by op)",
        DeviceForwardMode.Fast => $"device-resident forward, fast ({EnvironmentSwitch}=fast: FP8 experts and linears, BF16 lm_head and absorbed projections, mla_decode, on tensor cores)",
        _ => $"op by op through CudaBackend ({EnvironmentSwitch}=0: activations copied per call)",
    };

    /// <summary>
    /// The factory the engine takes (<see cref="ModelAcceleratorFactory"/>) for models on <paramref name="backend"/>'s
    /// device, or null when <see cref="EnvironmentSwitch"/> is 0 (op by op). Kernels come from the default folder and
    /// cache. Unset or 1, the routed experts run on the reference kernels (float32 activations, the golden numerics);
    /// fast, on MoeFp8Experts, and the FP8 linears, lm_head and the absorbed projections on tensor cores.
    /// </summary>
    public static ModelAcceleratorFactory? For(CudaBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        DeviceForwardMode mode = Mode();
        if (mode == DeviceForwardMode.PerOp)
        {
            return null;
        }

        bool fast = mode == DeviceForwardMode.Fast;
        return (model, experts, routed) =>
        {
            backend.Context.MakeCurrent();
            KernelLibrary kernels = KernelLibrary.Load(backend.Context, KernelFolder.Find(), new KernelCache(KernelCache.DefaultDirectory), fast ? ForwardKernels.Modules : ForwardKernels.CoreModules);
            return new DeviceModelAccelerator(backend.Context, kernels, model, experts, routed, ownsKernels: true, fast: fast);
        };
    }

    /// <summary><see cref="EnvironmentSwitch"/> as set now (<see cref="DeviceForwardModes.Parse"/>).</summary>
    public static DeviceForwardMode Mode() => DeviceForwardModes.Parse(Environment.GetEnvironmentVariable(EnvironmentSwitch), EnvironmentSwitch);

    public ModelOutput Forward(ForwardBatch batch, int[] logitRows, GateBias? bias)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(logitRows);
        int rows = batch.Rows, d = _model.Config.HiddenSize, vocab = _model.Config.VocabSize, k = _model.Config.NumExpertsPerTok;
        long t = System.Diagnostics.Stopwatch.GetTimestamp();
        _context.MakeCurrent();   // the engine steps from its own thread; allocations need the context current there
        (int[] Table, int Blocks, int BlockSize, object Pool)[] tables = [.. batch.Sequences.Select(s => TableOf(s))];
        if (tables.Any(t => !ReferenceEquals(t.Pool, tables[0].Pool)))
        {
            throw new ArgumentException("a step's sequences come from more than one latent cache pool; the device cache mirrors one", nameof(batch));
        }

        DeviceForward forward = Prepare(tables[0].Pool, tables[0].Blocks, tables[0].BlockSize);
        SyncBias(forward, bias);

        // The final hidden states feed only the MTP layer: without one they stay on the device (an empty array).
        bool needHidden = _model.Mtp is not null;
        float[] hidden = needHidden ? new float[rows * d] : [];
        // Every requested row is written below (downloaded in order or copied to each place it was asked for).
        float[] logits = GC.AllocateUninitializedArray<float>(logitRows.Length * vocab);
        int[] moeLayers = [.. _weights.Layers.Where(l => l.Moe is not null).Select(l => l.Layer)];
        var ids = moeLayers.ToDictionary(l => l, _ => new int[rows * k]);
        var weights = moeLayers.ToDictionary(l => l, _ => new float[rows * k]);

        // Which requested logit row each row of the batch answers (a row may be asked for more than once).
        var wanted = new List<int>[rows];
        for (int i = 0; i < logitRows.Length; i++)
        {
            if ((uint)logitRows[i] >= (uint)rows)
            {
                throw new ArgumentOutOfRangeException(nameof(logitRows), $"logit row {logitRows[i]} is outside the batch of {rows} rows");
            }

            (wanted[logitRows[i]] ??= []).Add(i);
        }

        t = DeviceStepMetrics.Record("prepare", t);
        StepSequence[] whole = [.. batch.Sequences.Select((s, i) => new StepSequence(batch.Tokens[s.Start..(s.Start + s.Length)], s.FirstPosition, tables[i].Table))];
        bool decode = _useGraphs && rows <= _maxRows && batch.Sequences.All(s => s.Length == 1) && logitRows.SequenceEqual(Enumerable.Range(0, rows));
        foreach (StepChunk chunk in StepChunks.Split(whole, _maxRows))
        {
            int start = chunk.StartRow, n = chunk.Rows;
            int[] chunkLogits = [.. Enumerable.Range(start, n).Where(r => wanted[r] is not null)];

            // A decode step's tables are as wide as the pool, so that one graph per batch size serves every step.
            int width = decode ? tables[0].Blocks : chunk.Sequences.Max(q => q.BlockTable.Length);
            StepPlan plan = StepPlan.Build(chunk.Sequences, tables[0].BlockSize, tables[0].Blocks, width, vocab, [.. chunkLogits.Select(r => r - start)]);
            t = DeviceStepMetrics.Record("plan", t);
            if (decode)
            {
                RunDecode(forward, plan);
            }
            else
            {
                forward.Run(plan);
            }

            t = DeviceStepMetrics.Record("device", t);

            if (needHidden)
            {
                forward.DownloadHidden(n).CopyTo(hidden.AsSpan(start * d));
                t = DeviceStepMetrics.Record("hidden", t);
            }

            // The usual case — each logit row asked for once, in order (a decode step's rows, a prefill's last rows):
            // straight into the output, without a second copy of [rows, vocab] floats.
            int first = chunkLogits.Length > 0 ? wanted[chunkLogits[0]]![0] : 0;
            bool inOrder = chunkLogits.Select((r, j) => wanted[r]!.Count == 1 && wanted[r]![0] == first + j).All(x => x);
            if (chunkLogits.Length > 0 && inOrder)
            {
                forward.DownloadLogits(logits.AsSpan(first * vocab, chunkLogits.Length * vocab));
            }
            else if (chunkLogits.Length > 0)
            {
                float[] chunkOut = forward.DownloadLogits(chunkLogits.Length);
                for (int j = 0; j < chunkLogits.Length; j++)
                {
                    foreach (int at in wanted[chunkLogits[j]])
                    {
                        chunkOut.AsSpan(j * vocab, vocab).CopyTo(logits.AsSpan(at * vocab));
                    }
                }
            }

            t = DeviceStepMetrics.Record("logits", t);
            foreach ((int layer, (int[] li, float[] lw)) in forward.DownloadAllRouting(n))
            {
                li.CopyTo(ids[layer], start * k);
                lw.CopyTo(weights[layer], start * k);
            }

            t = DeviceStepMetrics.Record("routing", t);
        }

        foreach (int layer in moeLayers)
        {
            var routing = new ExpertRouting(rows, k, ids[layer], weights[layer]) { GateBiasVersion = bias?.Version ?? 0 };
            batch.RoutingObserver?.OnRouted(layer, batch, routing);
            _routed?.Invoke(layer, routing);
        }

        DeviceStepMetrics.Record("observers", t);
        return new ModelOutput(hidden, rows, d, logitRows, logits, vocab);
    }

    public void Dispose()
    {
        _context.MakeCurrent();
        foreach (CudaGraph g in _graphs.Values)
        {
            g.Dispose();
        }

        _forward?.Dispose();
        _cache?.Dispose();
        _weights.Dispose();
        if (_ownsKernels)
        {
            _kernels.Dispose();
        }
    }

    /// <summary>
    /// A decode step: the graph of its batch size when one was captured, else its kernels one by one (the first time a
    /// size runs), then a capture for the next time. Kernel parameters fixed at capture (row count, table width, the
    /// bias switch) are the same for every decode step of that size; the metadata they read is uploaded before each.
    /// </summary>
    private void RunDecode(DeviceForward forward, StepPlan plan)
    {
        if (_graphsUseBias != forward.UseCorrectionBias)
        {
            foreach (CudaGraph g in _graphs.Values)
            {
                g.Dispose();
            }

            _graphs.Clear();
            _graphsUseBias = forward.UseCorrectionBias;
        }

        forward.Upload(plan);
        if (_graphs.TryGetValue(plan.Rows, out CudaGraph? graph))
        {
            graph.Launch(forward.Stream);
        }
        else if (_eagerDecodeSizes.Add(plan.Rows))
        {
            forward.Enqueue(plan.Rows);
        }
        else
        {
            graph = forward.CaptureStep(plan.Rows);
            _graphs[plan.Rows] = graph;
            graph.Launch(forward.Stream);
        }

        forward.Stream.Synchronize();
    }

    /// <summary>A slice's block table in the host cache, the host pool's size (blocks, block size) and the pool; no latents touched.</summary>
    private static (int[] Table, int Blocks, int BlockSize, object Pool) TableOf(SequenceSlice s)
    {
        LatentBlocks blocks = s.Cache.Blocks(s.ContextLength);
        return (blocks.BlockTable.ToArray(), blocks.PoolBlocks, blocks.BlockSize, blocks.Pool);
    }

    /// <summary>
    /// The device cache mirrors one host pool (same blocks and block size), built on its first step. A step from a new
    /// pool (an engine or benchmark that made a new cache) replaces it: the device cache, the forward and its graphs are
    /// rebuilt for the new pool and the old pool is retired; a later step from a retired pool is refused, since its
    /// latents on the device are gone.
    /// </summary>
    private DeviceForward Prepare(object pool, int blocks, int blockSize)
    {
        if (_forward is not null && ReferenceEquals(pool, _pool))
        {
            return _forward;
        }

        if (_retiredPools.TryGetValue(pool, out _))
        {
            throw new InvalidOperationException("this step's sequences are in a latent cache pool whose device copy was replaced by a newer pool's; their latents are no longer on the device");
        }

        if (_forward is not null)
        {
            _retiredPools.Add(_pool!, _pool!);
            foreach (CudaGraph g in _graphs.Values)
            {
                g.Dispose();
            }

            _graphs.Clear();
            _eagerDecodeSizes.Clear();
            _forward.Dispose();
            _cache!.Dispose();
            _forward = null;
            _cache = null;
        }

        _cache = new DeviceLatentCache(_context, _weights.Layers.Count, _model.Config.LatentCacheDim, blocks, blockSize);
        _forward = new DeviceForward(_context, _kernels, _weights, _cache, _maxRows, _maxRows, blocks, _options);
        _pool = pool;
        return _forward;
    }

    private void SyncBias(DeviceForward forward, GateBias? bias)
    {
        forward.UseCorrectionBias = _model.Gates.FirstOrDefault().Gate?.UseCorrectionBias ?? true;
        long version = bias?.Version ?? 0;
        if (version == _biasVersion)
        {
            return;
        }

        foreach ((int layer, NoauxTcGate gate) in _model.Gates.Where(g => g.Layer < _model.Blocks.Count))
        {
            forward.SetGateBias(layer, bias is null ? gate.Bias : bias.For(layer));
        }

        _biasVersion = version;
    }
}
