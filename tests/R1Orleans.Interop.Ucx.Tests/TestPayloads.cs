namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>Seeded payloads and the xor-0xA5 echo the test handlers and the TestPeer reply with.</summary>
internal static class TestPayloads
{
    public const byte Mask = 0xA5;

    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The test handler: replies with each request byte xor <see cref="Mask"/>, written in place.</summary>
    public static void Echo(ReadOnlySpan<byte> request, ReplyWriter reply)
    {
        var output = reply.GetSpan(request.Length);
        for (var i = 0; i < request.Length; i++)
            output[i] = (byte)(request[i] ^ Mask);
        reply.Send();
    }

    /// <summary>Asserts the reply is the request xor <see cref="Mask"/>, bit for bit.</summary>
    public static void AssertEcho(ReadOnlySpan<byte> request, ReplyLease reply)
    {
        Assert.Equal(request.Length, reply.Length);
        var expected = new byte[request.Length];
        for (var i = 0; i < request.Length; i++)
            expected[i] = (byte)(request[i] ^ Mask);
        Assert.True(expected.AsSpan().SequenceEqual(reply.Span), "reply bytes differ from the request xor 0xA5");
    }
}
