using System.Runtime.CompilerServices;
using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Engine.Balancing;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Model;
using R1Orleans.Text.Chat;
using R1Orleans.Text.Reasoning;
using R1Orleans.Text.Tokenization;
using R1Orleans.Transport;

namespace R1Orleans.Engine.Api;

/// <summary>Sizes of an engine: scheduler limits and the KV cache.</summary>
public sealed record InferenceEngineOptions
{
    public SchedulerConfig Scheduler { get; init; } = new();

    /// <summary>Positions the latent cache holds across all sequences.</summary>
    public int KvCacheTokens { get; init; } = 65_536;

    public int KvBlockSize { get; init; } = 16;

    public int? Threads { get; init; }

    /// <summary>The backend the model's math runs on; null: a <see cref="CpuBackend"/> with <see cref="Threads"/> threads.</summary>
    public IComputeBackend? Backend { get; init; }

    /// <summary>Runs every step through an accelerator built from the loaded model (the device-resident forward); see <see cref="ModelLoadOptions.Accelerator"/>.</summary>
    public ModelAcceleratorFactory? Accelerator { get; init; }

    /// <summary>False routes every MoE layer without e_score_correction_bias (ablation; see NoauxTcGate.UseCorrectionBias).</summary>
    public bool UseCorrectionBias { get; init; } = true;

    /// <summary>
    /// Online gate-bias balancing (off when null): the bias moves against the measured expert load every window, within
    /// a maximum drift from the checkpoint's. It changes the model's outputs; it needs <see cref="UseCorrectionBias"/>.
    /// </summary>
    public OnlineGateBiasOptions? OnlineGateBias { get; init; }

    /// <summary>
    /// Load a checkpoint whose weights hold NaN or ±Inf (by default the load fails naming the tensor and the first bad
    /// element; see <see cref="CheckpointReadOptions.AllowNonfiniteWeights"/>).
    /// </summary>
    public bool AllowNonfiniteWeights { get; init; }

    /// <summary>How the model reaches its routed experts: null holds them all here; a cluster rank gives its cross-silo exchange.</summary>
    public ExpertExchangeFactory? Exchange { get; init; }
}

/// <summary>
/// The embeddable single-process engine: a checkpoint directory (config.json, safetensors, tokenizer.json,
/// tokenizer_config.json) in, async token streams out. Submit text, chat messages or tokens with sampling
/// parameters; cancel through the CancellationToken.
/// </summary>
public sealed class InferenceEngine : IAsyncDisposable
{
    private readonly LoadedModel _model;
    private readonly EngineLoop _loop;
    private long _ids;

    private InferenceEngine(string directory, LoadedModel model, R1Tokenizer tokenizer, ChatTemplate? template, EngineLoop loop)
    {
        Directory = directory;
        _model = model;
        Tokenizer = tokenizer;
        Template = template;
        _loop = loop;
    }

    public string Directory { get; }

    public ModelConfig Config => _model.Config;

    public R1Tokenizer Tokenizer { get; }

    public ChatTemplate? Template { get; }

    public EngineCore Core => _loop.Core;

    public EngineStats Stats => _loop.Core.Stats;

    /// <summary>The checkpoint's recommended sampling (generation_config.json); <see cref="SamplingDefaults.None"/> without one.</summary>
    public SamplingDefaults SamplingDefaults { get; private init; } = SamplingDefaults.None;

    /// <summary>Tokens routed to each (layer, routed expert) since load, MTP drafts included.</summary>
    public ExpertLoadCounter ExpertLoad => _model.ExpertLoad;

    /// <summary>Online gate-bias balancing on this engine, or null when it is off.</summary>
    public OnlineGateBias? OnlineBias { get; private init; }

    /// <summary>Every MoE layer's e_score_correction_bias as the checkpoint has it (version 0).</summary>
    public GateBias CheckpointGateBias => _model.Model.CheckpointGateBias;

    /// <summary>The gate bias the next step routes with (the checkpoint's, version 0, until an online one is applied).</summary>
    public GateBias CurrentGateBias => _model.Model.CurrentGateBias;

