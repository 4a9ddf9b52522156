using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using R1Orleans.Placement;
using R1Orleans.Transport.Experts;

namespace R1Orleans.Transport.Cluster;

/// <summary>
/// Failover inside a step: the rows a failed holder had are sent again, in the same step, to a live holder of their
/// expert (a replica, or this rank's own holder), or, when every holder of an expert is suspect, to the holders of the
/// next placement the control plane publishes (the survivors load the lost experts by tensor name). Every row of a step
/// is answered by some holder of its expert, so the step's result is the one it would have had: a missing expert is
/// never skipped.
/// </summary>
public sealed partial class ClusterExpertExchange
{
    private void Recover(Step s, Recovery recovery)
    {
        long started = Stopwatch.GetTimestamp();
        int total = recovery.Count;
        PlacementMap map = s.Plan.Map;
        ExpertStepFailedException last = recovery.First;
        TimeSpan deadline = EffectiveDeadline;
        bool retrySuspects = false;
        List<int> pending = [.. Enumerable.Range(0, recovery.Count)];
        while (pending.Count > 0)
        {
            if (_placement.Current is { } newest && newest.Epoch > map.Epoch)
            {
                map = newest;
            }

            // Each row to a live holder of its expert: this silo first (in place), then the first replica not suspect.
            // When every holder of an expert has failed and no newer placement has come, its first holder is tried
            // again with a doubled deadline: it may only have been slow (a silent one costs a deadline each time; a
            // dead one fails at once, and the loop waits for the placement that drops it, up to RecoveryTimeout).
            var byMember = new SortedDictionary<int, List<int>>();
            var orphans = new List<int>();
            foreach (int row in pending)
            {
                int member = LiveHolder(map, s.Layer, recovery.Expert(row), retrySuspects);
                if (member < 0)
                {
                    orphans.Add(row);
                }
                else
                {
                    if (!byMember.TryGetValue(member, out List<int>? rows))
                    {
                        byMember[member] = rows = [];
                    }

                    rows.Add(row);
                }
            }

            retrySuspects = false;
            if (byMember.Count == 0)
            {
                if (Stopwatch.GetElapsedTime(started) > RecoveryTimeout)
                {
                    // Named for the first failure (the cause); the last retry's reason is told too.
                    ExpertStepFailedException first = recovery.First;
                    string lastReason = ReferenceEquals(last, first) ? "" : $"; last try: {last.Holder} {last.Reason}";
                    throw new ExpertStepFailedException(first.Holder, s.Layer, first.Failure,
                        $"expert {recovery.Expert(orphans[0])} has no live holder and no placement gave it one within {RecoveryTimeout.TotalSeconds:0.#} s ({first.Reason}{lastReason})", last);
                }

                Thread.Sleep(5);
                deadline = deadline * 2 < RecoveryTimeout ? deadline * 2 : RecoveryTimeout;
                retrySuspects = true;
                pending = orphans;
                continue;
            }

            long sent = Stopwatch.GetTimestamp();
            var calls = new List<(int Member, List<int> Rows, byte[] Buffer, Task<IExpertReply> Reply)>();
            var failed = new List<int>(orphans);
            foreach ((int member, List<int> rows) in byMember)
            {
                rows.Sort((a, b) => recovery.Expert(a).CompareTo(recovery.Expert(b)));
                SiloId holder = map.Member(member).Silo;
                if (holder == _self.Silo)
                {
                    if (!TryRunLocal(s, map.Stamp, recovery, rows))
                    {
                        failed.AddRange(rows);
                    }

                    continue;
                }

                ExpertGroup[] groups = ExpertGroup.Of([.. rows.Select(recovery.Expert)]);
                int length = ExpertStepCodec.RequestLength(groups.Length, rows.Count, s.Hidden);
                byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
                ExpertStepCodec.WriteRequest(buffer, map.Stamp, s.Layer, s.Hidden, CollectionsMarshal.AsSpan(rows), groups, recovery.Activations);
                Statistics.OnSent(length);
                calls.Add((member, rows, buffer, _transport.CallAsync(holder, buffer.AsMemory(0, length), deadline)));
            }

            foreach ((int member, List<int> rows, byte[] buffer, Task<IExpertReply> call) in calls)
            {
                SiloId holder = map.Member(member).Silo;
                try
                {
                    ExpertStepFailedException? failure = Await(s, holder, call, out IExpertReply? reply);
                    if (reply is not null)
                    {
                        using (reply)
                        {
                            failure = Scatter(s, holder, [.. rows.Select(recovery.Token)], [.. rows.Select(recovery.Slot)], reply.Bytes.Span);
                        }
                    }

                    if (failure is not null)
                    {
                        Statistics.OnFailedCall(failure.Failure, Stopwatch.GetElapsedTime(sent));
                        Suspects.Suspect(holder);
                        last = failure;
                        failed.AddRange(rows);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            pending = failed;
        }

        Statistics.OnRecovered(total, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// A holder of the expert that has not failed this rank, this silo preferred; -1 when every holder has (or, with
    /// <paramref name="retrySuspects"/>, the first holder anyway).
    /// </summary>
    private int LiveHolder(PlacementMap map, int layer, int expert, bool retrySuspects)
    {
        ReadOnlySpan<int> holders = map.HolderIndexes(layer, expert);
        int self = map.IndexOf(_self.Silo);
        if (self >= 0 && holders.Contains(self) && !Suspects.IsSuspect(_self.Silo))
        {
            return self;
        }

        foreach (int m in holders)
        {
            if (!Suspects.IsSuspect(map.Member(m).Silo))
            {
                return m;
            }
        }

        return retrySuspects ? holders[0] : -1;
    }

    /// <summary>Runs re-dispatched rows on this silo's holder; false when it does not serve that placement yet.</summary>
    private bool TryRunLocal(Step s, PlacementStamp stamp, Recovery recovery, List<int> rows)
    {
        ExpertGroup[] groups = ExpertGroup.Of([.. rows.Select(recovery.Expert)]);
        int hidden = s.Hidden, k = s.Routing.K;
        float[] input = ArrayPool<float>.Shared.Rent(rows.Count * hidden);
        float[] output = ArrayPool<float>.Shared.Rent(rows.Count * hidden);
        try
        {
            for (int r = 0; r < rows.Count; r++)
            {
                recovery.Activations.AsSpan(rows[r] * hidden, hidden).CopyTo(input.AsSpan(r * hidden, hidden));
            }

            _local.RunInPlace(stamp, s.Layer, hidden, groups, input, output);
            for (int r = 0; r < rows.Count; r++)
            {
                output.AsSpan(r * hidden, hidden).CopyTo(s.ExpertOut.AsSpan(((recovery.Token(rows[r]) * k) + recovery.Slot(rows[r])) * hidden, hidden));
            }

            return true;
        }
        catch (Exception e) when (e is PlacementFenceException or KeyNotFoundException)
        {
            Suspects.Suspect(_self.Silo);
            return false;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
            ArrayPool<float>.Shared.Return(output);
        }
    }

    /// <summary>The rows of a step's failed calls: where each goes back (token, slot), its expert, and its activations.</summary>
    private sealed class Recovery(int hidden, ExpertStepFailedException first)
    {
        private readonly List<(int Token, int Slot, int Expert)> _rows = [];
        private float[] _activations = new float[hidden * 16];

        public ExpertStepFailedException First { get; } = first;

        public int Count => _rows.Count;

        /// <summary>Row i's activations at [i * hidden, (i + 1) * hidden).</summary>
        public float[] Activations => _activations;

        public int Token(int row) => _rows[row].Token;

        public int Slot(int row) => _rows[row].Slot;

        public int Expert(int row) => _rows[row].Expert;

        /// <summary>Takes a failed call's rows, activations read back from its request (the step keeps no other copy).</summary>
        public void Add(Step s, Call call)
        {
            ExpertStepRequest request = ExpertStepCodec.ReadRequest(call.Request.AsSpan(0, call.Length));
            ReadOnlySpan<float> x = MemoryMarshal.Cast<byte, float>(call.Request.AsSpan(request.RowsOffset, call.Length - request.RowsOffset));
            ReadOnlySpan<int> tokens = s.Plan.RowTokens(call.Destination), slots = s.Plan.RowSlots(call.Destination), experts = s.Plan.RowExperts(call.Destination);
            int start = _rows.Count;
            if (_activations.Length < (start + tokens.Length) * hidden)
            {
                Array.Resize(ref _activations, Math.Max(_activations.Length * 2, (start + tokens.Length) * hidden));
            }

            for (int r = 0; r < tokens.Length; r++)
            {
                _rows.Add((tokens[r], slots[r], experts[r]));
                x.Slice(r * hidden, hidden).CopyTo(_activations.AsSpan((start + r) * hidden, hidden));
            }
        }
    }
}
