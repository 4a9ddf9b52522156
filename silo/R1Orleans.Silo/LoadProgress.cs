using System.Diagnostics;
using System.Globalization;
using R1Orleans.Checkpoint;

namespace R1Orleans.Silo;

/// <summary>
/// The stages <c>InferenceEngine.Load</c> reports (tokenizer, routed experts, embedding, layer 0…N−1, head, mtp) with
/// the bytes and tensors each reads, computed from the safetensors headers alone.
/// </summary>
public sealed class LoadPlan
{
    private readonly Dictionary<string, (long Bytes, int Tensors, long Elements)> _stages;

    private LoadPlan(Dictionary<string, (long, int, long)> stages, long totalBytes, int totalTensors)
    {
        _stages = stages;
        TotalBytes = totalBytes;
        TotalTensors = totalTensors;
    }

    public long TotalBytes { get; }

    public int TotalTensors { get; }

    public static LoadPlan FromCheckpoint(string directory)
    {
        using CheckpointReader reader = CheckpointReader.Open(directory);
        return FromTensors(reader.Config, reader.TensorNames.Select(reader.Info));
    }

    public static LoadPlan FromTensors(ModelConfig config, IEnumerable<TensorInfo> tensors)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        var stages = new Dictionary<string, (long, int, long)>(StringComparer.Ordinal);
        long bytes = 0;
        int count = 0;
        foreach (TensorInfo t in tensors)
        {
            string stage = StageOf(config, t.Name);
            (long b, int n, long e) = stages.GetValueOrDefault(stage);

            // Elements as float32 after loading (FP8 scales are folded into their weights).
            long elements = t.Name.EndsWith(TensorNames.ScaleSuffix, StringComparison.Ordinal) ? 0 : t.ElementCount;
            stages[stage] = (b + t.ByteLength, n + 1, e + elements);
            bytes += t.ByteLength;
            count++;
        }

        return new LoadPlan(stages, bytes, count);
    }

    /// <summary>Bytes, tensors and loaded float32 elements of one stage (zero for a stage that reads nothing, e.g. the tokenizer).</summary>
    public (long Bytes, int Tensors, long Elements) Stage(string name) => _stages.GetValueOrDefault(name);

    /// <summary>The stage that reads <paramref name="tensor"/>.</summary>
    public static string StageOf(ModelConfig config, string tensor)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensor);
        const string layers = "model.layers.";
        if (!tensor.StartsWith(layers, StringComparison.Ordinal))
        {
            return tensor.StartsWith("model.embed_tokens.", StringComparison.Ordinal) ? "embedding" : "head";
        }

        int dot = tensor.IndexOf('.', layers.Length);
        int layer = dot < 0 ? -1 : int.Parse(tensor.AsSpan(layers.Length, dot - layers.Length), CultureInfo.InvariantCulture);
        if (tensor.AsSpan(dot).StartsWith(".mlp.experts.", StringComparison.Ordinal))
        {
            return "routed experts";
        }

        return layer >= config.NumHiddenLayers ? "mtp" : $"layer {layer}";
    }
}

/// <summary>A moment of a load: what is being read, how much is done, how fast.</summary>
public sealed record LoadSnapshot(string Stage, long Bytes, long TotalBytes, int Tensors, int TotalTensors, TimeSpan Elapsed)
{
    public double Fraction => TotalBytes == 0 ? 1 : Math.Clamp((double)Bytes / TotalBytes, 0, 1);

    public double BytesPerSecond => Elapsed.TotalSeconds <= 0 ? 0 : Bytes / Elapsed.TotalSeconds;

    public double TensorsPerSecond => Elapsed.TotalSeconds <= 0 ? 0 : Tensors / Elapsed.TotalSeconds;

    public string Describe() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Stage}: {Units.Bytes(Bytes)} of {Units.Bytes(TotalBytes)} ({Fraction:P0}), {Tensors}/{TotalTensors} tensors, {Units.Bytes((long)BytesPerSecond)}/s, {TensorsPerSecond:0} tensors/s");
}

/// <summary>
/// Follows a load through the engine's per-stage callback. Completed stages count exactly (from the headers); within the
/// current stage, progress is estimated from the bytes this process has allocated since the stage began (loading a
/// tensor allocates its float32 values), capped at the stage's size, so the bar moves during a long stage such as the
/// routed experts. Thread-safe: the loader calls <see cref="OnStage"/>, a timer calls <see cref="Snapshot"/>.
/// </summary>
public sealed class LoadTracker(LoadPlan plan)
{
    private readonly Lock _lock = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private string _stage = "opening";
    private long _doneBytes;
    private int _doneTensors;
    private long _stageAllocatedAtStart = GC.GetTotalAllocatedBytes();
    private bool _finished;

    public LoadPlan Plan { get; } = plan;

    /// <summary>The engine's progress callback: a new stage begins, so the previous one is complete.</summary>
    public void OnStage(string stage)
    {
        lock (_lock)
        {
            CompleteCurrent();
            _stage = stage;
            _stageAllocatedAtStart = GC.GetTotalAllocatedBytes();
        }
    }

    public void Finish()
    {
        lock (_lock)
        {
            CompleteCurrent();
            _stage = "done";
            _doneBytes = Plan.TotalBytes;
            _doneTensors = Plan.TotalTensors;
            _finished = true;
            _clock.Stop();
        }
    }

    public LoadSnapshot Snapshot()
    {
        lock (_lock)
        {
            long bytes = _doneBytes;
            int tensors = _doneTensors;
            if (!_finished)
            {
                (long stageBytes, int stageTensors, long stageElements) = Plan.Stage(_stage);
                if (stageElements > 0)
                {
                    double fraction = Math.Clamp((GC.GetTotalAllocatedBytes() - _stageAllocatedAtStart) / (4.0 * stageElements), 0, 0.99);
                    bytes += (long)(fraction * stageBytes);
                    tensors += (int)(fraction * stageTensors);
                }
            }

            return new LoadSnapshot(_stage, bytes, Plan.TotalBytes, tensors, Plan.TotalTensors, _clock.Elapsed);
        }
    }

    private void CompleteCurrent()
    {
        (long bytes, int tensors, _) = Plan.Stage(_stage);
        _doneBytes = Math.Min(Plan.TotalBytes, _doneBytes + bytes);
        _doneTensors = Math.Min(Plan.TotalTensors, _doneTensors + tensors);
    }
}

internal static class Units
{
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KB", "MB", "GB", "TB"];
        double v = bytes;
        int u = 0;
        while (v >= 1000 && u < units.Length - 1)
        {
            v /= 1000;
            u++;
        }

        return u == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B") : string.Create(CultureInfo.InvariantCulture, $"{v:0.0} {units[u]}");
    }
}