    /// <summary>
    /// Applies an online gate bias from any thread (the cluster's load balancer pushes one to every silo): the next step
    /// routes with it. False when a bias of the same or a newer version is already in use (nothing changes).
    /// </summary>
    public bool ApplyGateBias(GateBias bias) => _model.Model.ApplyGateBias(bias);

    /// <summary>True when the MTP layer was loaded (the config has one and the checkpoint carries its weights).</summary>
    public bool HasMtpLayer => _model.Model.Mtp is not null;

    /// <summary>The MoE layers (the MTP layer's included, when loaded), in order.</summary>
    public IReadOnlyList<int> MoeLayers { get; private init; } = [];

    public PagedLatentCache Cache { get; private init; } = null!;

    /// <summary>Why chat requests cannot be served, when the checkpoint has no usable chat template.</summary>
    public string? TemplateProblem { get; private init; }

    public static InferenceEngine Load(string directory, InferenceEngineOptions? options = null, Action<string>? progress = null)
    {
        options ??= new InferenceEngineOptions();
        // Every side file the load may open must be a regular file (a FIFO would block the load, a device never end):
        // checked before any is opened. The checkpoint reader checks config.json and the weight files the same way.
        string tokenizerPath = Path.Combine(directory, "tokenizer.json");
        if (!RegularFile.Exists(tokenizerPath))
        {
            throw new FileNotFoundException($"{directory} has no tokenizer.json", tokenizerPath);
        }

        string configPath = Path.Combine(directory, "tokenizer_config.json");
        bool hasTokenizerConfig = RegularFile.Exists(configPath);
        _ = RegularFile.Exists(Path.Combine(directory, "chat_template.jinja"));
        _ = RegularFile.Exists(Path.Combine(directory, SamplingDefaults.FileName));

        progress?.Invoke("tokenizer");
        R1Tokenizer tokenizer = R1Tokenizer.Load(tokenizerPath);
        string? templateProblem = "there is no tokenizer_config.json";
        ChatTemplate? template = hasTokenizerConfig ? TryTemplate(configPath, out templateProblem) : null;
        SamplingDefaults defaults = SamplingDefaults.Load(directory);
        var loadOptions = new ModelLoadOptions
        {
            WithMtp = true,
            RequireMtp = options.Scheduler.SpeculativeMtp,
            AllowNonfiniteWeights = options.AllowNonfiniteWeights,
            Exchange = options.Exchange,
            Accelerator = options.Accelerator,
        };
        LoadedModel model = LoadedModel.Load(directory, options.Backend ?? new CpuBackend(options.Threads), loadOptions, progress);
        try
        {
            model.Model.UseCorrectionBias(options.UseCorrectionBias);
            if (options.OnlineGateBias is not null && !options.UseCorrectionBias)
            {
                throw new ArgumentException("online gate-bias balancing adjusts e_score_correction_bias: it cannot run with the bias switched off (UseCorrectionBias false)");
            }

            OnlineGateBias? online = options.OnlineGateBias is { } bias ? new OnlineGateBias(model.Model, model.ExpertLoad, bias) : null;
            if (tokenizer.VocabSize > model.Config.VocabSize)
            {
                throw new ConfigException("vocab_size", $"{model.Config.VocabSize} is smaller than the tokenizer's {tokenizer.VocabSize} tokens");
            }

            PagedLatentCache cache = model.NewCache(options.KvCacheTokens, options.KvBlockSize);
            var core = new EngineCore(model.Model, cache, options.Scheduler, new TokenizerTextStreams(tokenizer), tokenizer.EosId ?? model.Config.EosTokenId)
            {
                BeforeStep = online is null ? null : online.OnStepBoundary,
            };
            return new InferenceEngine(directory, model, tokenizer, template, new EngineLoop(core))
            {
                Cache = cache,
                TemplateProblem = templateProblem,
                MoeLayers = [.. model.Model.Gates.Select(g => g.Layer)],
                SamplingDefaults = defaults,
                OnlineBias = online,
            };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Encodes a prompt: chat messages through the template (the template writes the BOS), text with the BOS.</summary>
    public EncodedPrompt Encode(PromptInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Tokens is int[] t)
        {
            return new EncodedPrompt(t, false, false);
        }

        if (input.Text is string text)
        {
            return new EncodedPrompt([.. Tokenizer.Encode(text, addSpecialTokens: true)], false, false);
        }

        if (Template is null)
        {
            throw new InvalidOperationException($"{Directory} cannot serve chat: {TemplateProblem}");
        }

        string rendered = Template.Render(input.Messages!, addGenerationPrompt: true, input.Tools);

        // The template writes the BOS itself; encode without the post-processor's.
        return new EncodedPrompt([.. Tokenizer.Encode(rendered, addSpecialTokens: false)], ReasoningSplitter.PromptOpensThink(rendered), true);
    }

    /// <summary>Streams a request's events; invalid input throws before anything runs.</summary>
    public IAsyncEnumerable<TextEvent> GenerateAsync(PromptInput input, SamplingParams sampling, CancellationToken cancellation = default) =>
        GenerateAsync(Encode(input), sampling, cancellation);

    /// <summary>Streams the events of an already encoded prompt (the gateway encodes once to validate, then submits).</summary>
    public async IAsyncEnumerable<TextEvent> GenerateAsync(EncodedPrompt prompt, SamplingParams sampling, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        bool split = prompt.SplitsReasoning;
        var splitter = new ReasoningSplitter(prompt.OpensThink);
        string id = $"req-{Interlocked.Increment(ref _ids)}";
        await foreach (GenerationEvent e in _loop.Generate(new GenerationRequest(id, prompt.Tokens, sampling), cancellation).ConfigureAwait(false))
        {
            ReasoningDelta d = split ? splitter.Push(e.Text) : new ReasoningDelta("", e.Text);
            if (e.Finish is not null && split)
            {
                ReasoningDelta tail = splitter.Flush();
                d = new ReasoningDelta(d.Reasoning + tail.Reasoning, d.Content + tail.Content);
            }

            yield return new TextEvent(e.Token, e.Text, d.Reasoning, d.Content, e.Logprob, e.TopLogprobs, e.Finish, e.Usage, e.Error);
        }
    }

    /// <summary>
    /// Continues a request another rank was running (failover): <paramref name="state"/> holds its prompt, the tokens it
    /// made so far and its seed; they are recomputed here (the latent cache rebuilt bit for bit) and sampling resumes at
    /// the same RNG position, so the new events continue the stream exactly. Reasoning is split as if from the start.
    /// </summary>
    public async IAsyncEnumerable<TextEvent> ResumeAsync(EncodedPrompt prompt, RequestState state, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(state);
        bool split = prompt.SplitsReasoning;
        var splitter = new ReasoningSplitter(prompt.OpensThink);
        if (split && state.OutputTokens.Length > 0)
        {
            _ = splitter.Push(Tokenizer.Decode(state.OutputTokens, state.Sampling.SkipSpecialTokens));
        }

        string id = $"req-{Interlocked.Increment(ref _ids)}";
        await foreach (GenerationEvent e in _loop.Resume(state with { Id = id }, cancellation).ConfigureAwait(false))
        {
            ReasoningDelta d = split ? splitter.Push(e.Text) : new ReasoningDelta("", e.Text);
            if (e.Finish is not null && split)
            {
                ReasoningDelta tail = splitter.Flush();
                d = new ReasoningDelta(d.Reasoning + tail.Reasoning, d.Content + tail.Content);
            }

            yield return new TextEvent(e.Token, e.Text, d.Reasoning, d.Content, e.Logprob, e.TopLogprobs, e.Finish, e.Usage, e.Error);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _loop.DisposeAsync().ConfigureAwait(false);
        _model.Dispose();
    }

    /// <summary>A missing or broken chat template leaves completions working; chat requests then fail with its reason.</summary>
    private static ChatTemplate? TryTemplate(string configPath, out string? problem)
    {
        try
        {
            problem = null;
            return ChatTemplate.FromTokenizerConfig(configPath);
        }
        catch (TemplateException e)
        {
            problem = e.Message;
            return null;
        }
    }
}
