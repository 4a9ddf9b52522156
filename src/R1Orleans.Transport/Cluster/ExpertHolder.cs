using System.Buffers;
using System.Runtime.InteropServices;
using R1Orleans.Backend;
using R1Orleans.Model;
using R1Orleans.Placement;
using R1Orleans.Transport.Experts;

namespace R1Orleans.Transport.Cluster;

/// <summary>
/// The holder side of the exchange on one silo: admits a step only if its placement stamp is served here (the fence
/// against a stale rank, a duplicate directory or a silo that wakes up with an old map), runs each expert of the
/// request once on all of its rows, reading them in place from the request's bytes, and writes the outputs straight
/// into the reply in the same order. Serves any number of ranks at once (thread-safe).
/// </summary>
public sealed class ExpertHolder
{
    private readonly IComputeBackend _backend;
    private readonly int _parallelism;
    private readonly Func<int, int, FeedForward?> _expertOf;

    /// <param name="backend">Runs each expert (single-threaded when <paramref name="parallelism"/> is above 1).</param>
    /// <param name="parallelism">Experts of one request run at once.</param>
    /// <param name="fence">The placement versions this silo serves.</param>
    /// <param name="expertOf">The expert (layer, id) held here, or null.</param>
    public ExpertHolder(IComputeBackend backend, int parallelism, HolderFence fence, Func<int, int, FeedForward?> expertOf)
    {
        _backend = backend ?? throw new ArgumentNullException(nameof(backend));
        _parallelism = Math.Max(1, parallelism);
        Fence = fence ?? throw new ArgumentNullException(nameof(fence));
        _expertOf = expertOf ?? throw new ArgumentNullException(nameof(expertOf));
    }

    public HolderFence Fence { get; }

    /// <summary>Fault injection: how late this holder's replies to other ranks are sent (off unless set).</summary>
    public InjectedReplyDelay ReplyDelay { get; } = new();

    /// <summary>Tokens run per (layer, expert) here, for every rank.</summary>
    public ExpertLoadCounter Load { get; } = new();

    /// <summary>Serves one request; the reply (outputs, or a refusal with its reason) goes to <paramref name="reply"/>.</summary>
    public ExpertReplyStatus Serve(ReadOnlyMemory<byte> request, IBufferWriter<byte> reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ExpertStepRequest step;
        try
        {
            step = ExpertStepCodec.ReadRequest(request.Span);
            Fence.Admit(step.Stamp);
        }
        catch (Exception e) when (e is InvalidDataException or PlacementFenceException)
        {
            return Refuse(reply, e is PlacementFenceException ? ExpertReplyStatus.Fenced : ExpertReplyStatus.Failed, e.Message);
        }

        foreach (ExpertGroup g in step.Groups)
        {
            if (_expertOf(step.Layer, g.Expert) is null)
            {
                return Refuse(reply, ExpertReplyStatus.Failed, $"layer {step.Layer} expert {g.Expert} is not held here (placement {step.Stamp})");
            }
        }

        int hidden = step.Hidden;
        int length = ExpertStepCodec.ReplyLength(step.Rows, hidden);
        Memory<byte> output = reply.GetMemory(length)[..length];
        ExpertStepCodec.WriteReplyHeader(output.Span, step.Rows, hidden);
        ReadOnlyMemory<byte> rows = request[step.RowsOffset..];
        Memory<byte> outRows = output[ExpertStepCodec.ReplyRowsOffset..];
        GroupedExperts.Run(
            _backend, _parallelism, e => _expertOf(step.Layer, e)!, step.Groups, step.Groups.Length,
            (first, n) => MemoryMarshal.Cast<byte, float>(rows.Span).Slice(first * hidden, n * hidden),
            (first, n) => MemoryMarshal.Cast<byte, float>(outRows.Span).Slice(first * hidden, n * hidden));
        reply.Advance(length);
        foreach (ExpertGroup g in step.Groups)
        {
            Load.Add(step.Layer, g.Expert, g.Rows);
        }

        return ExpertReplyStatus.Ok;
    }

    /// <summary>
    /// Runs the rank's own rows here without the transport: <paramref name="groups"/> (<see cref="ExpertGroup.Of"/>),
    /// <paramref name="input"/> and <paramref name="output"/> rows × hidden in their order. Fenced like a request.
    /// </summary>
    public void RunInPlace(PlacementStamp stamp, int layer, int hidden, ExpertGroup[] groups, float[] input, float[] output)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        Fence.Admit(stamp);
        foreach (ExpertGroup g in groups)
        {
            if (_expertOf(layer, g.Expert) is null)
            {
                throw new KeyNotFoundException($"layer {layer} expert {g.Expert} is not held here (placement {stamp})");
            }
        }

        GroupedExperts.Run(
            _backend, _parallelism, e => _expertOf(layer, e)!, groups, groups.Length,
            (first, n) => input.AsSpan(first * hidden, n * hidden),
            (first, n) => output.AsSpan(first * hidden, n * hidden));
        foreach (ExpertGroup g in groups)
        {
            Load.Add(layer, g.Expert, g.Rows);
        }
    }

    private static ExpertReplyStatus Refuse(IBufferWriter<byte> reply, ExpertReplyStatus status, string message)
    {
        int length = ExpertStepCodec.ErrorReplyLength(message);
        ExpertStepCodec.WriteErrorReply(reply.GetSpan(length), status, message);
        reply.Advance(length);
        return status;
    }
}
