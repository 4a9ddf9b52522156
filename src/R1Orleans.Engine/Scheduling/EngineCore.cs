using System.Collections.Concurrent;
using System.Threading.Channels;
using R1Orleans.Engine.Sampling;
using R1Orleans.Model;

namespace R1Orleans.Engine.Scheduling;

/// <summary>
/// The continuous-batching core, driven one Step() at a time by a single thread. Each step: drop cancelled requests;
/// schedule running decodes first (one token, two with an MTP draft), then running prefills, then admit waiting
/// requests, within the token budget and the free KV blocks (chunking long prefills); preempt the newest request when
/// a decode finds no block (it is recomputed later from its tokens); run one forward pass over the whole batch;
/// sample, verify drafts, apply stop rules, stream events; free everything a finished request held.
/// </summary>
public sealed class EngineCore
{
    private readonly DeepseekV3Model _model;
    private readonly PagedLatentCache _cache;
    private readonly SchedulerConfig _config;
    private readonly ITextStreamFactory? _text;
    private readonly int? _eos;
    private readonly int _maxModelLen;
    private readonly ConcurrentQueue<SequenceState> _incoming = new();
    private readonly ConcurrentDictionary<string, SequenceState> _byId = new();
    private readonly List<SequenceState> _waiting = [];
    private readonly List<SequenceState> _running = [];
    private long _arrivals;

    public EngineCore(DeepseekV3Model model, PagedLatentCache cache, SchedulerConfig config, ITextStreamFactory? text = null, int? eosTokenId = null)
    {
        _model = model;
        _cache = cache;
        _config = config;
        _text = text;
        _eos = eosTokenId;
        _maxModelLen = config.MaxModelLen > 0 ? Math.Min(config.MaxModelLen, model.Config.MaxPositionEmbeddings) : model.Config.MaxPositionEmbeddings;

        // A sequence can never outgrow the whole cache: one that would (its last step reserves a slot past its length)
        // is refused at submission as too long, not failed halfway through its stream.
        KvCacheLimit = (cache.Allocator.Capacity * cache.BlockSize) - 1;
        if (KvCacheLimit < 1)
        {
            throw new ArgumentException($"the KV cache holds {cache.Allocator.Capacity} blocks of {cache.BlockSize} positions: too small for any request");
        }

        _maxModelLen = Math.Min(_maxModelLen, KvCacheLimit);
        if (config.SpeculativeMtp && model.Mtp is null)
        {
            throw new ArgumentException("MTP speculative decoding needs a checkpoint with an MTP layer (num_nextn_predict_layers = 1)");
        }
    }

    public EngineStats Stats { get; } = new();

    /// <summary>
    /// Called on the engine thread at every step boundary, before a forward step takes its gate-bias snapshot: where the
    /// online load balancer applies a new bias (<see cref="Balancing.OnlineGateBias"/>), so a step never mixes versions.
    /// </summary>
    public Action? BeforeStep { get; init; }

    /// <summary>The longest sequence (prompt + output) served: the configured limit, max_position_embeddings and what the whole KV cache holds, whichever is least.</summary>
    public int MaxModelLen => _maxModelLen;

    /// <summary>The longest sequence the whole KV cache can hold.</summary>
    public int KvCacheLimit { get; }

    public int Running => _running.Count;

    public int Waiting => _waiting.Count + _incoming.Count;

    /// <summary>Sequences that may run at once (<see cref="SchedulerConfig.MaxNumSeqs"/>).</summary>
    public int MaxNumSeqs => _config.MaxNumSeqs;

    /// <summary>
    /// Whether <paramref name="count"/> more requests fit the engine's capacity: <paramref name="maxWaiting"/> waiting
    /// places plus <see cref="MaxNumSeqs"/> running slots. Free running slots count, so a burst fills them first rather
    /// than being refused while the queue drains into them. Read from any thread (a snapshot; the engine thread moves
    /// requests between the two at its next step).
    /// </summary>
    public bool Admits(int count, int maxWaiting) => (long)Waiting + Running + count <= (long)maxWaiting + _config.MaxNumSeqs;

