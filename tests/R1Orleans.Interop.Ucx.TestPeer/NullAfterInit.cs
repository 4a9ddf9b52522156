using R1Orleans.Interop.Ucx;

namespace R1Orleans.Interop.Ucx.TestPeer;

/// <summary>
/// A managed null dereference after UCX has been loaded and a node started: the .NET runtime turns the fault into a
/// NullReferenceException, unless a native library's signal handler took SIGSEGV first and ended the process. Prints
/// "caught NullReferenceException" and exits 0 when the runtime kept it.
/// </summary>
internal static class NullAfterInit
{
    public static int Run(string[] args)
    {
        using var node = new UcxNode(PeerArguments.NodeOptions(args, "null-after-init"));
        Console.WriteLine($"node {node.Name} started");
        try
        {
            Poke(null);
        }
        catch (NullReferenceException)
        {
            Console.WriteLine("caught NullReferenceException");
            return 0;
        }

        return 1;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static int Poke(int[]? values) => values!.Length;
}
