using System.Diagnostics;
using System.Reflection;
using R1Orleans.Interop.Ucx;

namespace R1Orleans.Interop.Ucx.TestPeer;

/// <summary>
/// Request/reply round trips between this process and a served child over UCX, for 4 KB, 64 KB, 512 KB and 4 MB:
/// median and p99 of N round trips after a warm-up, one call at a time. The child echoes (xor) into its reply buffer.
/// By default both sides sleep on the event fd between messages (the production setting: a wake-up per message);
/// with --idle-spin-us 1000000 both busy-poll as ucx_perftest does.
/// </summary>
internal static class RequestReplyBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = int.Parse(PeerArguments.Value(args, "--iterations") ?? "1000");
        var warmup = int.Parse(PeerArguments.Value(args, "--warmup") ?? "100");
        var tls = PeerArguments.Value(args, "--tls");
        var spinning = PeerArguments.Value(args, "--idle-spin-us") is not null;
        var sizes = (PeerArguments.Value(args, "--sizes") ?? "4096,65536,524288,4194304").Split(',').Select(int.Parse);
        var serveArgs = new List<string>();
        foreach (var option in new[] { "--tls", "--busy-poll-us", "--idle-spin-us" })
        {
            // --serve-busy-poll-us / --serve-idle-spin-us set the served child's spinning apart from this side's.
            if ((PeerArguments.Value(args, "--serve-" + option[2..]) ?? PeerArguments.Value(args, option)) is { } value)
                serveArgs.AddRange([option, value]);
        }
        var peerDll = Assembly.GetExecutingAssembly().Location;
        using var child = ChildPeer.Start(peerDll, serveArgs);
        using var node = new UcxNode(PeerArguments.NodeOptions(args, "bench"));
        var peer = node.Connect(child.Address, "echo-child");
        Console.WriteLine($"UCX request/reply, TLS={tls ?? Environment.GetEnvironmentVariable("UCX_TLS") ?? "(UCX default)"}, " +
            $"{(spinning ? "both sides busy-poll" : "progress threads sleep when idle")}, {iterations} round trips after {warmup}, one call at a time");
        Console.WriteLine("| payload | round trip median | p99 | half round trip | GB/s (request+reply bytes / median) |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var size in sizes)
        {
            var request = GC.AllocateUninitializedArray<byte>(size, pinned: true);
            new Random(size).NextBytes(request);
            var times = new double[iterations];
            for (var i = -warmup; i < iterations; i++)
            {
                var start = Stopwatch.GetTimestamp();
                using var reply = await node.CallAsync(peer, request, TimeSpan.FromSeconds(10));
                var elapsed = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                if (reply.Length != size || (reply.Span[size - 1] ^ EchoServer.Mask) != request[size - 1])
                    throw new InvalidOperationException("wrong reply");
                if (i >= 0)
                    times[i] = elapsed;
            }
            Array.Sort(times);
            var median = times[iterations / 2];
            var p99 = times[Math.Min(iterations - 1, (int)(iterations * 0.99))];
            Console.WriteLine($"| {Format(size)} | {median:0.0} µs | {p99:0.0} µs | {median / 2:0.0} µs | " +
                $"{2.0 * size / (median * 1e-6) / 1e9:0.00} |");
        }
        return 0;
    }

    private static string Format(int size) => size >= 1 << 20 ? $"{size >> 20} MB" : $"{size >> 10} KB";
}
