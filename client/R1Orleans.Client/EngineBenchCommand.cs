using System.CommandLine;

namespace R1Orleans.Client;

/// <summary>Placeholder removed below.</summary>
public static class EngineBenchCommand
{
    public static Command Create() => new("bench-engine", "CPU engine prefill/decode benchmark");
}
