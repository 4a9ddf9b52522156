using R1Orleans.Checkpoint;

namespace R1Orleans.Cuda.Forward;

/// <summary>
/// The model's forward with everything on one GPU: weights (<see cref="DeviceModelWeights"/>), the paged latent cache
/// (<see cref="DeviceLatentCache"/>) and every activation stay in device memory, and a step is a sequence of kernels on
/// one stream — embedding, per layer RMSNorm (+ residual), MLA (projections, YaRN, cache append, absorbed attention
/// over the pages), the dense MLP or the MoE (router, noaux_tc gate, routed experts, shared experts), then the final
/// norm, lm_head and argmax. Only the step's metadata goes in (<see cref="StepPlan"/>) and only what is asked for comes
/// out. Because the metadata sits in fixed device buffers and every launch's shape depends on the row count alone, a
/// decode step of a given batch size can be captured once and replayed as a CUDA graph (<see cref="CaptureStep"/>).
/// Attention is absorbed for every row (prefill too); the CPU reference uses the naive form for prefill, which differs
/// only in rounding.
/// </summary>
public sealed class DeviceForward : IDisposable
{
    private readonly CudaContext _context;
    private readonly ForwardKernels _k;
    private readonly DeviceModelWeights _w;
    private readonly DeviceLatentCache _cache;
    private readonly DeviceForwardOptions _options;
    private readonly CudaStream _stream;
    private readonly List<DeviceBuffer> _owned = [];
    private readonly DeviceBuffer _tokens, _positions, _rowSeq, _slots, _tables;
    private PinnedHostBuffer? _pinnedLogits;
    private bool _pinnedRefused;
    private readonly DeviceBuffer _h, _normed, _qa, _q, _kv, _qAbs, _oLat, _attn, _a, _f, _g, _u, _s, _routerLogits, _expertH, _expertO, _logits, _argmax, _argmaxValues, _argmaxIds, _logitIndex, _selected;
    /// <summary>Every MoE layer's routing of the last step, [MoE layers, maxRows, k] each, so one copy brings all of it back.</summary>
    private readonly DeviceBuffer _routingIds, _routingWeights;
    private readonly Dictionary<int, int> _moeIndex = [];
    /// <summary>Slices of a row that argmax_partial reduces in parallel.</summary>
    private const int ArgmaxParts = 64;

    private readonly int _maxTableWidth;
    private readonly DenseFp8Mma? _mma;
    private readonly DenseMma? _dense;
    private readonly Dictionary<DeviceBuffer, PackedMatrix> _denseHeads = [];
    private readonly Dictionary<DeviceWeight, PackedMatrix> _denseLinears = [];
    private readonly Dictionary<DeviceWeight, PackedMatrix> _densePairs = [];
    private readonly PackedMatrix? _denseLmHead;
    private readonly DeviceBuffer? _x16;
    private readonly MlaDecode? _mla;
    private readonly DeviceBuffer? _cache16, _seqLens;
    private readonly CudaKernel? _toBf16Cache;
    private bool _uploadedDecode;
    private int _uploadedTableWidth;
    private int _logitCount;

