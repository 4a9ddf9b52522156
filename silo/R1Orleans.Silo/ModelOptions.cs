using System.Globalization;
using Microsoft.Extensions.Options;
using R1Orleans.Cuda;
using R1Orleans.Engine.Balancing;

namespace R1Orleans.Silo;

/// <summary>What the silo serves and how big its engine is (configuration section "Model").</summary>
public sealed class ModelOptions
{
    public const string Section = "Model";

    /// <summary><see cref="Path"/>'s value that serves the random-weight generator's model (tests, large synthetic configurations).</summary>
    public const string RandomBuiltIn = "builtin-random";

    /// <summary>The id of the model the silo serves by default: the trained checkpoint shipped in the repository.</summary>
    public const string ShippedModelName = "r1orleans-tiny";

    /// <summary>What the shipped model is (in /v1/models and the start-up banner).</summary>
    public const string ShippedModelDescription =
        "r1orleans-tiny: a tiny (8.3M-parameter) DeepSeek-V3-architecture model (MLA, noaux_tc MoE, MTP, FP8) trained in this repository (training/) for arithmetic and step-by-step reasoning demos; see docs/MODEL.md";

    /// <summary>
    /// A Hugging Face checkpoint directory (config.json, safetensors, tokenizer.json, tokenizer_config.json); empty serves
    /// the shipped trained model (<see cref="ShippedModelDirectory"/>); <see cref="RandomBuiltIn"/> serves the built-in
    /// random-weight model.
    /// </summary>
    public string? Path { get; set; }

    /// <summary>The model id clients use; default: the built-in model's name, or the checkpoint directory's name.</summary>
    public string? Name { get; set; }

    /// <summary>Where the built-in model is generated and cached; default <c>R1ORLEANS_CACHE_DIR</c>, <c>$XDG_CACHE_HOME/r1orleans</c> or <c>~/.cache/r1orleans</c>.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>Positions the latent KV cache holds across all sequences.</summary>
    public int KvCacheTokens { get; set; } = 65_536;

    /// <summary>Sequences running at once.</summary>
    public int MaxNumSeqs { get; set; } = 64;

    /// <summary>Tokens one engine step may process (decode tokens plus prefill chunks).</summary>
    public int MaxNumBatchedTokens { get; set; } = 256;

    /// <summary>Draft a token per step with the MTP layer and verify it in the next (greedy requests; lossless).</summary>
    public bool SpeculativeMtp { get; set; }

    /// <summary>CPU threads for the math; empty uses every core.</summary>
    public int? Threads { get; set; }

    /// <summary>Where the math runs: <c>cpu</c> (default) or <c>cuda:N</c> (see <see cref="ComputeDevice"/>).</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>
    /// False routes without the checkpoint's e_score_correction_bias (an ablation that shows what auxiliary-loss-free
    /// balancing bought: compare the expert load in /metrics). Default true, as the model was trained.
    /// </summary>
    public bool GateBias { get; set; } = true;

    /// <summary>
    /// Online gate-bias balancing (off by default): every <see cref="BiasWindowSteps"/> engine steps each MoE layer's
    /// e_score_correction_bias moves against the measured expert load, b ← b − γ·sign(load − mean), within
    /// <see cref="BiasMaxDrift"/> of the checkpoint's. It changes the model's outputs (docs/BENCHMARKS.md measures by how much).
    /// </summary>
    public bool OnlineBias { get; set; }

    /// <summary>The bias update speed γ per window (DeepSeek-V3's 0.001).</summary>
    public double BiasGamma { get; set; } = R1Orleans.Model.GateBiasBalancer.DefaultGamma;

    /// <summary>The most any expert's bias may move from the checkpoint's (see <see cref="OnlineGateBiasOptions.DefaultMaxDrift"/>).</summary>
    public double BiasMaxDrift { get; set; } = OnlineGateBiasOptions.DefaultMaxDrift;

    /// <summary>Engine steps per load window: the bias is updated after each.</summary>
    public int BiasWindowSteps { get; set; } = OnlineGateBiasOptions.DefaultWindowSteps;

    /// <summary>The online-bias settings for the engine, or null when <see cref="OnlineBias"/> is off.</summary>
    public OnlineGateBiasOptions? OnlineGateBias =>
        OnlineBias ? new OnlineGateBiasOptions { Gamma = BiasGamma, MaxDrift = BiasMaxDrift, WindowSteps = BiasWindowSteps } : null;

