using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace R1Orleans.Engine.Scheduling;

/// <summary>
/// Runs an EngineCore on its own thread and gives callers an async stream per request. Cancelling the stream's token
/// (a client that went away) cancels the request and frees its blocks at the next step.
/// </summary>
public sealed class EngineLoop : IAsyncDisposable
{
    private readonly EngineCore _core;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private Exception? _fault;

    public EngineLoop(EngineCore core)
    {
        _core = core;
        _thread = new Thread(Run) { IsBackground = true, Name = "r1-engine" };
        _thread.Start();
    }

    public EngineCore Core => _core;

    /// <summary>Queues the request and streams its events; throws at once for invalid requests or a full queue.</summary>
    public IAsyncEnumerable<GenerationEvent> Generate(GenerationRequest request, CancellationToken cancellation = default)
    {
        if (_fault is not null)
        {
            throw new InvalidOperationException("the engine thread failed", _fault);
        }

        var channel = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        _core.Submit(request, channel.Writer);
        _wake.Release();
        return Read(request.Id, channel.Reader, cancellation);
    }

    /// <summary>Continues a request from its state (another rank ran it and is gone) and streams its new events.</summary>
    public IAsyncEnumerable<GenerationEvent> Resume(RequestState state, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (_fault is not null)
        {
            throw new InvalidOperationException("the engine thread failed", _fault);
        }

        var channel = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        _core.Resume(state, channel.Writer);
        _wake.Release();
        return Read(state.Id, channel.Reader, cancellation);
    }

    private async IAsyncEnumerable<GenerationEvent> Read(string id, ChannelReader<GenerationEvent> reader, [EnumeratorCancellation] CancellationToken cancellation)
    {
        using CancellationTokenRegistration reg = cancellation.Register(() => CancelQuietly(id));
        bool finished = false;
        try
        {
            await foreach (GenerationEvent e in reader.ReadAllAsync(CancellationToken.None))
            {
                finished = e.Finish is not null;
                yield return e;
                cancellation.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            if (!finished)
            {
                // The consumer stopped early (disconnect, break): the request must not keep running.
                CancelQuietly(id);
            }
        }
    }

    /// <summary>Cancels a request and wakes the loop; after the engine was disposed (its silo stopping) there is nothing left to stop.</summary>
    private void CancelQuietly(string id)
    {
        try
        {
            _core.Cancel(id);
            _wake.Release();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Run()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                bool worked;
                try
                {
                    worked = _core.Step();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _core.FailAll($"engine step failed: {e.Message}");
                    worked = true;
                }

                if (!worked)
                {
                    _wake.Wait(TimeSpan.FromMilliseconds(50), _stop.Token);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _fault = e;
            _core.FailAll($"engine thread failed: {e.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _thread.Join();
        _stop.Dispose();
        _wake.Dispose();
    }
}
