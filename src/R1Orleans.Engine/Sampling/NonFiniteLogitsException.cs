namespace R1Orleans.Engine.Sampling;

/// <summary>
/// A logits row the sampler cannot turn into a token: it holds a NaN or an infinity (a numerical fault of the model on
/// that sequence, or penalties that overflowed). The engine fails only the request whose row it was.
/// </summary>
public sealed class NonFiniteLogitsException(string message) : ArithmeticException(message);
