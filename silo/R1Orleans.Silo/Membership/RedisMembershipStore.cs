using System.Globalization;
using R1Orleans.Cluster.Membership;
using StackExchange.Redis;

namespace R1Orleans.Silo.Membership;

/// <summary>
/// The membership table's hash in Redis as Orleans' Redis clustering provider (10.4.2) stores it: read whole, written
/// back with one script. Its own connection, which reconnects by itself, with one-second timeouts, so that a Redis that
/// is down or hangs is an error within a second, never a wait.
/// </summary>
public sealed class RedisMembershipStore : IAsyncDisposable
{
    /// <summary>The hash field that holds the table version (the provider's <c>TableVersionKey</c>).</summary>
    public const string VersionField = "Version";

    /// <summary>How long one command may take before the store counts as unreachable.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(1);

    // Atomically: put back each absent row (ARGV[2..] pairs of field, value), then raise the version to at least ARGV[1]
    // and past the current one. Does nothing (returns -1) when the version is there and no row was absent.
    private const string RestoreScript = """
        local current = redis.call('HGET', KEYS[1], 'Version')
        local written = 0
        for i = 2, #ARGV, 2 do
            if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
                redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
                written = written + 1
            end
        end
        if current and written == 0 then
            return -1
        end
        local version = tonumber(ARGV[1])
        if current and tonumber(current) + 1 > version then
            version = tonumber(current) + 1
        end
        redis.call('HSET', KEYS[1], 'Version', tostring(version))
        return version
        """;

    private readonly ConnectionMultiplexer _connection;
    private readonly RedisKey _key;

    private RedisMembershipStore(ConnectionMultiplexer connection, RedisKey key)
    {
        _connection = connection;
        _key = key;
    }

    /// <summary>Connects (in the background when Redis is not there yet: reads fail until it is).</summary>
    public static async Task<RedisMembershipStore> ConnectAsync(string redis, RedisKey key)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var options = ConfigurationOptions.Parse(redis);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = (int)CommandTimeout.TotalMilliseconds;
        options.SyncTimeout = (int)CommandTimeout.TotalMilliseconds;
        options.AsyncTimeout = (int)CommandTimeout.TotalMilliseconds;
        options.ClientName = "r1-silo-membership";
        options.AllowAdmin = true; // CONFIG GET appendonly
        ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        return new RedisMembershipStore(connection, key);
    }

    /// <summary>The whole table; throws a <see cref="RedisException"/> or <see cref="TimeoutException"/> when Redis does not answer.</summary>
    public async Task<MembershipTableRead> ReadAsync(CancellationToken cancellationToken)
    {
        HashEntry[] entries = await _connection.GetDatabase().HashGetAllAsync(_key).WaitAsync(CommandTimeout * 2, cancellationToken).ConfigureAwait(false);
        long? version = null;
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (HashEntry e in entries)
        {
            string field = e.Name.ToString();
            if (field == VersionField)
            {
                version = long.Parse(e.Value.ToString(), CultureInfo.InvariantCulture);
            }
            else if (e.Value.HasValue)
            {
                rows[field] = e.Value.ToString();
            }
        }

        return new MembershipTableRead(version, rows);
    }

    /// <summary>Writes back the absent rows and raises the version in one step; returns the version written, or null when nothing was absent.</summary>
    public async Task<long?> RestoreAsync(MembershipTableRestore restore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(restore);
        RedisValue[] args = [restore.MinimumVersion.ToString(CultureInfo.InvariantCulture), .. restore.Rows.SelectMany(r => new RedisValue[] { r.Key, r.Value })];
        RedisResult result = await _connection.GetDatabase().ScriptEvaluateAsync(RestoreScript, [_key], args).WaitAsync(CommandTimeout * 2, cancellationToken).ConfigureAwait(false);
        long version = (long)result;
        return version < 0 ? null : version;
    }

    /// <summary><c>appendonly</c>, <c>none</c>, or <c>unknown</c> when Redis refuses CONFIG (a managed Redis may).</summary>
    public async Task<string> PersistenceAsync()
    {
        try
        {
            IServer server = _connection.GetServer(_connection.GetEndPoints()[0]);
            KeyValuePair<string, string>[] config = await server.ConfigGetAsync("appendonly").WaitAsync(CommandTimeout * 2).ConfigureAwait(false);
            return config.FirstOrDefault().Value switch
            {
                "yes" => "appendonly",
                "no" => "none",
                _ => "unknown",
            };
        }
        catch (Exception e) when (e is RedisException or RedisCommandException or TimeoutException or InvalidOperationException)
        {
            return "unknown";
        }
    }

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync().ConfigureAwait(false);
}