    /// <summary>"3 requests are waiting and 64 running (limit 100 waiting + 64 running)": the reason of a refusal.</summary>
    public string LoadSummary(int maxWaiting) => $"{Waiting} requests are waiting and {Running} running (limit {maxWaiting} waiting + {_config.MaxNumSeqs} running)";

    public bool HasWork => !_incoming.IsEmpty || _waiting.Count > 0 || _running.Count > 0;

    /// <summary>Queues a request (thread-safe). Invalid requests throw here, before anything is queued.</summary>
    public void Submit(GenerationRequest request, ChannelWriter<GenerationEvent> sink) => Submit(request, sink, []);

    private void Submit(GenerationRequest request, ChannelWriter<GenerationEvent> sink, int[] generated)
    {
        request.Sampling.Validate();
        if (request.PromptTokens.Length == 0)
        {
            throw new SamplingParamException("prompt", "the prompt is empty");
        }

        if ((long)request.PromptTokens.Length + request.Sampling.MaxTokens > _maxModelLen)
        {
            throw new ContextLengthExceededException(request.PromptTokens.Length, request.Sampling.MaxTokens, _maxModelLen);
        }

        int vocab = _model.Config.VocabSize;
        int bad = Array.FindIndex(request.PromptTokens, t => (uint)t >= (uint)vocab);
        if (bad >= 0)
        {
            throw new SamplingParamException("prompt", $"token {request.PromptTokens[bad]} at index {bad} is outside the vocabulary (0..{vocab - 1})");
        }

        if (!Admits(1, _config.MaxWaiting))
        {
            throw new EngineOverloadedException(LoadSummary(_config.MaxWaiting));
        }

        ulong seed = request.Sampling.Seed ?? (ulong)Random.Shared.NextInt64();
        var seq = new SequenceState(request, seed, Interlocked.Increment(ref _arrivals), _cache.NewSequence(), _text?.Create(request.Sampling.SkipSpecialTokens), sink);

        // A resumed request's tokens so far, before the engine thread can see it: output, penalties' history, the text
        // stream's and the stop strings' state, as if it had made them (only new tokens are streamed).
        foreach (int t in generated)
        {
            seq.Output.Add(t);
            seq.History.Add(t);
            string piece = seq.Text?.Push(t) ?? "";
            if (seq.Sampling.Stop.Count > 0)
            {
                seq.Stops.Push(piece);
            }
        }

        if (!_byId.TryAdd(request.Id, seq))
        {
            throw new ArgumentException($"request id {request.Id} is already in use");
        }

        _incoming.Enqueue(seq);
    }