    public DeviceForward(CudaContext context, KernelLibrary kernels, DeviceModelWeights weights, DeviceLatentCache cache, int maxRows, int maxSequences, int maxTableWidth, DeviceForwardOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(cache);
        ModelConfig c = weights.Config;
        if (maxRows < 1 || maxSequences < 1 || maxTableWidth < 1)
        {
            throw new ArgumentException($"{maxRows} rows, {maxSequences} sequences and tables of {maxTableWidth} blocks: each must be at least 1");
        }

        if (cache.Layers < weights.Layers.Count || cache.EntryDim != c.KvLoraRank + c.QkRopeHeadDim)
        {
            throw new ArgumentException($"the cache has {cache.Layers} layers of {cache.EntryDim}-float entries; the model needs {weights.Layers.Count} of {c.KvLoraRank + c.QkRopeHeadDim}");
        }

        if (c.KvLoraRank > 1024)
        {
            throw new ArgumentException($"kv_lora_rank {c.KvLoraRank} is above the attention kernel's 1024");
        }

        if (c.QkRopeHeadDim > 512)
        {
            throw new ArgumentException($"qk_rope_head_dim {c.QkRopeHeadDim} is above rope_yarn's 512 (ROPE_MAX_HALF pairs)");
        }

        _context = context;
        _k = new ForwardKernels(kernels);
        _w = weights;
        _cache = cache;
        _options = options ?? new DeviceForwardOptions();
        _stream = context.CreateStream();
        _stream.ProgrammaticSerialization = _options.ProgrammaticLaunch && context.ComputeCapability.Major >= 9;
        MaxRows = maxRows;
        MaxSequences = maxSequences;
        _maxTableWidth = maxTableWidth;

        long n = maxRows, d = c.HiddenSize, heads = c.NumAttentionHeads, entry = cache.EntryDim, k = c.NumExpertsPerTok;
        long inter = Math.Max(c.IntermediateSize, Math.Max(c.MoeIntermediateSize * Math.Max(1, c.NSharedExperts), c.MoeIntermediateSize));
        _tokens = Own(n * 4);
        _positions = Own(n * 4);
        _rowSeq = Own(n * 4);
        _slots = Own(n * 4);
        _tables = Own((long)maxSequences * maxTableWidth * 4);
        _h = Own(n * d * 4);
        _normed = Own(n * d * 4);
        _qa = Own(n * (c.QLoraRank ?? 1) * 4);
        _q = Own(n * heads * c.QkHeadDim * 4);
        _kv = Own(n * entry * 4);
        _qAbs = Own(n * heads * entry * 4);
        _oLat = Own(n * heads * c.KvLoraRank * 4);
        _attn = Own(n * heads * c.VHeadDim * 4);
        _a = Own(n * d * 4);
        _f = Own(n * d * 4);
        _g = Own(n * inter * 4);
        _u = Own(n * inter * 4);
        _s = Own(n * d * 4);
        _routerLogits = Own(n * Math.Max(1, c.NRoutedExperts) * 4);
        _expertH = Own(n * k * c.MoeIntermediateSize * 4);
        _expertO = Own(n * k * d * 4);
        _logits = Own(n * c.VocabSize * 4);
        _argmax = Own(n * 4);
        _logitIndex = Own(n * 4);
        _selected = Own(n * d * 4);
        _argmaxValues = Own(n * ArgmaxParts * 4);
        _argmaxIds = Own(n * ArgmaxParts * 4);
        foreach (DeviceLayer layer in weights.Layers.Where(l => l.Moe is not null))
        {
            _moeIndex[layer.Layer] = _moeIndex.Count;
        }

        _routingIds = Own(Math.Max(1, _moeIndex.Count) * n * k * 4);
        _routingWeights = Own(Math.Max(1, _moeIndex.Count) * n * k * 4);

        if (_options.FastLinears)
        {
            DeviceWeight[] all = [.. weights.Layers.SelectMany(LinearsOf)];
            _mma = new DenseFp8Mma(context, kernels, maxRows, all.Max(w => w.Cols), all.Max(w => w.Rows));
            foreach (DeviceWeight w in all.Where(_mma.Supports))
            {
                _mma.Pack(w, _stream);
            }

            _stream.Synchronize();
        }

        if (_options.DenseTensorCores)
        {
            _dense = new DenseMma(context, kernels);

            // Weights over the same input stacked into one launch (vLLM's fused q_a/kv_a and merged gate_up), keyed by
            // the first; the rest one by one.
            var paired = new HashSet<DeviceWeight>();
            foreach (DeviceLayer layer in weights.Layers)
            {
                DeviceAttention a = layer.Attention;
                IEnumerable<(DeviceWeight?, DeviceWeight?)> candidates = [(a.QA, a.KvA), (layer.Mlp?.Gate, layer.Mlp?.Up), (layer.Moe?.Shared?.Gate, layer.Moe?.Shared?.Up)];
                foreach ((DeviceWeight? first, DeviceWeight? second) in candidates)
                {
                    if (first is not null && second is not null && DenseMma.SupportsFp8Pair(first, second))
                    {
                        _densePairs[first] = _dense.PackFp8Pair(_stream, first, second);
                        _dense.Reserve(_densePairs[first], maxRows);
                        paired.Add(first);
                        paired.Add(second);
                    }
                }
            }

            foreach (DeviceWeight w in weights.Layers.SelectMany(LinearsOf).Where(w => DenseMma.SupportsFp8(w) && !paired.Contains(w)))
            {
                _denseLinears[w] = _dense.PackFp8(_stream, w);
                _dense.Reserve(_denseLinears[w], maxRows);
            }

            if (!weights.LmHead.IsFp8 && DenseMma.SupportsBf16(weights.LmHead.Rows, weights.LmHead.Cols))
            {
                _denseLmHead = _dense.PackBf16(_stream, weights.LmHead.Pointer, 1, weights.LmHead.Rows, weights.LmHead.Cols);
                _dense.Reserve(_denseLmHead, maxRows);
            }

            foreach (DeviceAttention a in weights.Layers.Select(l => l.Attention))
            {
                if (DenseMma.SupportsBf16(c.KvLoraRank, c.QkNopeHeadDim) && Aligned(heads * c.QkHeadDim, c.QkHeadDim))
                {
                    _denseHeads[a.AbsorbedKeys] = _dense.PackBf16(_stream, a.AbsorbedKeys.Pointer, (int)heads, c.KvLoraRank, c.QkNopeHeadDim);
                }

                if (DenseMma.SupportsBf16(c.VHeadDim, c.KvLoraRank) && Aligned(heads * c.KvLoraRank, c.KvLoraRank))
                {
                    _denseHeads[a.AbsorbedValues] = _dense.PackBf16(_stream, a.AbsorbedValues.Pointer, (int)heads, c.VHeadDim, c.KvLoraRank);
                }
            }

            // 16-bit copies of the inputs: a linear's rows, the selected rows for lm_head, q for W_UK, the latents for W_UV.
            long widest = Math.Max(d, heads * Math.Max(c.QkHeadDim, c.KvLoraRank));
            widest = Math.Max(widest, _denseLinears.Keys.Concat(_densePairs.Keys).Select(w => (long)w.Cols).DefaultIfEmpty(0).Max());
            _x16 = Own(2 * n * widest);
            _stream.Synchronize();

            // Decode attention on tensor cores: mla_decode over a BF16 copy of the cache (same blocks), where the
            // shapes are its own (heads in 64s, latent 512 + rope 64, blocks dividing its 64-token tiles).
            if (heads % MlaDecode.HeadsPerCta == 0 && c.KvLoraRank == MlaDecode.LatentDim && c.QkRopeHeadDim == MlaDecode.RopeDim && MlaDecode.PageSize % cache.BlockSize == 0)
            {
                _mla = new MlaDecode(context, kernels, maxSequences, (int)heads, maxTableWidth, cachePages: 1, maxSplits: 64);
                _cache16 = Own((long)weights.Layers.Count * cache.Blocks * cache.BlockSize * entry * 2);
                _seqLens = Own(maxSequences * 4L);
                _toBf16Cache = kernels.Kernel("forward", "latent_to_bf16");
            }
        }

        static bool Aligned(long rowStride, long headStride) => rowStride % 8 == 0 && headStride % 8 == 0;
    }

