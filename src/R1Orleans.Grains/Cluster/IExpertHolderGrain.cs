namespace R1Orleans.Grains.Cluster;

/// <summary>
/// One silo's expert holder reached through Orleans (key: the silo's address; placed on that silo). The exchange's
/// fallback transport where no UCX path exists (and the transport of in-process test clusters): one call per MoE layer
/// step per holder, the request's bytes in, the reply's bytes out, never a call per token.
/// </summary>
[Alias("R1Orleans.IExpertHolderGrain")]
public interface IExpertHolderGrain : IGrainWithStringKey
{
    [Alias("Run")]
    Task<byte[]> Run([Immutable] byte[] request);
}
