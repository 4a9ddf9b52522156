namespace R1Orleans.Placement.Balancing;

/// <summary>
/// Merges the <see cref="ExpertLoadWindow"/>s that silos publish into one <see cref="ExpertLoadEstimate"/>: per silo an
/// exponential average of its rates (tokens per second of window) per (layer, expert), summed over the silos heard from
/// within <see cref="StaleAfter"/>. Lossy input is expected (streams drop messages, silos die): a missing window is a
/// gap in a silo's numbers and only leaves its average older, a silo that stops publishing drops out of the estimate
/// after <see cref="StaleAfter"/> (or at once through <see cref="Forget"/>), duplicates and late windows are ignored,
/// counts naming a layer or expert outside the layout are ignored. None of these throws: they degrade the estimate.
/// Not thread-safe: one owner (the load-balancer grain, whose turns are serial).
/// </summary>
public sealed class ExpertLoadAggregator
{
    private readonly Dictionary<SiloId, SiloRates> _silos = [];
    private readonly Dictionary<int, int> _layerIndex = [];

    /// <param name="layout">The layers and experts the estimate covers.</param>
    /// <param name="smoothing">The weight of a new window in a silo's average, in (0, 1]; 1 keeps only the latest.</param>
    /// <param name="staleAfter">How long after its last window a silo still counts; 30 s when not given.</param>
    public ExpertLoadAggregator(ExpertLayout layout, double smoothing = 0.5, TimeSpan? staleAfter = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (!(smoothing > 0 && smoothing <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(smoothing), $"smoothing {smoothing} must be in (0, 1]");
        }

        Layout = layout;
        Smoothing = smoothing;
        StaleAfter = staleAfter ?? TimeSpan.FromSeconds(30);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StaleAfter, TimeSpan.Zero, nameof(staleAfter));
        for (int li = 0; li < layout.MoeLayers.Count; li++)
        {
            _layerIndex[layout.MoeLayers[li]] = li;
        }
    }

    public ExpertLayout Layout { get; }

    public double Smoothing { get; }

    public TimeSpan StaleAfter { get; }

    /// <summary>Windows taken into the estimate.</summary>
    public long WindowsTaken { get; private set; }

    /// <summary>Windows known lost: gaps in a silo's window numbers.</summary>
    public long WindowsMissed { get; private set; }

    /// <summary>Windows refused as duplicates or older than one already taken from the same silo.</summary>
    public long WindowsIgnored { get; private set; }

    /// <summary>Counts left out because they named a layer, expert or token count outside the layout.</summary>
    public long CountsIgnored { get; private set; }

    /// <summary>The silos with an average, fresh or not.</summary>
    public IReadOnlyCollection<SiloId> Silos => _silos.Keys;

    /// <summary>
    /// Takes one silo's window, received at <paramref name="receivedAt"/>. Returns false when it was ignored (a
    /// duplicate or a late window of a silo already past it).
    /// </summary>
    public bool Offer(ExpertLoadWindow window, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (!_silos.TryGetValue(window.Silo, out SiloRates? silo))
        {
            silo = new SiloRates(new double[Layout.MoeLayers.Count * Layout.Experts]);
            _silos[window.Silo] = silo;
        }
        else if (window.Window <= silo.LastWindow)
        {
            WindowsIgnored++;
            return false;
        }

        if (silo.LastWindow > 0 && window.Window > silo.LastWindow + 1)
        {
            WindowsMissed += window.Window - silo.LastWindow - 1;
        }

        double seconds = window.Duration > TimeSpan.Zero ? window.Duration.TotalSeconds : 1;
        var rates = new double[silo.Rates.Length];
        foreach (ExpertReplicaLoad c in window.Counts ?? [])
        {
            if (!_layerIndex.TryGetValue(c.Layer, out int li) || (uint)c.Expert >= (uint)Layout.Experts || c.Tokens < 0)
            {
                CountsIgnored++;
                continue;
            }

            rates[(li * Layout.Experts) + c.Expert] += c.Tokens / seconds;
        }

        double a = silo.LastWindow == 0 ? 1 : Smoothing;
        for (int i = 0; i < rates.Length; i++)
        {
            silo.Rates[i] = (a * rates[i]) + ((1 - a) * silo.Rates[i]);
        }

        silo.LastWindow = window.Window;
        silo.LastReceived = receivedAt;
        WindowsTaken++;
        return true;
    }

    /// <summary>Drops a silo's average at once (membership declared it dead, or it left).</summary>
    public bool Forget(SiloId silo) => _silos.Remove(silo);

    /// <summary>The summed rates of the silos heard from within <see cref="StaleAfter"/> of <paramref name="now"/>.</summary>
    public ExpertLoadEstimate Estimate(DateTimeOffset now)
    {
        var flat = new double[Layout.MoeLayers.Count * Layout.Experts];
        int fresh = 0;
        foreach (SiloRates silo in _silos.Values)
        {
            if (now - silo.LastReceived > StaleAfter)
            {
                continue;
            }

            fresh++;
            for (int i = 0; i < flat.Length; i++)
            {
                flat[i] += silo.Rates[i];
            }
        }

        return ExpertLoadEstimate.FromFlat(Layout, flat, fresh);
    }

    private sealed class SiloRates(double[] rates)
    {
        public double[] Rates { get; } = rates;

        public long LastWindow { get; set; }

        public DateTimeOffset LastReceived { get; set; }
    }
}