    /// <summary>Bytes lm_head reads per step: its BF16 copy on tensor cores, else the weight as held.</summary>
    public long LmHeadBytes => _denseLmHead?.Bytes ?? _w.LmHead.Bytes;

    /// <summary>True when decode steps (one row per sequence) attend through mla_decode over the BF16 cache copy.</summary>
    public bool DecodesOnTensorCores => _mla is not null;

    /// <summary>One row per sequence, row i of sequence i: every row attends to its whole sequence.</summary>
    public static bool IsDecode(StepPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.Rows == plan.Sequences && plan.RowSequence.Select((s, i) => s == i).All(x => x);
    }

    /// <summary>Bytes a layer's attention weights read per step, the absorbed matrices in the form the step uses.</summary>
    public long AttentionBytes(DeviceLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        DeviceAttention a = layer.Attention;
        long Absorbed(DeviceBuffer b) => _denseHeads.TryGetValue(b, out PackedMatrix? p) ? p.Bytes : b.Bytes;
        return a.Bytes - a.AbsorbedKeys.Bytes - a.AbsorbedValues.Bytes + Absorbed(a.AbsorbedKeys) + Absorbed(a.AbsorbedValues);
    }

    /// <summary>False routes as if e_score_correction_bias were zero (NoauxTcGate.UseCorrectionBias).</summary>
    public bool UseCorrectionBias { get; set; } = true;

    /// <summary>Queues new correction-bias values for an MoE layer's router (an online bias; one value per routed expert).</summary>
    public void SetGateBias(int layer, ReadOnlySpan<float> values)
    {
        DeviceMoe moe = _w.Layers.FirstOrDefault(l => l.Layer == layer)?.Moe ?? throw new ArgumentException($"layer {layer} is not an MoE layer");
        if (values.Length != _w.Config.NRoutedExperts)
        {
            throw new ArgumentException($"layer {layer}: {values.Length} bias values for {_w.Config.NRoutedExperts} routed experts");
        }

        _context.MakeCurrent();
        moe.Bias.UploadAsync(values, _stream);
    }

    /// <summary>When set, eager steps record an event after each op (<see cref="OpProfile"/>).</summary>
    public OpProfile? Profile { get; set; }

    /// <summary>Weight bytes repacked for the tensor-core linears.</summary>
    public long PackedLinearBytes => (_mma?.PackedBytes ?? 0) + _denseLinears.Values.Concat(_densePairs.Values).Sum(p => (long)p.Rows * p.Cols);

    public int MaxRows { get; }

    public int MaxSequences { get; }

    public CudaStream Stream => _stream;

    public DeviceModelWeights Weights => _w;

    /// <summary>Device bytes of the activation and metadata buffers.</summary>
    public long ScratchBytes => _owned.Sum(b => b.Bytes);

    /// <summary>Queues the upload of a step's metadata (before <see cref="Enqueue"/> or a graph replay of its row count).</summary>
    public void Upload(StepPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Rows > MaxRows || plan.Sequences > MaxSequences || plan.TableWidth > _maxTableWidth)
        {
            throw new ArgumentException($"step of {plan.Rows} rows, {plan.Sequences} sequences, tables of {plan.TableWidth}: this forward was sized for {MaxRows}, {MaxSequences}, {_maxTableWidth}");
        }

