using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Model;
using R1Orleans.Transport;

namespace R1Orleans.Engine;

/// <summary>Builds a rank's expert exchange once the checkpoint is open (a cluster rank's: its holders are elsewhere).</summary>
public delegate IExpertExchange ExpertExchangeFactory(CheckpointReader reader, bool withMtp);

/// <summary>
/// A checkpoint loaded for serving: the model and the expert exchange it reaches its routed experts through. By
/// default (single process) every routed expert is loaded into one shard behind the in-process exchange; a cluster
/// rank passes its own exchange and loads no routed expert here. Owns the open checkpoint files.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    private LoadedModel(CheckpointReader reader, DeepseekV3Model model, IExpertExchange exchange, ExpertShard experts, long weightBytes)
    {
        WeightBytes = weightBytes;
        Reader = reader;
        Model = model;
        Exchange = exchange;
        Experts = experts;
    }

    public CheckpointReader Reader { get; }

    /// <summary>Bytes of the weights this process loaded and holds (FP8 weights at a byte per value plus their scales; MLA's absorbed copies included).</summary>
    public long WeightBytes { get; }

    public DeepseekV3Model Model { get; }

    public IExpertExchange Exchange { get; }

    /// <summary>The routed experts loaded by this model (all of them in one process; none for a cluster rank, whose holders load theirs).</summary>
    public ExpertShard Experts { get; }

    /// <summary>Tokens this rank routed per (layer, expert).</summary>
    public ExpertLoadCounter ExpertLoad => (Exchange as IExpertLoadSource)?.Load ?? new ExpertLoadCounter();

    public ModelConfig Config => Model.Config;

    public static LoadedModel Load(string directory, IComputeBackend backend, bool withMtp = true, Action<string>? progress = null) =>
        Load(directory, backend, new ModelLoadOptions { WithMtp = withMtp }, progress);

    /// <summary>
    /// Opens the checkpoint, checks what <paramref name="options"/> require of it before reading any weight, then loads
    /// every weight (failing on a non-finite one unless allowed). progress, if given, is called with each tensor group.
    /// </summary>
    public static LoadedModel Load(string directory, IComputeBackend backend, ModelLoadOptions options, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckpointReader reader = CheckpointReader.Open(directory, new CheckpointReadOptions { AllowNonfiniteWeights = options.AllowNonfiniteWeights });
        try
        {
            if (options.RequireMtp)
            {
                reader.RequireMtp();
            }

            bool mtp = (options.WithMtp || options.RequireMtp) && reader.HasMtp;
            var weights = new WeightLoader(reader, options.KeepFp8Weights);
            IExpertExchange experts;
            ExpertShard shard = new();
            if (options.Exchange is { } exchange)
            {
                experts = exchange(reader, mtp);
            }
            else
            {
                progress?.Invoke("routed experts");
                shard = ExpertShard.Load(reader.Config, weights, (_, _) => true, mtp);

                // On the CPU, experts run side by side, each on one thread: better than splitting each small matrix.
                experts = backend is CpuBackend { Threads: > 1 } cpu
                    ? new InProcessExpertExchange(new CpuBackend(1), shard, reader.Config.NRoutedExperts, cpu.Threads)
                    : new InProcessExpertExchange(backend, shard, reader.Config.NRoutedExperts);
            }

            DeepseekV3Model model = DeepseekV3Model.Load(reader, backend, experts, mtp, progress, weights);
            var loaded = new LoadedModel(reader, model, experts, shard, weights.ResidentBytes);
            if (options.Accelerator is { } accelerate && options.Exchange is null)
            {
                progress?.Invoke("accelerator");
                ExpertLoadCounter load = loaded.ExpertLoad;
                model.UseAccelerator(accelerate(model, shard, (layer, routing) => CountLoad(load, layer, routing)));
            }

            return loaded;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>A latent cache sized for maxTokens positions in total, for every cache layer of this model.</summary>
    public PagedLatentCache NewCache(int maxTokens, int blockSize = 16) =>
        new(Model.CacheLayers, Config.LatentCacheDim, blockSize, (maxTokens + blockSize - 1) / blockSize);

    public void Dispose()
    {
        (Model.Accelerator as IDisposable)?.Dispose();
        Reader.Dispose();
    }

    /// <summary>Tokens per expert of one accelerated layer step, as the in-process exchange counts what it dispatches.</summary>
    private static void CountLoad(ExpertLoadCounter load, int layer, ExpertRouting routing)
    {
        foreach (IGrouping<int, int> expert in routing.TopkIds.Where(e => e >= 0).GroupBy(e => e))
        {
            load.Add(layer, expert.Key, expert.Count());
        }
    }
}
