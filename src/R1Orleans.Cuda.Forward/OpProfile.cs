namespace R1Orleans.Cuda.Forward;

/// <summary>
/// Per-op GPU times of eager steps: an event recorded after each named op (<see cref="DeviceForward.Profile"/>), the
/// time between consecutive events charged to the op that ended, summed by name over the step. Events between kernels
/// cost a little; graph replays are timed without it.
/// </summary>
public sealed class OpProfile(CudaContext context) : IDisposable
{
    private readonly List<CudaEvent> _events = [];
    private readonly List<string> _names = [];
    private int _used;

    public void Begin(CudaStream stream)
    {
        _used = 0;
        _names.Clear();
        Record(stream);
    }

    public void Mark(string op, CudaStream stream)
    {
        if (_used == 0)
        {
            return;
        }

        _names.Add(op);
        Record(stream);
    }

    /// <summary>Waits for the step and returns milliseconds by op name.</summary>
    public Dictionary<string, double> Collect()
    {
        var ms = new Dictionary<string, double>();
        if (_used == 0)
        {
            return ms;
        }

        _events[_used - 1].Synchronize();
        for (int i = 0; i < _names.Count; i++)
        {
            ms[_names[i]] = ms.GetValueOrDefault(_names[i]) + _events[i + 1].ElapsedSince(_events[i]);
        }

        _used = 0;
        return ms;
    }

    public void Dispose() => _events.ForEach(e => e.Dispose());

    private void Record(CudaStream stream)
    {
        if (_used == _events.Count)
        {
            _events.Add(context.CreateEvent());
        }

        _events[_used++].Record(stream);
    }
}
