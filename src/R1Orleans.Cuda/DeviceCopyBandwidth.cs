namespace R1Orleans.Cuda;

/// <summary>
/// The device's memory bandwidth as its copy engine reaches it: cuMemcpyDtoD of 1 GiB, bytes read + written over the
/// time between two events, median of several copies after a warm-up (r1-gpucheck's "copy: cuMemcpyDtoD" figure, the
/// bandwidth its floors divide by). Bytes per second.
/// </summary>
public static class DeviceCopyBandwidth
{
    public static double Measure(CudaContext context, int repeats = 10)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        const long Bytes = 1L << 30;
        context.MakeCurrent();
        using DeviceBuffer a = context.Allocate(Bytes);
        using DeviceBuffer b = context.Allocate(Bytes);
        using CudaStream stream = context.CreateStream();
        using CudaEvent start = context.CreateEvent();
        using CudaEvent end = context.CreateEvent();
        double Copy()
        {
            start.Record(stream);
            b.CopyFromAsync(a, Bytes, stream);
            end.Record(stream);
            end.Synchronize();
            return end.ElapsedSince(start);
        }

        for (int i = 0; i < 3; i++)
        {
            Copy();
        }

        double[] ms = [.. Enumerable.Range(0, repeats).Select(_ => Copy()).Order()];
        return 2.0 * Bytes / (ms[ms.Length / 2] / 1e3);
    }
}
