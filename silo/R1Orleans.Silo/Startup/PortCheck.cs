using System.Net;
using System.Net.Sockets;

namespace R1Orleans.Silo.Startup;

/// <summary>
/// Orleans listens on its silo and gateway ports with address reuse, so a second silo given the same port listens
/// too and both report the same endpoint. Before Orleans starts, each port is bound once here without reuse: a port
/// another process listens on fails that bind, and the silo refuses to start naming the port and its switch.
/// (A silo that starts in the same instant can still pass the check; the window is the start-up time.)
/// </summary>
public static class PortCheck
{
    /// <summary>
    /// The endpoints Kestrel binds for a <c>--urls</c> value (<c>http://127.0.0.1:8000;http://*:8001</c>): IP hosts as
    /// written, localhost as 127.0.0.1, any other host (<c>*</c>, <c>+</c>, a name) as every address; port 0 is left out.
    /// </summary>
    public static IReadOnlyList<IPEndPoint> HttpEndpoints(string urls)
    {
        ArgumentNullException.ThrowIfNull(urls);
        var endpoints = new List<IPEndPoint>();
        foreach (string url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Kestrel accepts * and + as hosts, which Uri does not parse.
            string parseable = url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
            if (!Uri.TryCreate(parseable, UriKind.Absolute, out Uri? uri) || uri.Port <= 0)
            {
                continue; // Kestrel reports what it cannot parse
            }

            IPAddress address = uri.IsLoopback && !IPAddress.TryParse(uri.Host.Trim('[', ']'), out _) ? IPAddress.Loopback
                : IPAddress.TryParse(uri.Host.Trim('[', ']'), out IPAddress? ip) ? ip
                : IPAddress.Any;
            endpoints.Add(new IPEndPoint(address, uri.Port));
        }

        return endpoints;
    }

    /// <summary>
    /// Throws <see cref="SettingsException"/> when <paramref name="port"/> on <paramref name="address"/> is taken; the
    /// message names <paramref name="what"/> the port is for, the <paramref name="option"/> that sets it and its <paramref name="usage"/>.
    /// </summary>
    public static void EnsureFree(IPAddress address, int port, string what, string option, string usage)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (port == 0)
        {
            return; // the OS picks a free one
        }

        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            string why = e.SocketErrorCode == SocketError.AccessDenied ? "may not be used by this user" : "is already in use";
            throw new SettingsException(
                $"the {what} port {port} ({option}) {why} on {address}: another silo or program listens there; pick a free one with {usage} " +
                "(a second silo beside the first needs its own --urls, --silo-port and --gateway-port)");
        }
    }
}
