using R1Orleans.Interop.Ucx;

namespace R1Orleans.Interop.Ucx.TestPeer;

/// <summary>The few command-line options of the test peer.</summary>
internal static class PeerArguments
{
    public static string? Value(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    /// <summary>Node options with UCX_TLS overridden when --tls is given (else UCX's environment decides).</summary>
    public static UcxNodeOptions NodeOptions(string[] args, string name, TimeSpan? busyPoll = null)
    {
        var overrides = new Dictionary<string, string>();
        if (Value(args, "--tls") is { } tls)
            overrides["TLS"] = tls;
        return new UcxNodeOptions
        {
            Name = name,
            ConfigOverrides = overrides,
            BusyPollDuration = busyPoll ?? TimeSpan.FromMicroseconds(200),
            Diagnostics = message => Console.Error.WriteLine(message),
        };
    }
}
