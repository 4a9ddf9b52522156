using R1Orleans.Placement;

namespace R1Orleans.Transport.Cluster;

/// <summary>
/// Carries one expert step request to a holder silo and brings its reply back: UCX between processes (shared memory
/// on one host, TCP or RDMA across hosts), in memory between silos of one process. Every call has a deadline; a holder
/// that is gone or silent fails the call with an <see cref="ExpertStepFailedException"/> naming it.
/// </summary>
public interface IExpertTransport
{
    /// <summary>Sends <paramref name="request"/> to <paramref name="holder"/>; the reply's bytes stay valid until the lease is disposed.</summary>
    Task<IExpertReply> CallAsync(SiloId holder, ReadOnlyMemory<byte> request, TimeSpan deadline, CancellationToken cancellationToken = default);
}

/// <summary>A reply's bytes, held (pooled) until disposed.</summary>
public interface IExpertReply : IDisposable
{
    ReadOnlyMemory<byte> Bytes { get; }
}
