namespace R1Orleans.Model;

/// <summary>
/// Runs a <see cref="DeepseekV3Model"/>'s whole forward somewhere that keeps its own copy of the weights and of the main
/// layers' latent cache (the device-resident forward on a GPU). Once installed it runs every step of the model: the
/// cache it keeps is the only one written for those layers. It writes each sequence's latents at the slots of the
/// sequence's own block table, reports every MoE layer's routing to the batch's observer, and returns what
/// <see cref="DeepseekV3Model.Forward"/> returns — except that <see cref="ModelOutput.Hidden"/> may be empty when the
/// model has no MTP layer, the only reader of the final hidden states.
/// </summary>
public interface IModelAccelerator
{
    /// <summary>One step. <paramref name="bias"/>: the step's online gate bias, or null for the checkpoint's.</summary>
    ModelOutput Forward(ForwardBatch batch, int[] logitRows, GateBias? bias);
}

/// <summary>
/// Builds an accelerator for a loaded model whose routed experts are all in <paramref name="experts"/>;
/// <paramref name="routed"/> receives every MoE layer's routing of every step (expert load statistics).
/// </summary>
public delegate IModelAccelerator ModelAcceleratorFactory(DeepseekV3Model model, ExpertShard experts, Action<int, ExpertRouting>? routed);
