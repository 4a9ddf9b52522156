using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using R1Orleans.Interop.Ucx.Native;

namespace R1Orleans.Interop.Ucx;

/// <summary>
/// One silo's UCX data-plane endpoint: a UCP context and one worker driven by a dedicated progress thread, and a
/// request/reply channel over UCX active messages on top (one message per request, one per reply, correlation ids,
/// deadlines, peer-failure detection). Publish <see cref="WorkerAddress"/> through the control plane; peers
/// <see cref="Connect"/> to it and <see cref="CallAsync"/> the handler set with <see cref="SetRequestHandler"/>.
/// </summary>
/// <remarks>
/// The worker runs in UCS_THREAD_MODE_SINGLE and every UCX call (creation included) happens on the progress thread:
/// other threads hand it commands through a queue and wake it through an eventfd. The thread spins on
/// ucp_worker_progress only while operations are outstanding (for <see cref="UcxNodeOptions.BusyPollDuration"/>
/// after the last event), and otherwise arms the worker and sleeps in epoll on the worker's event fd.
/// </remarks>
public sealed partial class UcxNode : IDisposable
{
    private readonly UcxNodeOptions _options;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<object> _commands = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ulong _nodeId;
    private long _nextCallId;
    private int _sleeping;
    private volatile bool _stopping;
    private bool _drained;
    private volatile UcxRequestHandler? _handler;
    private byte[] _address = [];

    /// <summary>Creates the node: reads the UCX configuration, creates the context and worker, starts progress.</summary>
    /// <exception cref="UcxException">UCX refused the configuration or could not create the worker.</exception>
    /// <exception cref="DllNotFoundException">UCX is not installed.</exception>
    public UcxNode(UcxNodeOptions? options = null)
    {
        _options = options ?? new UcxNodeOptions();
        _nodeId = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) | 1;
        UcxLibraryResolver.EnsureInstalled();
        _thread = new Thread(Run) { IsBackground = true, Name = $"ucx-progress {_options.Name}" };
        _thread.Start();
        try
        {
            _started.Task.GetAwaiter().GetResult();
        }
        catch
        {
            _thread.Join();
            throw;
        }
    }

    /// <summary>This node's worker address: the bytes a peer passes to <see cref="Connect"/>.</summary>
    public ReadOnlyMemory<byte> WorkerAddress => _address;

    /// <summary>The node's name.</summary>
    public string Name => _options.Name;

    /// <summary>The pool replies and received requests are lent from.</summary>
    public PinnedBufferPool BufferPool => _options.BufferPool;

    /// <summary>Serves requests from peers; replace at any time (null drops requests).</summary>
    public void SetRequestHandler(UcxRequestHandler? handler) => _handler = handler;

    /// <summary>
    /// The peer at <paramref name="workerAddress"/> (one endpoint per address: connecting twice gives the same peer
    /// unless it failed). The endpoint is created now; UCX connects it in the background.
    /// </summary>
    public UcxPeer Connect(ReadOnlySpan<byte> workerAddress, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (workerAddress.IsEmpty)
            throw new ArgumentException("empty worker address", nameof(workerAddress));
        if (Thread.CurrentThread == _thread)
            return ConnectNow(workerAddress.ToArray(), name); // from a handler: the progress thread must not wait on itself
        var command = new ConnectCommand(workerAddress.ToArray(), name);
        Post(command);
        return command.Result.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Sends <paramref name="request"/> to <paramref name="peer"/> as one message and completes with its one reply,
    /// lent in a pooled buffer (dispose it). The request memory is read in place, not copied: keep it unchanged until
    /// the task completes (after a deadline, UCX may still be reading it; a changed request then only corrupts a
    /// reply that is discarded).
    /// </summary>
    /// <exception cref="PeerUnreachableException">The peer is gone (endpoint failed, send failed).</exception>
    /// <exception cref="DeadlineExceededException">No reply within <paramref name="deadline"/>.</exception>
    /// <exception cref="RemoteHandlerException">The peer's handler failed the request.</exception>
    public Task<ReplyLease> CallAsync(UcxPeer peer, ReadOnlyMemory<byte> request, TimeSpan deadline,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (peer.Owner != this)
            throw new ArgumentException("the peer belongs to another node", nameof(peer));
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (peer.Failure is { } failure)
            return Task.FromException<ReplyLease>(new PeerUnreachableException(peer.Name, failure));
        if (cancellationToken.IsCancellationRequested)
            return Task.FromCanceled<ReplyLease>(cancellationToken);
        if (deadline <= TimeSpan.Zero && deadline != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(deadline), deadline, "a deadline is positive (or infinite)");
        var id = (ulong)Interlocked.Increment(ref _nextCallId);
        var ticks = deadline.TotalSeconds * Stopwatch.Frequency;
        var deadlineTimestamp = deadline == Timeout.InfiniteTimeSpan || ticks >= long.MaxValue / 2
            ? long.MaxValue
            : Stopwatch.GetTimestamp() + (long)ticks;
        var call = new PendingCall(id, peer, request, deadline, deadlineTimestamp, cancellationToken);
        if (cancellationToken.CanBeCanceled)
            call.Cancellation = cancellationToken.Register(static state =>
            {
                var cancelled = (PendingCall)state!;
                cancelled.Peer.Owner.TryPost(new CancelCommand(cancelled));
            }, call);
        Post(call);
        return call.Completion.Task;
    }

    /// <summary>Stops the progress thread, fails outstanding calls, closes endpoints and releases UCX.</summary>
    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        Wake();
        if (Thread.CurrentThread != _thread)
            _thread.Join();
    }

    internal void PostReply(ReplyWriter writer)
    {
        try
        {
            Post(writer);
        }
        catch (ObjectDisposedException)
        {
            // A reply after the node was disposed has nowhere to go.
            if (writer.Buffer is { } buffer)
                BufferPool.Return(buffer);
        }
    }

    private void TryPost(object command)
    {
        try
        {
            Post(command);
        }
        catch (ObjectDisposedException)
        {
            // The node is stopping: it fails every outstanding call itself.
        }
    }

    private void Post(object command)
    {
        if (Thread.CurrentThread == _thread)
        {
            _commands.Enqueue(command);
            return;
        }
        ObjectDisposedException.ThrowIf(_stopping, this);
        _commands.Enqueue(command);
        if (Volatile.Read(ref _sleeping) != 0)
            Wake();
        // Disposed meanwhile, past the progress thread's last drain: fail what it will never run.
        if (Volatile.Read(ref _drained))
            FailQueuedCommands();
    }

    /// <summary>Fails queued commands that no progress thread will run (thread-safe, idempotent).</summary>
    private void FailQueuedCommands()
    {
        var disposed = new ObjectDisposedException(nameof(UcxNode), $"UCX node '{_options.Name}' was disposed");
        while (_commands.TryDequeue(out var command))
        {
            switch (command)
            {
                case PendingCall call:
                    call.Fail(disposed);
                    break;
                case ConnectCommand connect:
                    connect.Result.TrySetException(disposed);
                    break;
                case ReplyWriter { Buffer: { } buffer }:
                    BufferPool.Return(buffer);
                    break;
            }
        }
    }

    private void Diagnose(string message) => _options.Diagnostics?.Invoke($"[{_options.Name}] {message}");

    private sealed record ConnectCommand(byte[] Address, string Name)
    {
        public TaskCompletionSource<UcxPeer> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record CancelCommand(PendingCall Call);
}
