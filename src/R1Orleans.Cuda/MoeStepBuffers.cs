namespace R1Orleans.Cuda;

/// <summary>
/// Where one MoE step reads and writes (device addresses): x [tokens, hidden] float32, the routing [tokens, topK] (ids,
/// weights), and the output [tokens, hidden] float32. The device forward passes its own activations, so the step needs
/// no copies in or out; by default a layer uses its scratch's <c>X</c>, <c>TopkIds</c>, <c>TopkWeights</c> and <c>Output</c>.
/// </summary>
public readonly record struct MoeStepBuffers(ulong X, ulong TopkIds, ulong TopkWeights, ulong Output);
