namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// An all-to-all of variable row counts as ONE group of ncclSend/ncclRecv (NCCL has no alltoallv; DeepEP's layout gives
/// the rows): rank r's rows are [offsets[r], offsets[r + 1]) of each buffer, on both sides. For every peer with rows,
/// every plane is sent (and received) in plane order, so the two sides of a pair match call for call. Peers with no
/// rows get no call.
/// </summary>
public static class NcclAllToAllV
{
    /// <summary>The group's sends and receives (byte addresses from the row offsets; pure, no NCCL call).</summary>
    public static (NcclTransfer[] Sends, NcclTransfer[] Receives) Transfers(ReadOnlySpan<int> sendOffsets, ReadOnlySpan<int> receiveOffsets, ReadOnlySpan<NcclRowPlane> planes)
    {
        if (sendOffsets.Length != receiveOffsets.Length || sendOffsets.Length < 2)
        {
            throw new ArgumentException($"offsets are ranks + 1 long on both sides: {sendOffsets.Length} and {receiveOffsets.Length}");
        }

        return (Side(sendOffsets, planes, send: true), Side(receiveOffsets, planes, send: false));
    }

    /// <summary>
    /// Runs the group on <paramref name="stream"/> and waits for it within the communicator's deadline (<see cref="NcclCommunicator.WaitFor"/>:
    /// a silent peer aborts the communicator instead of hanging).
    /// </summary>
    public static void Run(NcclCommunicator communicator, CudaStream stream, CudaEvent done, ReadOnlySpan<int> sendOffsets, ReadOnlySpan<int> receiveOffsets, ReadOnlySpan<NcclRowPlane> planes, string step)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(done);
        if (sendOffsets.Length != communicator.Ranks + 1)
        {
            throw new ArgumentException($"{sendOffsets.Length} offsets for a communicator of {communicator.Ranks} ranks", nameof(sendOffsets));
        }

        (NcclTransfer[] sends, NcclTransfer[] receives) = Transfers(sendOffsets, receiveOffsets, planes);
        communicator.SendReceive(sends, receives, stream, step);
        done.Record(stream);
        communicator.WaitFor(done, step);
    }

    private static NcclTransfer[] Side(ReadOnlySpan<int> offsets, ReadOnlySpan<NcclRowPlane> planes, bool send)
    {
        var transfers = new List<NcclTransfer>();
        for (int peer = 0; peer + 1 < offsets.Length; peer++)
        {
            int rows = offsets[peer + 1] - offsets[peer];
            if (rows < 0 || offsets[peer] < 0)
            {
                throw new ArgumentException($"offsets must ascend from 0: rank {peer} has [{offsets[peer]}, {offsets[peer + 1]})");
            }

            if (rows == 0)
            {
                continue;
            }

            foreach (NcclRowPlane plane in planes)
            {
                long rowBytes = (long)plane.ElementsPerRow * NcclDataTypes.SizeOf(plane.Type);
                ulong address = (send ? plane.Send : plane.Receive) + (ulong)(offsets[peer] * rowBytes);
                transfers.Add(new NcclTransfer(peer, address, (long)rows * plane.ElementsPerRow, plane.Type));
            }
        }

        return [.. transfers];
    }
}
