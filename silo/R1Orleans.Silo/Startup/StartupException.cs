namespace R1Orleans.Silo.Startup;

/// <summary>The silo cannot start for a reason outside its settings (a service it needs is down); the message says which. Exit code 1.</summary>
public sealed class StartupException : Exception
{
    public StartupException()
    {
    }

    public StartupException(string message)
        : base(message)
    {
    }

    public StartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
