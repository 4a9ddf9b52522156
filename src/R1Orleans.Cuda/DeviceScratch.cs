namespace R1Orleans.Cuda;

/// <summary>
/// Grow-only device buffers in numbered slots, for activations copied in and out per call: a slot keeps its largest
/// allocation so that steady decode allocates nothing.
/// </summary>
public sealed class DeviceScratch(CudaContext context) : IDisposable
{
    private readonly Dictionary<int, DeviceBuffer> _slots = [];

    /// <summary>Slot <paramref name="slot"/> holding at least <paramref name="bytes"/> bytes (at least 4).</summary>
    public DeviceBuffer Get(int slot, long bytes)
    {
        bytes = Math.Max(4, bytes);
        if (_slots.TryGetValue(slot, out DeviceBuffer? b) && b.Bytes >= bytes)
        {
            return b;
        }

        b?.Dispose();
        long size = Math.Max(bytes, b is null ? 0 : b.Bytes * 2);
        DeviceBuffer fresh = context.Allocate((size + 255) & ~255L);
        _slots[slot] = fresh;
        return fresh;
    }

    public void Fill32(uint bits)
    {
        foreach (DeviceBuffer b in _slots.Values)
        {
            b.Fill32(bits);
        }
    }

    public long Bytes => _slots.Values.Sum(b => b.Bytes);

    public void Dispose()
    {
        foreach (DeviceBuffer b in _slots.Values)
        {
            b.Dispose();
        }

        _slots.Clear();
    }
}