    /// <summary>Serve a checkpoint whose weights hold NaN or ±Inf (by default the load fails, naming the tensor and the element).</summary>
    public bool AllowNonfiniteWeights { get; set; }

    /// <summary>True when <see cref="Path"/> is <see cref="RandomBuiltIn"/>: the built-in random-weight model is generated and served.</summary>
    public bool IsBuiltIn => string.Equals(Path?.Trim(), RandomBuiltIn, StringComparison.OrdinalIgnoreCase);

    /// <summary>True when no checkpoint is given: the shipped trained model is served.</summary>
    public bool IsShipped => string.IsNullOrWhiteSpace(Path);

    /// <summary>The shipped trained model's directory, copied beside the silo's binaries (models/r1orleans-tiny).</summary>
    public static string ShippedModelDirectory => System.IO.Path.Combine(AppContext.BaseDirectory, "models", ShippedModelName);

    /// <summary>The checkpoint directory to serve (null for the random built-in model, which is generated at load).</summary>
    public string? CheckpointDirectory => IsBuiltIn ? null : IsShipped ? ShippedModelDirectory : System.IO.Path.GetFullPath(Path!);
}

/// <summary>Checks <see cref="ModelOptions"/> at start-up; every message names the setting and how to change it.</summary>
public sealed class ModelOptionsValidator : IValidateOptions<ModelOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.CheckpointDirectory is { } checkpoint)
        {
            errors.AddRange(CheckpointProblems(checkpoint));
        }

        if (options.Name is not null && string.IsNullOrWhiteSpace(options.Name))
        {
            errors.Add("Model:Name (--served-model-name) must not be blank");
        }

        Range(errors, "Model:KvCacheTokens (--kv-cache-tokens)", options.KvCacheTokens, 16, 1 << 30);
        Range(errors, "Model:MaxNumSeqs (--max-num-seqs)", options.MaxNumSeqs, 1, 65_536);
        Range(errors, "Model:MaxNumBatchedTokens (--max-num-batched-tokens)", options.MaxNumBatchedTokens, 1, 1 << 20);
        if (!ComputeDevice.TryParse(options.Device, out _))
        {
            errors.Add($"Model:Device (--device) is '{options.Device}'; it must be {ComputeDevice.Forms}");
        }

        if (!(options.BiasGamma > 0 && options.BiasGamma <= 1))
        {
            errors.Add($"Model:BiasGamma (--bias-gamma) is {options.BiasGamma.ToString(CultureInfo.InvariantCulture)}; it must be above 0 and at most 1 (DeepSeek-V3 used 0.001)");
        }

        if (!(options.BiasMaxDrift > 0 && options.BiasMaxDrift <= 10))
        {
            errors.Add($"Model:BiasMaxDrift (--bias-max-drift) is {options.BiasMaxDrift.ToString(CultureInfo.InvariantCulture)}; it must be above 0 and at most 10");
        }

        Range(errors, "Model:BiasWindowSteps (--bias-window-steps)", options.BiasWindowSteps, 1, 1_000_000);
        if (options.OnlineBias && !options.GateBias)
        {
            errors.Add("Model:OnlineBias (--online-bias) adjusts e_score_correction_bias: it cannot run with Model:GateBias (--gate-bias) false");
        }

        if (options.Threads is int threads)
        {
            Range(errors, "Model:Threads (--threads)", threads, 1, 4096);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>What is wrong with a checkpoint directory, judged from its file names only (the reader checks the contents).</summary>
    public static IEnumerable<string> CheckpointProblems(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            yield return File.Exists(full)
                ? $"Model:Path (--model) '{path}' is a file; expected a checkpoint directory"
                : $"Model:Path (--model) '{path}' does not exist; expected a checkpoint directory (config.json, *.safetensors, tokenizer.json, tokenizer_config.json)";
            yield break;
        }

        foreach (string required in new[] { "config.json", "tokenizer.json" })
        {
            if (!File.Exists(System.IO.Path.Combine(full, required)))
            {
                yield return $"Model:Path (--model) '{path}' has no {required}";
            }
        }

        if (!File.Exists(System.IO.Path.Combine(full, "model.safetensors")) && !File.Exists(System.IO.Path.Combine(full, "model.safetensors.index.json")))
        {
            yield return $"Model:Path (--model) '{path}' has neither model.safetensors nor model.safetensors.index.json";
        }
    }

    private static void Range(List<string> errors, string setting, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{setting} is {value}; it must be between {min} and {max}");
        }
    }
}
