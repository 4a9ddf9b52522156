namespace R1Orleans.Placement.Balancing;

/// <summary>
/// The steps of EPLB (DeepSeek's expert-parallelism load balancer) as plain functions on one layer (the first, units
/// packed to nodes, is <see cref="FailoverCopies"/>): packing weighted items into bins of bounded count (longest first, into the lightest bin with room),
/// replicating the experts with the highest load per replica, and relabelling interchangeable bins so that they match
/// the previous placement. Every tie goes to the lower index, so the same inputs give the same result.
/// </summary>
internal static class ExpertPacking
{
    /// <summary>
    /// EPLB's replication: <paramref name="experts"/> start with one copy each (or <paramref name="minCopies"/>[i], the
    /// copies they must keep), and each of the remaining slots goes to the expert with the highest load per copy that has
    /// fewer than <paramref name="maxCopies"/> (replicas live on distinct silos). Stops early when only unloaded experts
    /// could take one (a copy of an idle expert buys nothing). Returns the copies of each expert, in the order of
    /// <paramref name="experts"/>.
    /// </summary>
    public static int[] Replicate(int[] experts, ReadOnlySpan<double> w, int slots, int maxCopies, int[]? minCopies = null)
    {
        var copies = new int[experts.Length];
        if (minCopies is null)
        {
            Array.Fill(copies, 1);
        }
        else
        {
            minCopies.CopyTo(copies, 0);
        }

        for (int extra = slots - copies.Sum(); extra > 0; extra--)
        {
            int best = -1;
            for (int i = 0; i < experts.Length; i++)
            {
                // w[i] / copies[i] > w[best] / copies[best]
                if (copies[i] < maxCopies && (best < 0 || w[experts[i]] * copies[best] > w[experts[best]] * copies[i]))
                {
                    best = i;
                }
            }

            if (best < 0 || w[experts[best]] <= 0)
            {
                break;
            }

            copies[best]++;
        }

        return copies;
    }

    /// <summary>
    /// EPLB's packing of physical experts (copy c of expert e weighs w[e] / copies) into <paramref name="bins"/> bins
    /// of at most <paramref name="capacity"/> each, heaviest first into the lightest bin with room, with the one
    /// constraint EPLB lacks: copies of an expert go to distinct bins. When every bin with room already holds the
    /// expert, an item of a full bin that the roomy bin lacks moves there to make room (one always exists: the full
    /// bin has more distinct experts than the roomy one). Returns the experts of every bin.
    /// </summary>
    public static List<int>[] PackReplicas(int[] experts, int[] copies, ReadOnlySpan<double> w, int bins, int capacity, int expertCount)
    {
        var items = new List<(int Expert, double Weight)>();
        for (int i = 0; i < experts.Length; i++)
        {
            for (int c = 0; c < copies[i]; c++)
            {
                items.Add((experts[i], w[experts[i]] / copies[i]));
            }
        }

        items.Sort((a, b) => a.Weight != b.Weight ? b.Weight.CompareTo(a.Weight) : a.Expert.CompareTo(b.Expert));
        var content = new List<int>[bins];
        var itemWeight = new List<double>[bins];
        for (int b = 0; b < bins; b++)
        {
            content[b] = [];
            itemWeight[b] = [];
        }

        var load = new double[bins];
        var holds = new bool[bins * expertCount];
        foreach ((int e, double we) in items)
        {
            int best = -1, roomy = -1;
            for (int b = 0; b < bins; b++)
            {
                if (content[b].Count >= capacity)
                {
                    continue;
                }

                if (roomy < 0 || load[b] < load[roomy])
                {
                    roomy = b;
                }

                if (!holds[(b * expertCount) + e] && (best < 0 || load[b] < load[best]))
                {
                    best = b;
                }
            }

            if (roomy < 0)
            {
                throw new InvalidOperationException($"no room left for expert {e}: {items.Count} physical experts for {bins} bins of {capacity}");
            }

            if (best < 0)
            {
                best = MakeRoom(e, we, roomy);
            }

            content[best].Add(e);
            itemWeight[best].Add(we);
            load[best] += we;
            holds[(best * expertCount) + e] = true;
        }

        return content;

        // Moves an item the roomy bin lacks out of a full bin without e, the move that leaves the heavier of the two
        // bins lightest; returns the bin that now has room for e.
        int MakeRoom(int e, double we, int roomy)
        {
            int bestBin = -1, bestItem = -1;
            double bestScore = double.PositiveInfinity;
            for (int b = 0; b < bins; b++)
            {
                if (b == roomy || holds[(b * expertCount) + e])
                {
                    continue;
                }

                for (int i = 0; i < content[b].Count; i++)
                {
                    int y = content[b][i];
                    if (holds[(roomy * expertCount) + y])
                    {
                        continue;
                    }

                    double wy = itemWeight[b][i];
                    double score = Math.Max(load[roomy] + wy, load[b] - wy + we);
                    if (score < bestScore)
                    {
                        (bestScore, bestBin, bestItem) = (score, b, i);
                    }
                }
            }

            if (bestBin < 0)
            {
                throw new InvalidOperationException($"no bin can take another copy of expert {e}");
            }

            int moved = content[bestBin][bestItem];
            double movedWeight = itemWeight[bestBin][bestItem];
            content[bestBin].RemoveAt(bestItem);
            itemWeight[bestBin].RemoveAt(bestItem);
            load[bestBin] -= movedWeight;
            holds[(bestBin * expertCount) + moved] = false;
            content[roomy].Add(moved);
            itemWeight[roomy].Add(movedWeight);
            load[roomy] += movedWeight;
            holds[(roomy * expertCount) + moved] = true;
            return bestBin;
        }
    }

    /// <summary>
    /// Relabels interchangeable bins: bin b gets target result[b], chosen greedily by the largest overlap (what the
    /// target held before of what the bin holds now), ties to the lower bin then the lower target. Square.
    /// </summary>
    public static int[] MatchByOverlap(int[,] overlap)
    {
        int k = overlap.GetLength(0);
        var target = new int[k];
        Array.Fill(target, -1);
        var taken = new bool[k];
        for (int round = 0; round < k; round++)
        {
            int bestBin = -1, bestTarget = -1, best = -1;
            for (int b = 0; b < k; b++)
            {
                if (target[b] >= 0)
                {
                    continue;
                }

                for (int t = 0; t < k; t++)
                {
                    if (!taken[t] && overlap[b, t] > best)
                    {
                        (best, bestBin, bestTarget) = (overlap[b, t], b, t);
                    }
                }
            }

            target[bestBin] = bestTarget;
            taken[bestTarget] = true;
        }

        return target;
    }
}
