using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>
/// The launches queued on a stream by one piece of work, captured once and replayed with a single launch (a decode
/// step's kernels without their launch gaps). Kernel parameters are fixed at capture: replays read the buffers' current
/// contents.
/// </summary>
public sealed class CudaGraph : IDisposable
{
    private readonly GraphExecHandle _exec;

    private CudaGraph(GraphExecHandle exec) => _exec = exec;

    /// <summary>Captures what <paramref name="work"/> queues on <paramref name="stream"/> (it must only queue: no synchronous copies).</summary>
    public static CudaGraph Capture(CudaStream stream, Action work)
    {
        CuDriver.Check(CuDriver.cuStreamBeginCapture_v2(stream.Handle, CuDriver.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
        nint graph;
        try
        {
            work();
        }
        catch
        {
            if (CuDriver.cuStreamEndCapture(stream.Handle, out nint broken) == 0 && broken != 0)
            {
                CuDriver.cuGraphDestroy(broken);
            }

            throw;
        }

        CuDriver.Check(CuDriver.cuStreamEndCapture(stream.Handle, out graph), "cuStreamEndCapture");
        try
        {
            CuDriver.Check(CuDriver.cuGraphInstantiateWithFlags(out nint exec, graph, 0), "cuGraphInstantiateWithFlags");
            return new CudaGraph(new GraphExecHandle(exec));
        }
        finally
        {
            CuDriver.cuGraphDestroy(graph);
        }
    }

    /// <summary>Queues one replay on <paramref name="stream"/>.</summary>
    public void Launch(CudaStream stream) =>
        CuDriver.Check(CuDriver.cuGraphLaunch(_exec.DangerousGetHandle(), stream.Handle), "cuGraphLaunch");

    public void Dispose() => _exec.Dispose();
}
