using System.Diagnostics;
using R1Orleans.Interop.Ucx;

namespace R1Orleans.Interop.Ucx.TestPeer;

/// <summary>
/// Process CPU time of an idle node (after a round trip with a served child, so endpoints exist) over a few seconds:
/// the progress thread must sleep on the worker's event fd, not spin.
/// </summary>
internal static class IdleCpu
{
    public static int Run(string[] args)
    {
        var seconds = double.Parse(PeerArguments.Value(args, "--seconds") ?? "2", System.Globalization.CultureInfo.InvariantCulture);
        var tls = PeerArguments.Value(args, "--tls");
        var serveArgs = tls is null ? new List<string>() : ["--tls", tls];
        using var child = ChildPeer.Start(System.Reflection.Assembly.GetExecutingAssembly().Location, serveArgs);
        using var node = new UcxNode(PeerArguments.NodeOptions(args, "idle"));
        var peer = node.Connect(child.Address, "echo-child");
        using (node.CallAsync(peer, new byte[4096], TimeSpan.FromSeconds(10)).GetAwaiter().GetResult())
        {
        }
        Thread.Sleep(500);
        var process = Process.GetCurrentProcess();
        var before = process.TotalProcessorTime;
        var childBefore = child.Process.TotalProcessorTime;
        var start = Stopwatch.GetTimestamp();
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        process.Refresh();
        child.Process.Refresh();
        var wall = Stopwatch.GetElapsedTime(start);
        var used = process.TotalProcessorTime - before;
        var childUsed = child.Process.TotalProcessorTime - childBefore;
        Console.WriteLine($"idle {wall.TotalSeconds:0.00} s, TLS={tls ?? "(default)"}: this process {used.TotalMilliseconds:0.0} ms CPU " +
            $"({100 * used / wall:0.00}% of a core), served child {childUsed.TotalMilliseconds:0.0} ms " +
            $"({100 * childUsed / wall:0.00}%)");
        return 0;
    }
}
