using R1Orleans.Interop.Ucx.TestPeer;

return args.FirstOrDefault() switch
{
    "serve" => EchoServer.Run(args[1..]),
    "bench" => await RequestReplyBenchmark.RunAsync(args[1..]),
    "idle" => IdleCpu.Run(args[1..]),
    "null-after-init" => NullAfterInit.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: R1Orleans.Interop.Ucx.TestPeer serve [--tls LIST]
                 prints "ADDRESS <base64 worker address>", serves echo requests (each byte xor 0xA5) until stdin closes
               R1Orleans.Interop.Ucx.TestPeer bench [--tls LIST] [--iterations N] [--warmup N] [--sizes B,B,..]
                 [--idle-spin-us US] [--busy-poll-us US]
                 request/reply round trip between this process and a served child: 4 KB, 64 KB, 512 KB, 4 MB
               R1Orleans.Interop.Ucx.TestPeer idle [--seconds S]
                 process CPU time of an idle node (progress thread asleep on the worker's event fd)
               R1Orleans.Interop.Ucx.TestPeer null-after-init [--tls LIST]
                 a managed null dereference after UCX is up must stay a NullReferenceException (exit 0)
        """);
    return 2;
}
