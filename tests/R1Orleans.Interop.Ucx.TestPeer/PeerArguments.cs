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

    /// <summary>
    /// Node options: UCX_TLS overridden when --tls is given (else UCX's environment decides); --busy-poll-us and
    /// --idle-spin-us set the progress thread's spinning.
    /// </summary>
    public static UcxNodeOptions NodeOptions(string[] args, string name)
    {
        var overrides = new Dictionary<string, string>();
        if (Value(args, "--tls") is { } tls)
            overrides["TLS"] = tls;
        return new UcxNodeOptions
        {
            Name = name,
            ConfigOverrides = overrides,
            BusyPollDuration = Value(args, "--busy-poll-us") is { } busy
                ? TimeSpan.FromMicroseconds(int.Parse(busy)) : new UcxNodeOptions().BusyPollDuration,
            IdleSpinDuration = Value(args, "--idle-spin-us") is { } idle
                ? TimeSpan.FromMicroseconds(int.Parse(idle)) : TimeSpan.Zero,
            Diagnostics = message => Console.Error.WriteLine(message),
        };
    }
}
