using System.Diagnostics;
using System.Runtime.InteropServices;
using R1Orleans.Interop.Ucx.Native;

namespace R1Orleans.Interop.Ucx;

// The progress thread: creates and owns every UCX object, drains commands, spins while work is outstanding and
// otherwise sleeps in epoll on the worker's event fd and the wake-up eventfd.
public sealed partial class UcxNode
{
    [ThreadStatic]
    private static UcxNode? t_current;

    private UcpContextHandle? _context;
    private UcpWorkerHandle? _worker;
    private nint _workerRaw;
    private int _epollFd = -1;
    private int _wakeFd = -1;
    private long _nextDeadline = long.MaxValue;

    /// <summary>
    /// UCX 1.13 leaves peer-failure handling off for its shared-memory transports (UCX_POSIX_ERROR_HANDLING=n,
    /// UCX_SYSV_ERROR_HANDLING=n: "no peer failure handler"), so endpoints with UCP_ERR_HANDLING_MODE_PEER would
    /// never use shared memory. The node turns it on unless the environment or an override says otherwise. Through
    /// ucp_config_modify the setting is named MM_ERROR_HANDLING (the shared memory-mapped transports' common table,
    /// applied to posix, sysv and xpmem alike); its environment names UCX_POSIX_ERROR_HANDLING and
    /// UCX_SYSV_ERROR_HANDLING are not accepted there (UCX warns "invalid configuration" and ignores them).
    /// </summary>
    private const string SharedMemoryErrorHandling = "MM_ERROR_HANDLING";

    private unsafe void Run()
    {
        t_current = this;
        try
        {
            Initialize();
        }
        catch (Exception error)
        {
            ReleaseNative();
            _started.TrySetException(error);
            return;
        }
        _started.TrySetResult();
        try
        {
            Loop();
        }
        catch (Exception error)
        {
            Diagnose($"progress loop failed: {error}");
        }
        finally
        {
            Shutdown();
        }
    }

    private unsafe void Initialize()
    {
        using (var config = UcpConfigHandle.Read())
        {
            if (!_options.ConfigOverrides.ContainsKey(SharedMemoryErrorHandling)
                && Environment.GetEnvironmentVariable("UCX_POSIX_ERROR_HANDLING") is null
                && Environment.GetEnvironmentVariable("UCX_SYSV_ERROR_HANDLING") is null
                && MayUseSharedMemory(_options.ConfigOverrides.GetValueOrDefault("TLS")
                    ?? Environment.GetEnvironmentVariable("UCX_TLS") ?? "all"))
                config.Modify(SharedMemoryErrorHandling, "y");
            if (_options.KeepaliveInterval is { } keepalive && !_options.ConfigOverrides.ContainsKey("KEEPALIVE_INTERVAL")
                && Environment.GetEnvironmentVariable("UCX_KEEPALIVE_INTERVAL") is null)
                config.Modify("KEEPALIVE_INTERVAL",
                    $"{Math.Max(1, (long)keepalive.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture)}ms");
            foreach (var (name, value) in _options.ConfigOverrides)
                config.Modify(name, value);
            _context = UcpContextHandle.Create(config, _options.Name);
        }
        _worker = UcpWorkerHandle.Create(_context, UcsThreadMode.Single, _options.Name);
        _workerRaw = _worker.DangerousGetHandle();
        using (var address = UcpWorkerAddressHandle.Get(_worker))
        {
            _address = GC.AllocateUninitializedArray<byte>(address.Length, pinned: true);
            address.ToArray().CopyTo(_address, 0);
        }
        RegisterHandler(WireHeaders.HelloId, &OnHelloReceived);
        RegisterHandler(WireHeaders.RequestId, &OnRequestReceived);
        RegisterHandler(WireHeaders.ReplyId, &OnReplyReceived);

        UcxException.Check(UcpNative.WorkerGetEfd(_workerRaw, out var workerFd), "ucp_worker_get_efd");
        _epollFd = LibC.EpollCreate1(LibC.EpollCloexec);
        if (_epollFd < 0)
            throw new InvalidOperationException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        _wakeFd = LibC.EventFd(0, LibC.EfdCloexec | LibC.EfdNonblock);
        if (_wakeFd < 0)
            throw new InvalidOperationException($"eventfd failed: errno {Marshal.GetLastPInvokeError()}");
        AddToEpoll(workerFd, 1);
        AddToEpoll(_wakeFd, 2);
    }