    /// <summary>
    /// Continues a request from its serialized state (failover: the silo that ran it is gone). The prompt and the tokens
    /// generated so far are prefilled again and sampling resumes at the same RNG position, so the output continues
    /// exactly as it would have. Only new tokens are streamed.
    /// </summary>
    public void Resume(RequestState state, ChannelWriter<GenerationEvent> sink)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.OutputTokens.Length >= state.Sampling.MaxTokens)
        {
            throw new SamplingParamException("max_tokens", $"the request already has its {state.Sampling.MaxTokens} tokens: nothing to resume");
        }

        Submit(new GenerationRequest(state.Id, state.PromptTokens, state.Sampling with { Seed = state.Seed }), sink, state.OutputTokens);
    }

    /// <summary>Asks a request to stop (thread-safe); the next step frees its blocks and ends its stream with Abort.</summary>
    public void Cancel(string requestId)
    {
        if (_byId.TryGetValue(requestId, out SequenceState? s))
        {
            s.RequestCancel();
        }
    }

    /// <summary>The MTP draft a running request will verify in its next step (diagnostics and tests).</summary>
    public int? DraftOf(string requestId) => _byId.TryGetValue(requestId, out SequenceState? s) ? s.Draft : null;

    /// <summary>
    /// The latent cache of a live request and how many positions of it are computed (failover's recompute must rebuild
    /// it bit for bit; tests compare).
    /// </summary>
    public (PagedSequenceCache Cache, int Computed)? CacheOf(string requestId) =>
        _byId.TryGetValue(requestId, out SequenceState? s) ? (s.Cache, s.Computed) : null;

    /// <summary>The serializable state of a live request (failover: another engine re-prefills it and continues).</summary>
    public RequestState? Snapshot(string requestId) => _byId.TryGetValue(requestId, out SequenceState? s) ? s.Snapshot() : null;

    /// <summary>Runs one scheduling step and forward pass. Returns false when there was nothing to do.</summary>
    public bool Step()
    {
        while (_incoming.TryDequeue(out SequenceState? s))
        {
            _waiting.Add(s);
        }

        foreach (SequenceState s in _running.Concat(_waiting).Where(s => s.CancelRequested).ToList())
        {
            Finish(s, FinishReason.Abort, null);
        }

        List<Scheduled> plan = Schedule();
        if (plan.Count == 0)
        {
            return HasWork && FailUnschedulable();
        }

        Execute(plan);
        return true;
    }

    /// <summary>Ends every live request with an error (after an unexpected fault), so no stream is left hanging.</summary>
    public void FailAll(string error)
    {
        while (_incoming.TryDequeue(out SequenceState? s))
        {
            _waiting.Add(s);
        }

        foreach (SequenceState s in _running.Concat(_waiting).ToList())
        {
            Finish(s, FinishReason.Error, error);
        }
    }

    private List<Scheduled> Schedule()
    {
        var plan = new List<Scheduled>();
        int budget = _config.MaxNumBatchedTokens;

        // Decodes first, oldest first; a decode that finds no block preempts the newest running request.
        foreach (SequenceState s in _running.OrderBy(s => s.Arrival).ToList())
        {
            if (!_running.Contains(s) || s.Total - s.Computed != 1)
            {
                continue;
            }

            int count = s.Draft is null ? 1 : 2;
            if (count > budget)
            {
                break;
            }

            while (!s.Cache.TryReserve(s.Computed + count))
            {
                SequenceState victim = _running.MaxBy(r => r.Arrival)!;
                Preempt(victim);
                if (victim == s)
                {
                    break;
                }
            }

            if (_running.Contains(s))
            {
                plan.Add(new Scheduled(s, count, Decode: true));
                budget -= count;
            }
        }

        // Then prefills already running, then new requests, chunked to the remaining budget.
        foreach (SequenceState s in _running.Where(s => s.Total - s.Computed > 1).OrderBy(s => s.Arrival).ToList())
        {
            budget -= SchedulePrefill(s, budget, plan);
        }

        while (_waiting.Count > 0 && _running.Count < _config.MaxNumSeqs && budget > 0)
        {
            SequenceState s = _waiting.MinBy(w => w.Arrival)!;
            int used = SchedulePrefill(s, budget, plan);
            if (used == 0)
            {
                break;
            }

            _waiting.Remove(s);
            _running.Add(s);
            budget -= used;
        }

        return plan;
    }

    private int SchedulePrefill(SequenceState s, int budget, List<Scheduled> plan)
    {
        // A recompute (resumed or preempted request) never mixes prompt rows and generated rows in one chunk: the prompt's
        // go through prefill attention as they first did, the generated ones through decode attention (see Execute).
        int count = Math.Min(s.Total - s.Computed, budget);
        if (s.Computed < s.Prompt.Length)
        {
            count = Math.Min(count, s.Prompt.Length - s.Computed);
        }

        if (count <= 0 || !s.Cache.TryReserve(s.Computed + count))
        {
            return 0;
        }

        plan.Add(new Scheduled(s, count, Decode: false));
        return count;
    }

    /// <summary>
    /// Nothing could be scheduled although there is work: free blocks by preempting the newest running request, or,
    /// when a request cannot fit even the whole cache alone, fail it clearly.
    /// </summary>
    private bool FailUnschedulable()
    {
        if (_running.Count > 1)
        {
            Preempt(_running.MaxBy(r => r.Arrival)!);
            return true;
        }

        SequenceState? s = _running.Count == 1 ? _running[0] : _waiting.MinBy(w => w.Arrival);
        if (s is null)
        {
            return false;
        }

        Finish(s, FinishReason.Error, $"the request needs {_cache.BlocksFor(s.Total + 1)} KV blocks, the cache has {_cache.Allocator.Capacity}");
        return true;
    }

    private void Preempt(SequenceState s)
    {
        s.Cache.Free();
        s.Computed = 0;
        s.Draft = null;
        s.Preemptions++;
        _running.Remove(s);
        _waiting.Add(s);
        Stats.Preemptions++;
    }

    private void Execute(List<Scheduled> plan)
    {
        // The step boundary: a new gate bias is applied here or not at all, and the main and MTP passes share one version.
        BeforeStep?.Invoke();
        // Never null (the checkpoint's, version 0, without an online one), so no pass of the step reads the model's again.
        GateBias bias = _model.CurrentGateBias;
        var tokens = new List<int>();
        var slices = new List<SequenceSlice>();
        var logitRows = new List<int>();
        var firstLogit = new int[plan.Count];
        for (int i = 0; i < plan.Count; i++)
        {
            (SequenceState s, int count, bool decode) = plan[i];
            int start = tokens.Count;
            for (int j = 0; j < count; j++)
            {
                tokens.Add(j == 1 && decode ? s.Draft!.Value : s.TokenAt(s.Computed + j));
            }

            // Prompt rows: prefill (naive) attention. Generated rows: decode (absorbed) attention, also when they are
            // recomputed after a preemption or a failover, so the rebuilt latent cache is the lost one bit for bit.
            bool absorbed = decode || s.Computed >= s.Prompt.Length;
            slices.Add(new SequenceSlice(start, count, s.Computed, s.Cache) { Mode = absorbed ? AttentionMode.Absorbed : AttentionMode.Naive });
            firstLogit[i] = logitRows.Count;
            if (decode)
            {
                for (int j = 0; j < count; j++)
                {
                    logitRows.Add(start + j);
                }
            }
            else if (s.Computed + count == s.Total)
            {
                logitRows.Add(start + count - 1);
            }
        }

        var batch = new ForwardBatch { Tokens = [.. tokens], Sequences = slices, GateBias = bias };
        ModelOutput output;
        try
        {
            output = _model.Forward(batch, [.. logitRows]);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            foreach (Scheduled p in plan)
            {
                Finish(p.Seq, FinishReason.Error, $"forward step failed: {e.Message}");
            }

            return;
        }

        Stats.Steps++;
        Stats.BatchedTokens += tokens.Count;
        var mtpRows = new List<(SequenceState Seq, int Row, int Position, int Valid, bool Decode)>();
        for (int i = 0; i < plan.Count; i++)
        {
            (SequenceState s, int count, bool decode) = plan[i];
            int position = s.Computed;
            if (!decode)
            {
                s.Computed += count;
                if (s.Computed == s.Total)
                {
                    Accept(s, output.LogitsOf(firstLogit[i]));
                }

                mtpRows.Add((s, slices[i].Start, position, count, false));
                continue;
            }

            int? draft = s.Draft;
            s.Draft = null;
            s.Computed += 1;
            int valid = 1;
            bool finished = Accept(s, output.LogitsOf(firstLogit[i]));
            if (draft is int d)
            {
                Stats.DraftTokens++;
                if (!finished && s.Output[^1] == d)
                {
                    Stats.AcceptedDraftTokens++;
                    s.Computed += 1;
                    valid = 2;
                    Accept(s, output.LogitsOf(firstLogit[i] + 1));
                }
            }

            mtpRows.Add((s, slices[i].Start, position, valid, true));
        }

        if (_config.SpeculativeMtp)
        {
            Draft(output, mtpRows.Where(r => _running.Contains(r.Seq) && r.Seq.Sampling.IsGreedy).ToList(), bias);
        }
    }

    /// <summary>
    /// Runs the MTP layer over the rows just computed (pairing each position's hidden state with the next token) so its
    /// own cache stays complete, and keeps a draft for every sequence that is now decoding.
    /// </summary>
    private void Draft(ModelOutput main, List<(SequenceState Seq, int Row, int Position, int Valid, bool Decode)> rows, GateBias bias)
    {
        if (rows.Count == 0)
        {
            return;
        }

        int h = main.HiddenSize;
        var tokens = new List<int>();
        var slices = new List<SequenceSlice>();
        var hidden = new List<float>();
        var wanted = new List<int>();
        foreach ((SequenceState s, int row, int position, int valid, bool decode) in rows)
        {
            int start = tokens.Count;
            for (int j = 0; j < valid; j++)
            {
                tokens.Add(s.TokenAt(position + j + 1));
            }

            hidden.AddRange(main.Hidden.AsSpan(row * h, valid * h).ToArray());
            // Decode rows (one token, or two after an accepted draft) attend through the latent cache as the main model's
            // decode does; prefill chunks expand it.
            slices.Add(new SequenceSlice(start, valid, position, s.Cache) { Mode = decode ? AttentionMode.Absorbed : AttentionMode.Naive });
            wanted.Add(start + valid - 1);
        }

        ModelOutput drafts = _model.Mtp!.Forward(new ForwardBatch { Tokens = [.. tokens], Sequences = slices, GateBias = bias }, [.. hidden], [.. wanted]);
        for (int i = 0; i < rows.Count; i++)
        {
            SequenceState s = rows[i].Seq;
            if (s.Total - s.Computed == 1 && s.Total + 1 < _maxModelLen && s.Output.Count + 1 < s.Sampling.MaxTokens)
            {
                s.Draft = Sampler.Argmax(drafts.LogitsOf(i));
            }
        }
    }

    /// <summary>
    /// Samples the next token from a logits row, streams it, and applies the stop rules. True when finished. A row the
    /// sampler refuses (NaN or infinite values) ends this request alone with an error; the rest of the batch goes on.
    /// </summary>
    private bool Accept(SequenceState s, ReadOnlySpan<float> logits)
    {
        SampledToken t;
        try
        {
            t = Sampler.Sample(logits, s.Sampling, s.Seed, s.Output.Count, s.History);
        }
        catch (NonFiniteLogitsException e)
        {
            Finish(s, FinishReason.Error, e.Message);
            return true;
        }

        s.Output.Add(t.Token);
        s.History.Add(t.Token);
        Stats.GeneratedTokens++;

        string piece = s.Text?.Push(t.Token) ?? "";
        string emit = s.Sampling.Stop.Count > 0 ? s.Stops.Push(piece) : piece;
        FinishReason? finish = null;
        if (s.Stops.Stopped || (!s.Sampling.IgnoreEos && t.Token == _eos) || s.Sampling.StopTokenIds.Contains(t.Token))
        {
            finish = FinishReason.Stop;
        }
        else if (s.Output.Count >= s.Sampling.MaxTokens || s.Total >= _maxModelLen)
        {
            finish = FinishReason.Length;
        }

        if (finish is not null && !s.Stops.Stopped)
        {
            emit += s.Stops.Flush() + (s.Text?.Flush() ?? "");
        }

        s.Sink.TryWrite(new GenerationEvent(s.Id, t.Token, emit, t.Logprob, t.TopLogprobs, finish, s.Usage));
        if (finish is not null)
        {
            Release(s);
            return true;
        }

        return false;
    }

    private void Finish(SequenceState s, FinishReason reason, string? error)
    {
        s.Sink.TryWrite(new GenerationEvent(s.Id, -1, "", null, null, reason, s.Usage, error));
        Release(s);
    }

    private void Release(SequenceState s)
    {
        s.Cache.Free();
        s.Sink.TryComplete();
        _running.Remove(s);
        _waiting.Remove(s);
        _byId.TryRemove(s.Id, out _);
        Stats.Finished++;
    }

    private readonly record struct Scheduled(SequenceState Seq, int Count, bool Decode);
}
