namespace R1Orleans.Transport;

/// <summary>An exchange that counts the tokens it routed per (layer, expert): the load statistics the balancer reads.</summary>
public interface IExpertLoadSource
{
    ExpertLoadCounter Load { get; }
}
