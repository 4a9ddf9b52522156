using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using R1Orleans.Interop.Ucx.Native;

namespace R1Orleans.Interop.Ucx;

// The request/reply channel, run on the progress thread: peers and their endpoints, calls awaiting replies,
// sends and rendezvous receives UCX still owns.
public sealed partial class UcxNode
{
    private readonly Dictionary<ulong, PendingCall> _calls = [];
    private readonly Dictionary<long, TransferOp> _transfers = [];
    private readonly Dictionary<long, UcxPeer> _peers = [];
    private readonly Dictionary<ulong, UcxPeer> _peersByNodeId = [];
    private readonly Dictionary<string, UcxPeer> _peersByAddress = [];
    private readonly List<UcxPeer> _failedPeers = [];
    private long _nextLocalId;

    private unsafe UcxPeer ConnectNow(byte[] address, string name)
    {
        var key = Convert.ToBase64String(address);
        if (_peersByAddress.TryGetValue(key, out var existing) && !existing.IsFailed)
            return existing;
        var peer = new UcxPeer(this, ++_nextLocalId, name, key);
        peer.Endpoint = UcpEndpointHandle.Create(_worker!, address, &OnEndpointError, (nint)peer.LocalId);
        _peers[peer.LocalId] = peer;
        _peersByAddress[key] = peer;
        SendHello(peer);
        return peer;
    }

