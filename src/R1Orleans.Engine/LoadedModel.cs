using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Model;
using R1Orleans.Transport;

namespace R1Orleans.Engine;

/// <summary>
/// A checkpoint loaded for single-process serving: the model, every routed expert in one shard, and the in-process
/// exchange between them. Owns the open checkpoint files.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    private LoadedModel(CheckpointReader reader, DeepseekV3Model model, ExpertShard experts, InProcessExpertExchange exchange)
    {
        Reader = reader;
        Model = model;
        Experts = experts;
        Exchange = exchange;
    }

    public CheckpointReader Reader { get; }

    public DeepseekV3Model Model { get; }

    public ExpertShard Experts { get; }

    public InProcessExpertExchange Exchange { get; }

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
            progress?.Invoke("routed experts");
            ExpertShard shard = ExpertShard.Load(reader.Config, new WeightLoader(reader), (_, _) => true, mtp);
            // On the CPU, experts run side by side, each on one thread: better than splitting each small matrix.
            InProcessExpertExchange exchange = backend is CpuBackend { Threads: > 1 } cpu
                ? new InProcessExpertExchange(new CpuBackend(1), shard, reader.Config.NRoutedExperts, cpu.Threads)
                : new InProcessExpertExchange(backend, shard, reader.Config.NRoutedExperts);
            DeepseekV3Model model = DeepseekV3Model.Load(reader, backend, exchange, mtp, progress);
            return new LoadedModel(reader, model, shard, exchange);
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

    public void Dispose() => Reader.Dispose();
}
