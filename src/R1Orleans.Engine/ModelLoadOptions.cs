using R1Orleans.Model;

namespace R1Orleans.Engine;

/// <summary>What <see cref="LoadedModel.Load(string, R1Orleans.Backend.IComputeBackend, ModelLoadOptions, Action{string}?)"/> loads and how strictly.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>Load the MTP layer when the config has one and the checkpoint carries its weights.</summary>
    public bool WithMtp { get; init; } = true;

    /// <summary>
    /// Fail unless the MTP layer loads (speculative MTP decoding needs it): a config without one is a
    /// <see cref="R1Orleans.Checkpoint.ConfigException"/>, a checkpoint without its weights a
    /// <see cref="R1Orleans.Checkpoint.CheckpointFormatException"/> naming a missing tensor. Checked before any weight is read.
    /// </summary>
    public bool RequireMtp { get; init; }

    /// <summary>Accept NaN and ±Inf in weights (see <see cref="R1Orleans.Checkpoint.CheckpointReadOptions.AllowNonfiniteWeights"/>).</summary>
    public bool AllowNonfiniteWeights { get; init; }

    /// <summary>
    /// Keep a checkpoint's FP8 e4m3 linear weights as codes + block scales (a quarter of float32's bytes; outputs are
    /// bit-identical on the CPU). False dequantizes them to float32 at load, as before (for A/B measurements).
    /// </summary>
    public bool KeepFp8Weights { get; init; } = true;

    /// <summary>
    /// How the model reaches its routed experts: null loads all of them here behind the in-process exchange; a cluster
    /// rank gives its cross-silo exchange (its holders load their own experts).
    /// </summary>
    public ExpertExchangeFactory? Exchange { get; init; }

    /// <summary>
    /// Runs the model's steps through an accelerator built from the loaded model (the device-resident forward on a GPU)
    /// when every routed expert is loaded here (no <see cref="Exchange"/>); null, or a cluster rank: op by op.
    /// </summary>
    public ModelAcceleratorFactory? Accelerator { get; init; }
}