    private unsafe void SendHello(UcxPeer peer)
    {
        var op = NewTransfer(TransferKind.HelloSend);
        WireHeaders.Write(new Span<byte>((void*)op.Header, WireHeaders.Length), _nodeId, 0);
        var status = Send(peer, WireHeaders.HelloId, op, (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_address)),
            _address.Length);
        if (status != UcsStatus.Ok)
            FailPeer(peer, status, "hello");
    }

    private unsafe void StartCall(PendingCall call)
    {
        if (call.Completion.Task.IsCompleted)
            return;
        if (call.CancellationToken.IsCancellationRequested)
        {
            call.Completion.TrySetCanceled(call.CancellationToken);
            return;
        }
        var peer = call.Peer;
        if (peer.Failure is { } failure)
        {
            call.Fail(new PeerUnreachableException(peer.Name, failure));
            return;
        }
        _calls[call.Id] = call;
        _nextDeadline = Math.Min(_nextDeadline, call.DeadlineTimestamp);
        var op = NewTransfer(TransferKind.RequestSend);
        op.Call = call;
        op.Pin = call.Request.Pin();
        WireHeaders.Write(new Span<byte>((void*)op.Header, WireHeaders.Length), call.Id, _nodeId);
        var status = Send(peer, WireHeaders.RequestId, op, (byte*)op.Pin.Pointer, call.Request.Length);
        if (status != UcsStatus.Ok && _calls.Remove(call.Id))
            call.Fail(new PeerUnreachableException(peer.Name, $"ucp_am_send_nbx: {UcsNative.StatusString(status)}"));
    }

    private unsafe void SendReply(ReplyWriter reply)
    {
        var peer = reply.Peer;
        if (peer.IsFailed)
        {
            if (reply.Buffer is { } dropped)
                BufferPool.Return(dropped);
            return;
        }
        var op = NewTransfer(TransferKind.ReplySend);
        op.Buffer = reply.Buffer;
        WireHeaders.Write(new Span<byte>((void*)op.Header, WireHeaders.Length), reply.CorrelationId,
            reply.Failed ? WireHeaders.ReplyHandlerFailed : WireHeaders.ReplyOk);
        var data = op.Buffer is null ? null : (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(op.Buffer));
        Send(peer, WireHeaders.ReplyId, op, data, reply.Length);
    }

    /// <summary>ucp_am_send_nbx; the op is released now if the send completed or failed at once, else on its callback.</summary>
    private unsafe UcsStatus Send(UcxPeer peer, uint amId, TransferOp op, byte* data, int length)
    {
        var parameters = new UcpRequestParam
        {
            OpAttrMask = UcpOpAttr.FieldCallback | UcpOpAttr.FieldUserData | UcpOpAttr.FieldDatatype,
            Callback = (nint)(delegate* unmanaged[Cdecl]<nint, UcsStatus, nint, void>)&OnSendCompleted,
            UserData = (nint)op.Id,
            Datatype = UcpDatatype.ContiguousBytes,
        };
        var endpoint = peer.Endpoint;
        if (endpoint is null || endpoint.IsClosed)
        {
            ReleaseTransfer(op);
            return UcsStatus.NotConnected;
        }
        _transfers[op.Id] = op;
        var result = UcpNative.AmSendNbx(endpoint.DangerousGetHandle(), amId, (void*)op.Header, WireHeaders.Length,
            data, (nuint)length, &parameters);
        if (UcsStatusPtr.IsRequest(result))
            return UcsStatus.Ok;
        _transfers.Remove(op.Id);
        ReleaseTransfer(op);
        return UcsStatusPtr.Status(result);
    }

    private unsafe TransferOp NewTransfer(TransferKind kind) => new(++_nextLocalId)
    {
        Kind = kind,
        Header = (nint)NativeMemory.Alloc(WireHeaders.Length),
    };

    private unsafe void ReleaseTransfer(TransferOp op)
    {
        if (op.Header != 0)
        {
            NativeMemory.Free((void*)op.Header);
            op.Header = 0;
        }
        op.Pin.Dispose();
        op.Pin = default;
        if (op.Buffer is { } buffer)
        {
            op.Buffer = null;
            BufferPool.Return(buffer);
        }
    }

    private void SendCompleted(long opId, nint request, UcsStatus status)
    {
        UcpNative.RequestFree(request);
        if (!_transfers.Remove(opId, out var op))
            return;
        ReleaseTransfer(op);
        if (status != UcsStatus.Ok && op.Call is { } call && _calls.Remove(call.Id))
            call.Fail(new PeerUnreachableException(call.Peer.Name,
                $"request send failed: {UcsNative.StatusString(status)}"));
    }

    private unsafe UcsStatus HelloReceived(ReadOnlySpan<byte> header, nint data, nuint length, UcpAmRecvParam* param)
    {
        if ((param->RecvAttr & UcpAmRecvAttr.FlagRndv) != 0 || header.Length < WireHeaders.Length)
        {
            Diagnose("dropped a malformed hello");
            return UcsStatus.Ok;
        }
        var (nodeId, _) = WireHeaders.Read(header);
        if (_peersByNodeId.TryGetValue(nodeId, out var known) && !known.IsFailed)
            return UcsStatus.Ok;
        var address = new ReadOnlySpan<byte>((void*)data, checked((int)length)).ToArray();
        var key = Convert.ToBase64String(address);
        if (!_peersByAddress.TryGetValue(key, out var peer) || peer.IsFailed)
            peer = ConnectNow(address, $"node-{nodeId:x16}");
        peer.NodeId = nodeId;
        _peersByNodeId[nodeId] = peer;
        return UcsStatus.Ok;
    }

    private unsafe UcsStatus RequestReceived(ReadOnlySpan<byte> header, nint data, nuint length, UcpAmRecvParam* param)
    {
        if (header.Length < WireHeaders.Length)
            return UcsStatus.Ok;
        var (correlationId, senderId) = WireHeaders.Read(header);
        if (!_peersByNodeId.TryGetValue(senderId, out var peer) || peer.IsFailed)
        {
            Diagnose($"dropped request {correlationId} from unknown node {senderId:x16}");
            return UcsStatus.Ok;
        }
        if ((param->RecvAttr & UcpAmRecvAttr.FlagRndv) == 0)
        {
            Dispatch(peer, correlationId, new ReadOnlySpan<byte>((void*)data, checked((int)length)));
            return UcsStatus.Ok;
        }
        var op = new TransferOp(++_nextLocalId)
        {
            Kind = TransferKind.RequestReceive,
            Peer = peer,
            CorrelationId = correlationId,
        };
        return ReceiveRendezvous(op, data, length);
    }

    private unsafe UcsStatus ReplyReceived(ReadOnlySpan<byte> header, nint data, nuint length, UcpAmRecvParam* param)
    {
        if (header.Length < WireHeaders.Length)
            return UcsStatus.Ok;
        var (correlationId, status) = WireHeaders.Read(header);
        if (!_calls.Remove(correlationId, out var call))
            return UcsStatus.Ok; // late (after its deadline) or cancelled: drop; a rendezvous is declined
        if (status != WireHeaders.ReplyOk)
        {
            call.Fail(new RemoteHandlerException(call.Peer.Name));
            return UcsStatus.Ok;
        }
        if ((param->RecvAttr & UcpAmRecvAttr.FlagRndv) == 0)
        {
            var buffer = BufferPool.Rent(checked((int)length));
            new ReadOnlySpan<byte>((void*)data, (int)length).CopyTo(buffer);
            if (!call.Succeed(new ReplyLease(BufferPool, buffer, (int)length)))
                BufferPool.Return(buffer);
            return UcsStatus.Ok;
        }
        var op = new TransferOp(++_nextLocalId) { Kind = TransferKind.ReplyReceive, Call = call };
        return ReceiveRendezvous(op, data, length);
    }

    /// <summary>ucp_am_recv_data_nbx into a pooled buffer; completes now or in <see cref="ReceiveCompleted"/>.</summary>
    private unsafe UcsStatus ReceiveRendezvous(TransferOp op, nint descriptor, nuint length)
    {
        op.Length = checked((int)length);
        op.Buffer = BufferPool.Rent(op.Length);
        var parameters = new UcpRequestParam
        {
            OpAttrMask = UcpOpAttr.FieldCallback | UcpOpAttr.FieldUserData | UcpOpAttr.FieldDatatype,
            Callback = (nint)(delegate* unmanaged[Cdecl]<nint, UcsStatus, nuint, nint, void>)&OnReceiveCompleted,
            UserData = (nint)op.Id,
            Datatype = UcpDatatype.ContiguousBytes,
        };
        _transfers[op.Id] = op;
        var result = UcpNative.AmRecvDataNbx(_workerRaw, descriptor,
            Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(op.Buffer)), length, &parameters);
        if (UcsStatusPtr.IsRequest(result))
            return UcsStatus.InProgress;
        _transfers.Remove(op.Id);
        ReceiveFinished(op, UcsStatusPtr.Status(result));
        return UcsStatus.Ok;
    }

    private void ReceiveCompleted(long opId, nint request, UcsStatus status)
    {
        UcpNative.RequestFree(request);
        if (_transfers.Remove(opId, out var op))
            ReceiveFinished(op, status);
    }

    private void ReceiveFinished(TransferOp op, UcsStatus status)
    {
        if (status != UcsStatus.Ok)
        {
            if (op.Call is { } failed)
                failed.Fail(new PeerUnreachableException(failed.Peer.Name,
                    $"reply receive failed: {UcsNative.StatusString(status)}"));
            ReleaseTransfer(op);
            return;
        }
        if (op.Kind == TransferKind.ReplyReceive)
        {
            var buffer = op.Buffer!;
            op.Buffer = null;
            if (!op.Call!.Succeed(new ReplyLease(BufferPool, buffer, op.Length)))
                BufferPool.Return(buffer);
            return;
        }
        Dispatch(op.Peer!, op.CorrelationId, op.Buffer.AsSpan(0, op.Length));
        ReleaseTransfer(op);
    }

    private void Dispatch(UcxPeer peer, ulong correlationId, ReadOnlySpan<byte> request)
    {
        var reply = new ReplyWriter(this, peer, correlationId);
        var handler = _handler;
        if (handler is null)
        {
            reply.Fail();
            return;
        }
        try
        {
            handler(request, reply);
        }
        catch (Exception error)
        {
            Diagnose($"request handler failed: {error}");
            if (!reply.IsCompleted)
                reply.Fail();
        }
    }

    private void EndpointFailed(long localId, UcsStatus status)
    {
        if (_peers.TryGetValue(localId, out var peer))
            FailPeer(peer, status, "endpoint error");
    }

    /// <summary>Marks a peer failed, fails its calls now, and closes its endpoint after this progress round.</summary>
    private void FailPeer(UcxPeer peer, UcsStatus status, string where)
    {
        if (peer.IsFailed && !_peers.ContainsKey(peer.LocalId))
            return;
        var reason = $"{where}: {UcsNative.StatusString(status)}";
        peer.MarkFailed(reason);
        _peers.Remove(peer.LocalId);
        if (_peersByAddress.TryGetValue(peer.AddressKey, out var byAddress) && byAddress == peer)
            _peersByAddress.Remove(peer.AddressKey);
        if (peer.NodeId != 0 && _peersByNodeId.TryGetValue(peer.NodeId, out var byNode) && byNode == peer)
            _peersByNodeId.Remove(peer.NodeId);
        List<PendingCall>? failed = null;
        foreach (var call in _calls.Values)
        {
            if (call.Peer == peer)
                (failed ??= []).Add(call);
        }
        foreach (var call in failed ?? [])
        {
            _calls.Remove(call.Id);
            call.Fail(new PeerUnreachableException(peer.Name, reason));
        }
        _failedPeers.Add(peer);
    }

    /// <summary>Closes endpoints of failed peers outside UCX's callbacks.</summary>
    private bool RunDeferred()
    {
        if (_failedPeers.Count == 0)
            return false;
        foreach (var peer in _failedPeers)
            peer.Endpoint?.Dispose();
        _failedPeers.Clear();
        return true;
    }

    // Unmanaged entry points: UCX calls them from ucp_worker_progress on the progress thread (t_current is its node).
    // Exceptions must not cross into native code.

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnEndpointError(nint arg, nint endpoint, UcsStatus status)
    {
        if (t_current is not { } node)
            return;
        try
        {
            node.EndpointFailed(arg, status);
        }
        catch (Exception error)
        {
            node.Diagnose($"endpoint error callback failed: {error}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnSendCompleted(nint request, UcsStatus status, nint userData)
    {
        if (t_current is not { } node)
            return;
        try
        {
            node.SendCompleted(userData, request, status);
        }
        catch (Exception error)
        {
            node.Diagnose($"send completion failed: {error}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnReceiveCompleted(nint request, UcsStatus status, nuint length, nint userData)
    {
        if (t_current is not { } node)
            return;
        try
        {
            node.ReceiveCompleted(userData, request, status);
        }
        catch (Exception error)
        {
            node.Diagnose($"receive completion failed: {error}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe UcsStatus OnHelloReceived(nint arg, nint header, nuint headerLength, nint data, nuint length,
        UcpAmRecvParam* param)
    {
        if (t_current is not { } node)
            return UcsStatus.Ok;
        try
        {
            return node.HelloReceived(new ReadOnlySpan<byte>((void*)header, (int)headerLength), data, length, param);
        }
        catch (Exception error)
        {
            node.Diagnose($"hello handler failed: {error}");
            return UcsStatus.Ok;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe UcsStatus OnRequestReceived(nint arg, nint header, nuint headerLength, nint data,
        nuint length, UcpAmRecvParam* param)
    {
        if (t_current is not { } node)
            return UcsStatus.Ok;
        try
        {
            return node.RequestReceived(new ReadOnlySpan<byte>((void*)header, (int)headerLength), data, length, param);
        }
        catch (Exception error)
        {
            node.Diagnose($"request handler failed: {error}");
            return UcsStatus.Ok;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe UcsStatus OnReplyReceived(nint arg, nint header, nuint headerLength, nint data, nuint length,
        UcpAmRecvParam* param)
    {
        if (t_current is not { } node)
            return UcsStatus.Ok;
        try
        {
            return node.ReplyReceived(new ReadOnlySpan<byte>((void*)header, (int)headerLength), data, length, param);
        }
        catch (Exception error)
        {
            node.Diagnose($"reply handler failed: {error}");
            return UcsStatus.Ok;
        }
    }
}
