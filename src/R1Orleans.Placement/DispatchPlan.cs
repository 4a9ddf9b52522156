namespace R1Orleans.Placement;

/// <summary>
/// Where one MoE layer step of one rank sends its rows: one message per destination silo, each holding that silo's
/// (token, slot, expert) rows grouped by expert in token order (DeepEP's dispatch layout, as
/// <c>R1Orleans.Transport.DispatchLayout</c>), made against one placement version (<see cref="Stamp"/>). The experts are
/// exactly the gate's: <c>RowExperts</c> of the row for (t, k) is <c>TopkIds[t * K + k]</c>; only the holder was chosen.
/// A plan is a reusable buffer: routing into it again overwrites it.
/// </summary>
public sealed class DispatchPlan
{
    private PlacementMap? _map;
    private int[] _slotHolder = [];
    private int[] _tokenNodes = [];
    private int[] _destinationMember = [];
    private int[] _destinationOffsets = [0];
    private int[] _destinationOfMember = [];
    private int[] _rowToken = [];
    private int[] _rowSlot = [];
    private int[] _rowExpert = [];

    /// <summary>The map the plan was made with (its holders are the destinations).</summary>
    public PlacementMap Map => _map ?? throw new InvalidOperationException("this plan has not been routed yet");

    /// <summary>The placement version the step must carry to every destination.</summary>
    public PlacementStamp Stamp => Map.Stamp;

    public int Layer { get; private set; }

    public int Tokens { get; private set; }

    public int K { get; private set; }

    public int RowCount => Tokens * K;

    /// <summary>Tokens whose experts span more nodes than the node limit (counted, still dispatched as the gate chose).</summary>
    public int Violations { get; private set; }

    public int DestinationCount { get; private set; }

    /// <summary>The destination index of the rank's own silo (rows run in place, no copy), or -1.</summary>
    public int LocalDestination { get; private set; } = -1;

    public SiloId Destination(int destination) => Map.Member(DestinationMember(destination)).Silo;

    /// <summary>The map member index of a destination.</summary>
    public int DestinationMember(int destination) => _destinationMember.AsSpan(0, DestinationCount)[destination];

    public bool IsLocal(int destination) => destination == LocalDestination;

    /// <summary>Source token of each row sent to <paramref name="destination"/>, grouped by expert, in token order.</summary>
    public ReadOnlySpan<int> RowTokens(int destination) => Rows(_rowToken, destination);

    /// <summary>Source slot (0..K-1) of each row sent to <paramref name="destination"/>.</summary>
    public ReadOnlySpan<int> RowSlots(int destination) => Rows(_rowSlot, destination);

    /// <summary>Expert of each row sent to <paramref name="destination"/>, ascending.</summary>
    public ReadOnlySpan<int> RowExperts(int destination) => Rows(_rowExpert, destination);

    /// <summary>The member index chosen to run (token, slot).</summary>
    public int HolderOf(int token, int slot) => _slotHolder.AsSpan(0, RowCount)[Index(token, slot)];

    /// <summary>The destination index that runs (token, slot); its row sits in that destination's rows.</summary>
    public int DestinationOf(int token, int slot) => _destinationOfMember[HolderOf(token, slot)];

    /// <summary>How many nodes the token's experts span in this plan.</summary>
    public int NodesSpanned(int token) => _tokenNodes.AsSpan(0, Tokens)[token];

    internal Span<int> SlotHolders => _slotHolder.AsSpan(0, RowCount);

    internal Span<int> TokenNodes => _tokenNodes.AsSpan(0, Tokens);

    internal void Reset(PlacementMap map, int layer, int tokens, int k)
    {
        _map = map;
        Layer = layer;
        Tokens = tokens;
        K = k;
        Violations = 0;
        DestinationCount = 0;
        LocalDestination = -1;
        int rows = tokens * k;
        Grow(ref _slotHolder, rows);
        Grow(ref _rowToken, rows);
        Grow(ref _rowSlot, rows);
        Grow(ref _rowExpert, rows);
        Grow(ref _tokenNodes, tokens);
        Grow(ref _destinationMember, map.MemberCount);
        Grow(ref _destinationOffsets, map.MemberCount + 1);
        Grow(ref _destinationOfMember, map.MemberCount);
    }

    internal void SetViolations(int violations) => Violations = violations;

    /// <summary>
    /// Groups the rows by (destination, expert, token) with two stable counting sorts, by expert then by destination
    /// (O(rows + experts + members)); expertStart (experts + 1), memberStart (members + 1) and byExpert (rows) are scratch.
    /// </summary>
    internal void Layout(ReadOnlySpan<int> topkIds, Span<int> expertStart, Span<int> memberStart, Span<int> byExpert, int selfMember)
    {
        int experts = Map.Layout.Experts, members = Map.MemberCount, rows = RowCount;
        expertStart.Clear();
        memberStart.Clear();
        for (int i = 0; i < rows; i++)
        {
            expertStart[topkIds[i] + 1]++;
            memberStart[_slotHolder[i] + 1]++;
        }

        for (int e = 0; e < experts; e++)
        {
            expertStart[e + 1] += expertStart[e];
        }

        for (int m = 0; m < members; m++)
        {
            memberStart[m + 1] += memberStart[m];
        }

        // Rows in (expert, token) order.
        for (int i = 0; i < rows; i++)
        {
            byExpert[expertStart[topkIds[i]]++] = i;
        }

        int d = 0;
        for (int m = 0; m < members; m++)
        {
            _destinationOfMember[m] = -1;
            if (memberStart[m + 1] > memberStart[m])
            {
                _destinationOfMember[m] = d;
                _destinationMember[d] = m;
                _destinationOffsets[d] = memberStart[m];
                if (m == selfMember)
                {
                    LocalDestination = d;
                }

                d++;
            }
        }

        _destinationOffsets[d] = rows;
        DestinationCount = d;

        // Stable by destination: (destination, expert, token) order.
        for (int j = 0; j < rows; j++)
        {
            int i = byExpert[j];
            int row = memberStart[_slotHolder[i]]++;
            _rowToken[row] = i / K;
            _rowSlot[row] = i % K;
            _rowExpert[row] = topkIds[i];
        }
    }

    private ReadOnlySpan<int> Rows(int[] column, int destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(destination);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(destination, DestinationCount);
        int start = _destinationOffsets[destination];
        return column.AsSpan(start, _destinationOffsets[destination + 1] - start);
    }

    private int Index(int token, int slot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(token);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(token, Tokens);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, K);
        return (token * K) + slot;
    }

    private static void Grow(ref int[] array, int length)
    {
        if (array.Length < length)
        {
            array = new int[Math.Max(length, array.Length * 2)];
        }
    }
}
