using Microsoft.Extensions.Options;

namespace R1Orleans.Gateway;

/// <summary>The gateway's settings, bound from the configuration section "Gateway".</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Largest request body accepted (413 beyond it).</summary>
    public long MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Accepted bearer keys for /v1/*; empty: no authentication.</summary>
    public string[] ApiKeys { get; set; } = [];

    /// <summary>
    /// Requests allowed to wait in the engine's queue beyond its running slots (MaxNumSeqs): a request that would make
    /// waiting + running exceed MaxWaiting + MaxNumSeqs gets 429. Free running slots count, so a burst fills them first.
    /// Large prompts waiting for a tokenizer slot are limited to MaxWaiting too.
    /// </summary>
    public int MaxWaiting { get; set; } = 1024;

    /// <summary>max_tokens when a request gives none (lowered to what the context leaves).</summary>
    public int DefaultMaxTokens { get; set; } = 256;

    /// <summary>
    /// Large prompts tokenized at once (see TokenizerGate); 0, the default, is half the cores (at least 1), leaving the
    /// rest to the engine and to normal requests.
    /// </summary>
    public int TokenizerConcurrency { get; set; }

    /// <summary><see cref="TokenizerConcurrency"/>, or half the cores (at least 1) when it is 0.</summary>
    public int EffectiveTokenizerConcurrency => TokenizerConcurrency > 0 ? TokenizerConcurrency : Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>The Retry-After header of 429 and 503 answers.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>
    /// Where sampling parameters a request leaves out come from: "auto" (the default, as vLLM) takes the checkpoint's
    /// generation_config.json first; "none" uses OpenAI's defaults only (temperature 1, top_p 1).
    /// </summary>
    public string GenerationConfig { get; set; } = "auto";

    /// <summary>True when the checkpoint's generation_config.json supplies sampling defaults.</summary>
    public bool UsesGenerationConfig => string.Equals(GenerationConfig, "auto", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Rejects unusable gateway settings at startup, naming the setting.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.MaxBodyBytes < 1024)
        {
            problems.Add($"Gateway:MaxBodyBytes must be at least 1024, got {options.MaxBodyBytes}");
        }

        if (options.MaxWaiting < 1)
        {
            problems.Add($"Gateway:MaxWaiting must be at least 1, got {options.MaxWaiting}");
        }

        if (options.DefaultMaxTokens < 1)
        {
            problems.Add($"Gateway:DefaultMaxTokens must be at least 1, got {options.DefaultMaxTokens}");
        }

        if (options.TokenizerConcurrency < 0)
        {
            problems.Add($"Gateway:TokenizerConcurrency must not be negative (0: half the cores), got {options.TokenizerConcurrency}");
        }

        if (options.RetryAfterSeconds < 0)
        {
            problems.Add($"Gateway:RetryAfterSeconds must not be negative, got {options.RetryAfterSeconds}");
        }

        if (!string.Equals(options.GenerationConfig, "auto", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(options.GenerationConfig, "none", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"Gateway:GenerationConfig must be auto or none, got '{options.GenerationConfig}'");
        }

        if (options.ApiKeys is null)
        {
            problems.Add("Gateway:ApiKeys must not be null");
        }
        else
        {
            for (int i = 0; i < options.ApiKeys.Length; i++)
            {
                string? key = options.ApiKeys[i];
                if (string.IsNullOrWhiteSpace(key) || key.Any(char.IsWhiteSpace))
                {
                    problems.Add($"Gateway:ApiKeys:{i} must be a non-empty key without whitespace");
                }
            }
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
