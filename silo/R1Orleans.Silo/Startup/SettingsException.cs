namespace R1Orleans.Silo.Startup;

/// <summary>A setting the silo cannot start with (a bad switch, value or port); the message names it and how to fix it. Exit code 2.</summary>
public sealed class SettingsException : Exception
{
    public SettingsException(string message)
        : base(message)
    {
    }

    public SettingsException(IReadOnlyList<string> problems)
        : base(string.Join(Environment.NewLine, problems ?? throw new ArgumentNullException(nameof(problems))))
    {
        _problems = problems;
    }

    public SettingsException()
    {
    }

    public SettingsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Each problem on its own line (one when the exception was made from a single message).</summary>
    public IReadOnlyList<string> Problems => _problems ?? [Message];

    private readonly IReadOnlyList<string>? _problems;
}
