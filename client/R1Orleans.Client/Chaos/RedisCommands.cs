using System.Net.Sockets;
using System.Text;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// The two Redis commands the harness sends (FLUSHALL, CLIENT PAUSE) over a plain RESP connection, so that Redis
/// faults work on any Redis given with --redis, started by the harness or not.
/// </summary>
public static class RedisCommands
{
    /// <summary>Sends one command and returns its reply's first line; a Redis error reply throws.</summary>
    public static async Task<string> SendAsync(string hostPort, IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(hostPort);
        ArgumentNullException.ThrowIfNull(command);
        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture, out int port))
        {
            throw new ArgumentException($"--redis is '{hostPort}'; expected HOST:PORT", nameof(hostPort));
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        using var client = new TcpClient();
        await client.ConnectAsync(hostPort[..colon], port, timeout.Token).ConfigureAwait(false);
        NetworkStream stream = client.GetStream();
        var request = new StringBuilder().Append('*').Append(command.Count).Append("\r\n");
        foreach (string part in command)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }

        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), timeout.Token).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string reply = await reader.ReadLineAsync(timeout.Token).ConfigureAwait(false) ?? throw new IOException($"redis {hostPort} closed the connection");
        return reply.StartsWith('-') ? throw new InvalidOperationException($"redis {hostPort}: {string.Join(' ', command)}: {reply[1..]}") : reply;
    }
}
