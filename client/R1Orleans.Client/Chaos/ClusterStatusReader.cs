using System.Net;
using System.Text.Json;

namespace R1Orleans.Client.Chaos;

/// <summary>What one <c>/cluster/status</c> answer says, in the terms the harness uses (see <see cref="StatusRecord"/>).</summary>
public sealed record ClusterSnapshot(IReadOnlyList<SiloObservation> Silos, long? Version, long? PendingVersion, bool ExpertsCovered, long? ThisSiloVersion)
{
    /// <summary>A committed placement covering every expert, nothing pending, and the asked silo on it.</summary>
    public bool Settled => Version is not null && PendingVersion is null && ExpertsCovered && ThisSiloVersion == Version;

    /// <summary>Equal for the history's purposes (the same silos, experts and versions).</summary>
    public bool SameAs(ClusterSnapshot? other) => other is not null && Version == other.Version && PendingVersion == other.PendingVersion
        && ExpertsCovered == other.ExpertsCovered && Silos.SequenceEqual(other.Silos);
}

/// <summary>Reads a silo's <c>/health</c> and <c>/cluster/status</c>; failures (refused, timeouts, errors) read as "not there".</summary>
public sealed class ClusterStatusReader(HttpClient http)
{
    public async Task<bool> HealthyAsync(Uri silo, CancellationToken cancellationToken)
    {
        try
        {
            using HttpResponseMessage response = await http.GetAsync(new Uri(silo, "/health"), cancellationToken).ConfigureAwait(false);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public async Task<ClusterSnapshot?> ReadAsync(Uri silo, CancellationToken cancellationToken)
    {
        try
        {
            string body = await http.GetStringAsync(new Uri(silo, "/cluster/status"), cancellationToken).ConfigureAwait(false);
            return Parse(body);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException
            or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    public static ClusterSnapshot Parse(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        SiloObservation[] silos = [.. root.GetProperty("silos").EnumerateArray()
            .Select(s => new SiloObservation(s.GetProperty("silo").GetString() ?? "", s.GetProperty("node").GetString() ?? "", s.GetProperty("expertsPlaced").GetInt32()))];
        return new ClusterSnapshot(silos, Number(root, "version"), Number(root, "pendingVersion"), root.GetProperty("expertsCovered").GetBoolean(), Number(root, "thisSiloVersion"));
    }

    private static long? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;
}
