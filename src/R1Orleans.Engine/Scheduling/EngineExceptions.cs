namespace R1Orleans.Engine.Scheduling;

/// <summary>The prompt plus the requested output does not fit the model's context (OpenAI's context_length_exceeded).</summary>
public sealed class ContextLengthExceededException(int promptTokens, int maxTokens, int maxModelLen)
    : ArgumentException($"This model's maximum context length is {maxModelLen} tokens; the prompt has {promptTokens} tokens and max_tokens is {maxTokens}")
{
    public int PromptTokens { get; } = promptTokens;

    public int MaxModelLen { get; } = maxModelLen;
}

/// <summary>The waiting queue is full (the gateway's 429).</summary>
public sealed class EngineOverloadedException(string message) : InvalidOperationException(message);