        _context.MakeCurrent();
        _tokens.UploadAsync<int>(plan.Tokens, _stream);
        _positions.UploadAsync<int>(plan.Positions, _stream);
        _rowSeq.UploadAsync<int>(plan.RowSequence, _stream);
        _slots.UploadAsync<int>(plan.Slots, _stream);
        _tables.UploadAsync<int>(plan.Tables, _stream);
        _logitIndex.UploadAsync<int>(plan.LogitRows, _stream);
        _uploadedDecode = IsDecode(plan);
        if (_seqLens is not null && _uploadedDecode)
        {
            _seqLens.UploadAsync<int>([.. plan.Positions.Select(p => p + 1)], _stream);
        }

        _uploadedTableWidth = plan.TableWidth;
        _logitCount = plan.LogitRows.Length;
    }

    /// <summary>
    /// Queues one step of <paramref name="rows"/> rows over the uploaded metadata: logits and greedy ids of the plan's
    /// logit rows land in device buffers (<see cref="DownloadLogits"/>, <see cref="DownloadArgmax"/>). When
    /// <paramref name="layerMarks"/> holds layers + 2 events, one is recorded before the embedding, after each layer
    /// and after the head.
    /// </summary>
    public void Enqueue(int rows, CudaEvent[]? layerMarks = null)
    {
        if (rows < 1 || rows > MaxRows)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"{rows} rows; this forward was sized for 1..{MaxRows}");
        }

        _context.MakeCurrent();
        ModelConfig c = _w.Config;
        int d = c.HiddenSize;
        layerMarks?[0].Record(_stream);
        Profile?.Begin(_stream);
        _k.Embed.Launch(_stream, rows, 256, 0, _w.Embedding, _tokens, _h, d);
        Mark("embedding");
        DeviceBuffer? pending = null;
        for (int i = 0; i < _w.Layers.Count; i++)
        {
            DeviceLayer layer = _w.Layers[i];
            Norm(pending, layer.InputNorm, rows);
            Mark("norms");
            Attention(layer, rows);
            Norm(_a, layer.PostAttentionNorm, rows);
            Mark("norms");
            if (layer.Moe is { } moe)
            {
                Moe(layer.Layer, moe, rows);
            }
            else
            {
                FeedForward(layer.Mlp!, _normed.Pointer, rows, _f.Pointer);
                Mark("dense mlp");
            }

            pending = _f;
            layerMarks?[i + 1].Record(_stream);
        }

        Norm(pending, _w.FinalNorm, rows);
        Mark("norms");
        int selected = Math.Min(_logitCount, rows);
        _k.Embed.Launch(_stream, selected, 256, 0, _normed, _logitIndex, _selected, d);
        if (_denseLmHead is not null)
        {
            _dense!.Convert(_stream, _selected.Pointer, (long)selected * d, _x16!.Pointer);
            _dense.Launch(_stream, _denseLmHead, _x16.Pointer, selected, d, 0, _logits.Pointer, c.VocabSize, 0);
        }
        else
        {
            Linear(_selected.Pointer, selected, _w.LmHead, _logits.Pointer);
        }

        Mark("lm_head");
        _k.ArgmaxPartial.Launch(_stream, new Dim3(ArgmaxParts, (uint)selected), 256, 0, _logits, c.VocabSize, _argmaxValues, _argmaxIds);
        _k.ArgmaxFinal.Launch(_stream, selected, 32, 0, _argmaxValues, _argmaxIds, ArgmaxParts, _argmax);
        Mark("argmax");
        layerMarks?[_w.Layers.Count + 1].Record(_stream);
    }

    /// <summary>Uploads the plan, queues the step and waits for it.</summary>
    public void Run(StepPlan plan)
    {
        Upload(plan);
        Enqueue(plan.Rows);
        _stream.Synchronize();
    }

    /// <summary>Captures one step of <paramref name="rows"/> rows as a graph; replay it after each <see cref="Upload"/>.</summary>
    public CudaGraph CaptureStep(int rows)
    {
        _context.MakeCurrent();
        _stream.Synchronize();
        return CudaGraph.Capture(_stream, () => Enqueue(rows));
    }

    public float[] DownloadLogits(int rows) => Download<float>(_logits, rows * _w.Config.VocabSize);

    /// <summary>The first logit rows of the last step straight into <paramref name="into"/> (whole rows of the vocabulary).</summary>
    public void DownloadLogits(Span<float> into)
    {
        if (into.Length % _w.Config.VocabSize != 0)
        {
            throw new ArgumentException($"{into.Length} floats are not whole rows of {_w.Config.VocabSize}", nameof(into));
        }

        _context.MakeCurrent();
        long bytes = (long)into.Length * sizeof(float);
        PinnedHostBuffer? staging = bytes >= PinnedLogitsMinBytes ? PinnedLogits(bytes) : null;
        if (staging is null)
        {
            _stream.Synchronize();
            _logits.Download(into);
            return;
        }

        // Through page-locked memory: a batch-64 step's 33 MB of V3 logits took 20.9 ms copied straight into a fresh
        // pageable array (H100, bench-engine), the device step itself 12.5 ms. The host copy goes in parallel slices.
        _logits.DownloadAfter(staging.AsSpan<float>(into.Length), _stream);
        HostCopy.Copy(staging.AsSpan<float>(into.Length), into);
    }

    /// <summary>Logit downloads of at least this many bytes go through page-locked staging (<see cref="DownloadLogits(Span{float})"/>).</summary>
    public const long PinnedLogitsMinBytes = 1 << 20;

    /// <summary>The page-locked staging for logit downloads, grown to <paramref name="bytes"/>; null (and the plain copy) where the host refuses it.</summary>
    private PinnedHostBuffer? PinnedLogits(long bytes)
    {
        if (_pinnedRefused)
        {
            return null;
        }

        if (_pinnedLogits is null || _pinnedLogits.Bytes < bytes)
        {
            long doubled = Math.Min(_logits.Bytes, 2 * (_pinnedLogits?.Bytes ?? 0));
            _pinnedLogits?.Dispose();
            _pinnedLogits = null;
            try
            {
                _pinnedLogits = _context.AllocatePinned(Math.Max(bytes, doubled));
            }
            catch (CudaException e)
            {
                _pinnedRefused = true;
                Console.Error.WriteLine($"page-locked staging for logits refused ({e.Message}); logits are copied into pageable memory");
                return null;
            }
        }

        return _pinnedLogits;
    }

    public int[] DownloadArgmax(int rows) => Download<int>(_argmax, rows);

    /// <summary>The final norm's output (the hidden states MTP reads) of every row.</summary>
    public float[] DownloadHidden(int rows) => Download<float>(_normed, rows * _w.Config.HiddenSize);

    /// <summary>A MoE layer's routing of the last step: ids and weights [rows, k].</summary>
    public (int[] Ids, float[] Weights) DownloadRouting(int layer, int rows)
    {
        int index = _moeIndex.TryGetValue(layer, out int i) ? i : throw new ArgumentException($"layer {layer} is not an MoE layer");
        int k = _w.Config.NumExpertsPerTok;
        long offset = (long)index * MaxRows * k * 4;
        var ids = new int[rows * k];
        var weights = new float[rows * k];
        _context.MakeCurrent();
        _stream.Synchronize();
        _routingIds.Download<int>(ids, offset);
        _routingWeights.Download<float>(weights, offset);
        return (ids, weights);
    }

    /// <summary>
    /// Every MoE layer's routing of the last step (ids and weights [rows, k] by layer) in two copies for all layers,
    /// not two per layer: the engine reads it after every step.
    /// </summary>
    public IReadOnlyDictionary<int, (int[] Ids, float[] Weights)> DownloadAllRouting(int rows)
    {
        int k = _w.Config.NumExpertsPerTok, layers = _moeIndex.Count;
        var result = new Dictionary<int, (int[] Ids, float[] Weights)>();
        if (layers == 0)
        {
            return result;
        }

        // The last layer's block ends after its rows; the others are read whole and sliced here.
        int count = ((layers - 1) * MaxRows * k) + (rows * k);
        int[] ids = Download<int>(_routingIds, count);
        float[] weights = Download<float>(_routingWeights, count);
        foreach ((int layer, int index) in _moeIndex)
        {
            int at = index * MaxRows * k;
            result[layer] = (ids[at..(at + (rows * k))], weights[at..(at + (rows * k))]);
        }

        return result;
    }

    /// <summary>Fills every activation buffer with NaN, so a check sees any value a step reads before writing it.</summary>
    public void PoisonActivations()
    {
        _context.MakeCurrent();
        _stream.Synchronize();
        foreach (DeviceBuffer b in new[] { _h, _normed, _qa, _q, _kv, _qAbs, _oLat, _attn, _a, _f, _g, _u, _s, _routerLogits, _expertH, _expertO, _logits, _x16 }.OfType<DeviceBuffer>())
        {
            b.Fill32(0x7FC00000u);
        }
    }

    public void Dispose()
    {
        _context.MakeCurrent();
        _mma?.Dispose();
        _mla?.Dispose();
        _denseLmHead?.Dispose();
        foreach (PackedMatrix p in _denseHeads.Values.Concat(_denseLinears.Values).Concat(_densePairs.Values))
        {
            p.Dispose();
        }

        _dense?.Dispose();
        _pinnedLogits?.Dispose();

        _owned.ForEach(b => b.Dispose());
        _stream.Dispose();
    }

    private T[] Download<T>(DeviceBuffer b, int count)
        where T : unmanaged
    {
        _context.MakeCurrent();
        _stream.Synchronize();
        return b.Download<T>(count);
    }

    private DeviceBuffer Own(long bytes)
    {
        DeviceBuffer b = _context.Allocate(Math.Max(256, (bytes + 255) & ~255L));
        _owned.Add(b);
        return b;
    }

    /// <summary>_normed = RMSNorm(h) with a pending residual (h += pending first, fused) or without.</summary>
    private void Norm(DeviceBuffer? pending, DeviceNorm norm, int rows) =>
        _k.RmsNorm.Launch(_stream, rows, NormThreads(rows), 0, pending is null ? _h.Pointer : pending.Pointer, pending is null ? 0UL : _h.Pointer, norm.Weight, _normed, norm.Dim, norm.Eps);

    private static IEnumerable<DeviceWeight> LinearsOf(DeviceLayer l)
    {
        DeviceAttention a = l.Attention;
        IEnumerable<DeviceWeight?> all = [a.QA, a.QB, a.KvA, a.O, l.Mlp?.Gate, l.Mlp?.Up, l.Mlp?.Down, l.Moe?.Shared?.Gate, l.Moe?.Shared?.Up, l.Moe?.Shared?.Down];
        return all.OfType<DeviceWeight>();
    }

    private void Mark(string op) => Profile?.Mark(op, _stream);

    /// <summary>A block per row while rows are few (one 256-thread block on a 7,168-wide row is latency-bound).</summary>
    private int NormThreads(int rows) => rows < _context.MultiprocessorCount ? 1024 : 256;

    /// <summary>
    /// y = x · wᵀ: packed FP8 weights on tensor cores (fast linears); float32 weights of up to 8 rows (the router,
    /// lm_head) through gemv_f32_rows; the rest through linear.cu / linear_fp8.cu, with gemv runs of 8 rows instead of
    /// 64x64 tiles where the tiles would leave most SMs idle (kv_a_proj's 576 rows, the router's 256).
    /// </summary>
    private void Linear(ulong x, int rows, DeviceWeight w, ulong y)
    {
        if (_denseLinears.TryGetValue(w, out PackedMatrix? dense))
        {
            _dense!.Convert(_stream, x, (long)rows * w.Cols, _x16!.Pointer, toF16: true);
            _dense.Launch(_stream, dense, _x16.Pointer, rows, w.Cols, 0, y, w.Rows, 0);
            return;
        }

        if (_mma is not null && rows >= _options.FastLinearMinRows && _mma.IsPacked(w))
        {
            _mma.Launch(_stream, x, rows, w, y);
            return;
        }

        long tiles = (long)((w.Rows + 63) / 64) * ((rows + 63) / 64);
        bool runs = rows <= LinearKernels.GemvMaxTokens || tiles < 2L * _context.MultiprocessorCount;
        if (!w.IsFp8 && w.Cols % 4 == 0 && runs)
        {
            for (int r0 = 0; r0 < rows; r0 += LinearKernels.GemvMaxTokens)
            {
                int n = Math.Min(LinearKernels.GemvMaxTokens, rows - r0);
                _k.GemvRows.Launch(_stream, w.Rows, 256, 0, x + ((ulong)r0 * (ulong)w.Cols * 4), w.Pointer, y + ((ulong)r0 * (ulong)w.Rows * 4), n, w.Rows, w.Cols);
            }

            return;
        }

        _k.Linear.Launch(_stream, x, rows, w, y, runs ? int.MaxValue : _options.GemvMaxRows);
    }

    /// <summary>
    /// out[t, h, :out_dim] = W[h] · x[t, h, :in_dim] for every head and row (the absorbed projections): BF16 on tensor
    /// cores where the matrix was packed (x rounded to BF16 first: xRow elements per row, all of them), else float32.
    /// </summary>
    private void HeadProjection(DeviceBuffer w, ulong x, long xRow, int xHead, int inDim, ulong output, long outRow, int outHead, int outDim, int rows)
    {
        if (_denseHeads.TryGetValue(w, out PackedMatrix? packed))
        {
            _dense!.Convert(_stream, x, rows * xRow, _x16!.Pointer);
            _dense.Launch(_stream, packed, _x16.Pointer, rows, xRow, xHead, output, outRow, outHead);
            return;
        }

        int heads = _w.Config.NumAttentionHeads;
        bool vector = inDim % 128 == 0 && inDim <= 512 && xHead % 4 == 0 && xRow % 4 == 0;
        if (vector)
        {
            _k.HeadProj4.Launch(_stream, new Dim3((uint)heads, (uint)((outDim + 31) / 32)), 256, 0, w, x, xRow, xHead, 0, inDim, output, outRow, outHead, 0, outDim, rows);
        }
        else
        {
            _k.HeadProj.Launch(_stream, new Dim3((uint)heads, (uint)((outDim + 7) / 8)), 256, 0, w, x, xRow, xHead, 0, inDim, output, outRow, outHead, 0, outDim, rows);
        }
    }

    /// <summary>MLA on _normed → _a, writing this layer's cache entries.</summary>
    private void Attention(DeviceLayer layer, int rows)
    {
        ModelConfig c = _w.Config;
        DeviceAttention a = layer.Attention;
        int heads = c.NumAttentionHeads, nope = c.QkNopeHeadDim, rope = c.QkRopeHeadDim, kvRank = c.KvLoraRank, v = c.VHeadDim;
        int entry = kvRank + rope, qWidth = nope + rope;
        if (a.QA is not null && _densePairs.TryGetValue(a.QA, out PackedMatrix? qaKvA))
        {
            // q_a and kv_a_proj_with_mqa in one launch over the same input.
            _dense!.Convert(_stream, _normed.Pointer, (long)rows * a.QA.Cols, _x16!.Pointer, toF16: true);
            _dense.LaunchPair(_stream, qaKvA, _x16.Pointer, rows, _qa.Pointer, _kv.Pointer);
            Mark("mla q_a + kv_a");
            _k.RmsNorm.Launch(_stream, rows, NormThreads(rows), 0, _qa, 0UL, a.QANorm!.Weight, _qa, a.QANorm.Dim, a.QANorm.Eps);
            Linear(_qa.Pointer, rows, a.QB, _q.Pointer);
            Mark("mla q");
        }
        else
        {
            QueryAndLatent(a, rows);
        }

        ulong attentionFactor = BitConverter.DoubleToUInt64Bits(_w.AttentionFactor);
        _k.Rope.Launch(_stream, ForwardKernels.RopeGrid(rows, heads, rope / 2), 128, 0, _q, _positions, _w.InverseFrequencies, attentionFactor, heads, (long)heads * qWidth, qWidth, nope, rope / 2);
        _k.LatentAppend.Launch(_stream, rows, 256, 0, _kv, a.KvANorm.Weight, a.KvANorm.Eps, _positions, _slots, _w.InverseFrequencies, attentionFactor, _cache.LayerPointer(layer.Layer), kvRank, rope);
        ulong cache16 = _cache16 is null ? 0 : _cache16.Pointer + ((ulong)layer.Layer * (ulong)_cache.Blocks * (ulong)_cache.BlockSize * (ulong)entry * 2);
        if (_toBf16Cache is not null)
        {
            _toBf16Cache.Launch(_stream, rows, 128, 0, _cache.LayerPointer(layer.Layer), _slots, entry, cache16);
        }

        Mark("mla rope + cache");
        HeadProjection(a.AbsorbedKeys, _q.Pointer, (long)heads * qWidth, qWidth, nope, _qAbs.Pointer, (long)heads * entry, entry, kvRank, rows);
        _k.CopyRope.Launch(_stream, ForwardKernels.CopyRopeGrid(rows, heads, rope), 128, 0, _q, _qAbs, heads, nope, rope, kvRank);
        Mark("mla absorb W_UK");
        if (_mla is not null && _uploadedDecode)
        {
            // Splits from the tables' width, not this step's lengths, so that a graph captured once serves every step.
            _dense!.Convert(_stream, _qAbs.Pointer, (long)rows * heads * entry, _mla.Q.Pointer);
            int splits = MlaDecode.ChooseSplits(rows, heads, _uploadedTableWidth * _cache.BlockSize, _context.MultiprocessorCount, _mla.MaxSplits);
            _mla.Forward(_stream, rows, _w.SoftmaxScale, _uploadedTableWidth * _cache.BlockSize, new MlaDecodeInputs(_mla.Q.Pointer, cache16, _tables.Pointer, _uploadedTableWidth, _cache.BlockSize, _seqLens!.Pointer, _oLat.Pointer), splits);
        }
        else
        {
            bool shareHeads = PagedLatentAttention.SharesHeads(rows, heads, kvRank, _context.MultiprocessorCount);
            _k.Attention.Launch(_stream, shareHeads, _qAbs.Pointer, _cache.LayerPointer(layer.Layer), _tables.Pointer, _uploadedTableWidth, _cache.BlockSize, _rowSeq.Pointer, _positions.Pointer, _oLat.Pointer, rows, heads, kvRank, rope, _w.SoftmaxScale);
        }

        Mark("mla attention");
        HeadProjection(a.AbsorbedValues, _oLat.Pointer, (long)heads * kvRank, kvRank, kvRank, _attn.Pointer, (long)heads * v, v, v, rows);
        Mark("mla absorb W_UV");
        Linear(_attn.Pointer, rows, a.O, _a.Pointer);
        Mark("mla o_proj");
    }

    /// <summary>q (through q_a, its norm and q_b, or q_b alone) into _q, then kv_a_proj_with_mqa into _kv: a launch per linear.</summary>
    private void QueryAndLatent(DeviceAttention a, int rows)
    {
        if (a.QA is not null)
        {
            Linear(_normed.Pointer, rows, a.QA, _qa.Pointer);
            _k.RmsNorm.Launch(_stream, rows, NormThreads(rows), 0, _qa, 0UL, a.QANorm!.Weight, _qa, a.QANorm.Dim, a.QANorm.Eps);
            Linear(_qa.Pointer, rows, a.QB, _q.Pointer);
        }
        else
        {
            Linear(_normed.Pointer, rows, a.QB, _q.Pointer);
        }

        Mark("mla q");
        Linear(_normed.Pointer, rows, a.KvA, _kv.Pointer);
        Mark("mla kv_a");
    }

    /// <summary>y = down(silu(gate(x)) ⊙ up(x)).</summary>
    private void FeedForward(DeviceFeedForward f, ulong x, int rows, ulong y)
    {
        if (_densePairs.TryGetValue(f.Gate, out PackedMatrix? gateUp))
        {
            // gate and up in one launch over the same input.
            _dense!.Convert(_stream, x, (long)rows * f.Gate.Cols, _x16!.Pointer, toF16: true);
            _dense.LaunchPair(_stream, gateUp, _x16.Pointer, rows, _g.Pointer, _u.Pointer);
        }
        else
        {
            Linear(x, rows, f.Gate, _g.Pointer);
            Linear(x, rows, f.Up, _u.Pointer);
        }

        long count = (long)rows * f.Intermediate;
        int blocks = (int)Math.Min((count + 255) / 256, _context.MultiprocessorCount * 16L);
        _k.SiluMul.Launch(_stream, blocks, 256, 0, _g, _u, _g, count);
        Linear(_g.Pointer, rows, f.Down, y);
    }

    /// <summary>
    /// Whether steps run <paramref name="moe"/>'s shared expert inside its fast routed step (those with fewer rows than
    /// <see cref="MoeFp8Experts.PrefillMinTokens"/>: the decode GEMMs; the prefill GEMMs keep the dense path).
    /// </summary>
    private bool FoldsShared(DeviceMoe moe) =>
        _options.SharedExpertInRoutedStep && _options.DenseTensorCores && moe.Shared is not null && moe.Fast is { SharedExperts: 1 };

    /// <summary>
    /// Whether some MoE layer runs its shared expert inside the fast routed step (<see cref="DeviceForwardOptions.SharedExpertInRoutedStep"/>
    /// asked for, the fast mode, and weights with a packed shared slot).
    /// </summary>
    public bool FoldsSharedExperts => _w.Layers.Any(l => l.Moe is { } m && m.Fast is not null && (!_options.ReferenceExperts || m.Reference is null) && FoldsShared(m));

    /// <summary>The MoE on _normed → _f: route, routed experts combined in slot order, then + the shared experts.</summary>
    private void Moe(int layerIndex, DeviceMoe moe, int rows)
    {
        ModelConfig c = _w.Config;
        int d = c.HiddenSize, k = c.NumExpertsPerTok, e = c.NRoutedExperts;
        ulong at = (ulong)_moeIndex[layerIndex] * (ulong)MaxRows * (ulong)k * 4;
        ulong ids = _routingIds.Pointer + at, weights = _routingWeights.Pointer + at;
        Linear(_normed.Pointer, rows, moe.Router, _routerLogits.Pointer);
        _k.Gate.Launch(_stream, rows, 256, 0, _routerLogits, moe.Bias, ids, weights, e, c.NGroup, c.TopkGroup, k, c.NormTopkProb ? 1 : 0, (float)c.RoutedScalingFactor, UseCorrectionBias ? 1 : 0);
        Mark("moe router + gate");
        bool folded = false;
        if (moe.Fast is { } fast && (!_options.ReferenceExperts || moe.Reference is null))
        {
            // Straight from this forward's buffers: the normed rows and the gate's routing in, the output into _f
            // (with the shared expert as an always-on slot of every row where asked for and packed).
            folded = FoldsShared(moe) && rows < MoeFp8Experts.PrefillMinTokens;
            fast.Forward(_stream, rows, new MoeStepBuffers(_normed.Pointer, ids, weights, _f.Pointer), shared: folded);
        }
        else
        {
            DeviceRoutedExperts r = moe.Reference ?? throw new InvalidOperationException($"layer {layerIndex} has no routed experts on the device");
            int inter = r.Intermediate, slots = rows * k, fp8 = r.Fp8 ? 1 : 0;
            _k.MoeGateUp.Launch(_stream, new Dim3((uint)((inter + 7) / 8), (uint)slots), 256, 0, _normed, ids, k, r.Gate.Pointer, r.Gate.Scales, r.Up.Pointer, r.Up.Scales, r.Gate.Stride, r.Gate.ScaleStride, fp8, r.BlockRows, r.BlockCols, _expertH, d, inter);
            _k.MoeDown.Launch(_stream, new Dim3((uint)((d + 7) / 8), (uint)slots), 256, 0, _expertH, ids, r.Down.Pointer, r.Down.Scales, r.Down.Stride, r.Down.ScaleStride, fp8, r.BlockRows, r.BlockCols, _expertO, d, inter);
            _k.MoeCombine.Launch(_stream, rows, 256, 0, _expertO, weights, k, _f, d);
        }

        Mark("moe routed experts");

        if (moe.Shared is { } shared && !folded)
        {
            FeedForward(shared, _normed.Pointer, rows, _s.Pointer);
            long count = (long)rows * d;
            _k.Add.Launch(_stream, (int)Math.Min((count + 255) / 256, _context.MultiprocessorCount * 16L), 256, 0, _f, _s, count);
            Mark("moe shared experts");
        }
    }
}