    /// <summary>
    /// Whether a UCX_TLS list can select a shared memory-mapped transport (else setting MM_ERROR_HANDLING would only
    /// earn UCX's "invalid configuration" warning).
    /// </summary>
    internal static bool MayUseSharedMemory(string tls)
    {
        if (tls.StartsWith('^'))
            return true;
        foreach (var item in tls.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (item.TrimStart('\\') is "all" or "sm" or "shm" or "mm" or "posix" or "sysv" or "xpmem")
                return true;
        }
        return false;
    }

    private unsafe void RegisterHandler(uint id,
        delegate* unmanaged[Cdecl]<nint, nint, nuint, nint, nuint, UcpAmRecvParam*, UcsStatus> callback)
    {
        var parameters = new UcpAmHandlerParam
        {
            FieldMask = UcpAmHandlerParamField.Id | UcpAmHandlerParamField.Flags | UcpAmHandlerParamField.Callback,
            Id = id,
            Flags = UcpAmCbFlag.WholeMessage,
            Callback = callback,
        };
        UcxException.Check(UcpNative.WorkerSetAmRecvHandler(_workerRaw, &parameters),
            $"ucp_worker_set_am_recv_handler({id})");
    }

    private unsafe void AddToEpoll(int fd, ulong tag)
    {
        var ev = new LibC.EpollEvent { Events = LibC.EpollIn, Data = tag };
        if (LibC.EpollCtl(_epollFd, LibC.EpollCtlAdd, fd, &ev) != 0)
            throw new InvalidOperationException($"epoll_ctl({fd}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    private bool HasOutstanding => _calls.Count > 0 || _transfers.Count > 0;

    private unsafe void Loop()
    {
        var spinTicks = (long)(_options.BusyPollDuration.TotalSeconds * Stopwatch.Frequency);
        var idleSpinTicks = (long)(_options.IdleSpinDuration.TotalSeconds * Stopwatch.Frequency);
        var lastActivity = Stopwatch.GetTimestamp();
        var events = stackalloc LibC.EpollEvent[4];
        while (!_stopping)
        {
            var worked = DrainCommands();
            if (UcpNative.WorkerProgress(_workerRaw) != 0)
                worked = true;
            worked |= RunDeferred();
            var now = Stopwatch.GetTimestamp();
            if (now >= _nextDeadline)
                ExpireDeadlines(now);
            if (worked)
            {
                lastActivity = now;
                continue;
            }
            if (now - lastActivity < (HasOutstanding ? spinTicks : idleSpinTicks))
                continue;

            // Sleep: announce it, re-check the queue (a poster that saw _sleeping == 0 did not wake us), arm.
            Interlocked.Exchange(ref _sleeping, 1);
            if (!_commands.IsEmpty || _stopping)
            {
                Volatile.Write(ref _sleeping, 0);
                continue;
            }
            var armed = UcpNative.WorkerArm(_workerRaw);
            if (armed == UcsStatus.Busy)
            {
                Volatile.Write(ref _sleeping, 0);
                continue;
            }
            UcxException.Check(armed, "ucp_worker_arm");
            var count = LibC.EpollWait(_epollFd, events, 4, SleepTimeoutMs(now));
            Volatile.Write(ref _sleeping, 0);
            if (count < 0 && Marshal.GetLastPInvokeError() != LibC.Eintr)
                throw new InvalidOperationException($"epoll_wait failed: errno {Marshal.GetLastPInvokeError()}");
            for (var i = 0; i < count; i++)
            {
                if (events[i].Data == 2)
                    DrainWakeFd();
            }
            lastActivity = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>Forever when nothing is outstanding; else until the next deadline, at most the wake interval.</summary>
    private int SleepTimeoutMs(long now)
    {
        if (!HasOutstanding)
            return -1;
        var wakeMs = Math.Max(1, (int)_options.OutstandingWakeInterval.TotalMilliseconds);
        if (_nextDeadline == long.MaxValue)
            return wakeMs;
        var untilDeadline = (_nextDeadline - now) * 1000.0 / Stopwatch.Frequency;
        return (int)Math.Clamp(Math.Ceiling(untilDeadline), 0, wakeMs);
    }

    private unsafe void Wake()
    {
        if (_wakeFd < 0)
            return;
        ulong one = 1;
        LibC.Write(_wakeFd, &one, sizeof(ulong));
    }

    private unsafe void DrainWakeFd()
    {
        ulong value;
        LibC.Read(_wakeFd, &value, sizeof(ulong));
    }

    private bool DrainCommands()
    {
        var any = false;
        while (_commands.TryDequeue(out var command))
        {
            any = true;
            try
            {
                Execute(command);
            }
            catch (Exception error)
            {
                Diagnose($"command {command.GetType().Name} failed: {error}");
            }
        }
        return any;
    }

    private void Execute(object command)
    {
        switch (command)
        {
            case PendingCall call:
                StartCall(call);
                break;
            case ReplyWriter reply:
                SendReply(reply);
                break;
            case CancelCommand cancel:
                if (_calls.Remove(cancel.Call.Id) && cancel.Call.Completion.TrySetCanceled(cancel.Call.CancellationToken))
                    cancel.Call.Cancellation.Dispose();
                break;
            case ConnectCommand connect:
                try
                {
                    connect.Result.TrySetResult(ConnectNow(connect.Address, connect.Name));
                }
                catch (Exception error)
                {
                    connect.Result.TrySetException(error);
                }
                break;
            default:
                throw new InvalidOperationException($"unknown command {command.GetType()}");
        }
    }

    private void ExpireDeadlines(long now)
    {
        var next = long.MaxValue;
        List<PendingCall>? expired = null;
        foreach (var call in _calls.Values)
        {
            if (call.DeadlineTimestamp <= now)
                (expired ??= []).Add(call);
            else
                next = Math.Min(next, call.DeadlineTimestamp);
        }
        _nextDeadline = next;
        if (expired is null)
            return;
        foreach (var call in expired)
        {
            _calls.Remove(call.Id);
            call.Fail(new DeadlineExceededException(call.Peer.Name, call.Deadline));
        }
    }

    private void Shutdown()
    {
        var disposed = new ObjectDisposedException(nameof(UcxNode), $"UCX node '{_options.Name}' was disposed");
        Interlocked.Exchange(ref _drained, true);
        FailQueuedCommands();
        foreach (var call in _calls.Values)
            call.Fail(disposed);
        _calls.Clear();
        foreach (var peer in _peers.Values)
        {
            peer.MarkFailed("the local node was disposed");
            peer.Endpoint?.Dispose();
        }
        _peers.Clear();
        _peersByNodeId.Clear();
        _peersByAddress.Clear();
        // Let the forced closes and purged requests complete (bounded).
        var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5;
        for (var i = 0; i < 100_000 && Stopwatch.GetTimestamp() < until; i++)
        {
            UcpNative.WorkerProgress(_workerRaw);
            RunDeferred();
            if (_transfers.Count == 0)
                break;
        }
        ReleaseNative();
        foreach (var transfer in _transfers.Values)
        {
            transfer.Call?.Fail(disposed);
            ReleaseTransfer(transfer);
        }
        _transfers.Clear();
    }

    private void ReleaseNative()
    {
        _worker?.Dispose();
        _context?.Dispose();
        if (_epollFd >= 0)
            LibC.Close(_epollFd);
        var wake = _wakeFd;
        _wakeFd = -1;
        if (wake >= 0)
            LibC.Close(wake);
    }
}
