namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>The UCX transport selections the tests run over, as config overrides (loopback only).</summary>
internal static class TestTransports
{
    /// <summary>Shared memory: posix for eager messages, cma (process_vm_readv) for rendezvous, self for loopback.</summary>
    public static readonly IReadOnlyDictionary<string, string> SharedMemory =
        new Dictionary<string, string> { ["TLS"] = "posix,cma,self" };

    /// <summary>TCP over the loopback device.</summary>
    public static readonly IReadOnlyDictionary<string, string> Tcp =
        new Dictionary<string, string> { ["TLS"] = "tcp,self", ["NET_DEVICES"] = "lo" };

    public static IReadOnlyDictionary<string, string> ByName(string name) => name switch
    {
        "shm" => SharedMemory,
        "tcp" => Tcp,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>The same selection as TestPeer arguments (it reads --tls; NET_DEVICES goes through the environment).</summary>
    public static (string[] Args, Dictionary<string, string> Environment) ForChild(string name) => name switch
    {
        "shm" => (["--tls", "posix,cma,self"], []),
        "tcp" => (["--tls", "tcp,self"], new() { ["UCX_NET_DEVICES"] = "lo" }),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    public static UcxNode Node(string transport, string name, Action<string>? diagnostics = null) => new(new UcxNodeOptions
    {
        Name = name,
        ConfigOverrides = ByName(transport),
        Diagnostics = diagnostics,
    });
}
