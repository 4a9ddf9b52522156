using System.Numerics;
using R1Orleans.Interop.Ucx;

namespace R1Orleans.Interop.Ucx.TestPeer;

/// <summary>
/// The peer process of the tests and the benchmark: replies to each request with its bytes xor 0xA5, written in place
/// into the reply buffer. Prints its worker address as one line "ADDRESS base64" and runs until stdin closes.
/// </summary>
internal static class EchoServer
{
    public const byte Mask = 0xA5;

    public static int Run(string[] args)
    {
        using var node = new UcxNode(PeerArguments.NodeOptions(args, "test-peer"));
        node.SetRequestHandler(Echo);
        Console.Out.WriteLine($"ADDRESS {Convert.ToBase64String(node.WorkerAddress.Span)}");
        Console.Out.Flush();
        while (Console.In.ReadLine() is not null)
        {
        }
        return 0;
    }

    /// <summary>The reply: each request byte xor <see cref="Mask"/>.</summary>
    public static void Echo(ReadOnlySpan<byte> request, ReplyWriter reply)
    {
        var output = reply.GetSpan(request.Length);
        Xor(request, output);
        reply.Send();
    }

    /// <summary>output[i] = input[i] ^ <see cref="Mask"/>, vectorized.</summary>
    public static void Xor(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var mask = new Vector<byte>(Mask);
            for (; i + Vector<byte>.Count <= input.Length; i += Vector<byte>.Count)
                (new Vector<byte>(input[i..]) ^ mask).CopyTo(output[i..]);
        }
        for (; i < input.Length; i++)
            output[i] = (byte)(input[i] ^ Mask);
    }
}
