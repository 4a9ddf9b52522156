using R1Orleans.Backend;
using R1Orleans.Conformance;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;
using R1Orleans.Engine;
using R1Orleans.Model;

namespace R1Orleans.GpuCheck;

/// <summary>
/// Every golden model case through the device-resident forward (<see cref="DeviceForward"/>), checked as
/// <see cref="GoldenChecker"/> checks the engine, with the same tolerances: all prompts in one prefill step (logits of
/// every position, routing of every MoE layer), then greedy decode one token per step through the device cache.
/// Activations are poisoned with NaN before the prefill. The MTP head is not part of the device forward.
/// </summary>
public static class ForwardGoldenCheck
{
    public const int BlockSize = 16;

    public static IReadOnlyList<(string Case, GoldenPromptResult Result)> Run(CudaContext context, KernelLibrary kernels, string goldenRoot, DeviceForwardOptions? options = null)
    {
        var results = new List<(string, GoldenPromptResult)>();
        string[] cases = [.. Directory.GetDirectories(goldenRoot).Where(GoldenCase.IsModelCase).Order(StringComparer.Ordinal)];
        if (cases.Length == 0)
        {
            throw new DirectoryNotFoundException($"no golden model case under {goldenRoot}");
        }

        foreach (string dir in cases)
        {
            results.AddRange(RunCase(context, kernels, dir, options).Select(r => (Path.GetFileName(dir), r)));
        }

        return results;
    }

    private static List<GoldenPromptResult> RunCase(CudaContext context, KernelLibrary kernels, string dir, DeviceForwardOptions? options)
    {
        GoldenCase golden = GoldenCase.Load(dir);
        using LoadedModel loaded = LoadedModel.Load(dir, new CpuBackend(), withMtp: false);
        DeepseekV3Model model = loaded.Model;
        IReadOnlyList<GoldenPrompt> prompts = golden.Prompts;
        int maxGreedy = prompts.Max(p => p.Greedy.Length);
        int maxLength = prompts.Max(p => p.Tokens.Length) + maxGreedy;
        int tableWidth = (maxLength + BlockSize - 1) / BlockSize;
        int vocab = model.Config.VocabSize;
        context.MakeCurrent();
        using CudaStream upload = context.CreateStream();
        using DeviceModelWeights weights = DeviceWeightUpload.FromModel(context, upload, model, loaded.Experts);
        using var cache = new DeviceLatentCache(context, model.Blocks.Count, model.Blocks[0].Attention.EntryDim, prompts.Count * tableWidth, BlockSize);
        int prefillRows = prompts.Sum(p => p.Tokens.Length);
        using var forward = new DeviceForward(context, kernels, weights, cache, Math.Max(prefillRows, prompts.Count), prompts.Count, tableWidth, options);

        DeviceSequence[] seqs = [.. prompts.Select(_ => cache.NewSequence())];
        StepPlan prefill = StepPlan.Build([.. prompts.Select((p, i) => seqs[i].Append(p.Tokens))], BlockSize, cache.Blocks, tableWidth, vocab);
        forward.PoisonActivations();
        forward.Run(prefill);
        float[] logits = forward.DownloadLogits(prefill.Rows);
        int[] argmax = forward.DownloadArgmax(prefill.Rows);
        int k = model.Config.NumExpertsPerTok;
        var routing = new Dictionary<int, ExpertRouting>();
        foreach (DeviceLayer layer in weights.Layers.Where(l => l.Moe is not null))
        {
            (int[] ids, float[] w) = forward.DownloadRouting(layer.Layer, prefill.Rows);
            routing[layer.Layer] = new ExpertRouting(prefill.Rows, k, ids, w);
        }

        // Greedy: the first token from the prefill's last row of each prompt, then one token per prompt per step.
        var greedy = prompts.Select(_ => new List<int>()).ToArray();
        int[] next = new int[prompts.Count];
        int start = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            start += prompts[i].Tokens.Length;
            next[i] = argmax[start - 1];
            greedy[i].Add(next[i]);
        }

        for (int step = 1; step < maxGreedy; step++)
        {
            StepPlan decode = StepPlan.Build([.. seqs.Select((s, i) => s.Append([next[i]]))], BlockSize, cache.Blocks, tableWidth, vocab);
            forward.Run(decode);
            next = forward.DownloadArgmax(decode.Rows);
            for (int i = 0; i < prompts.Count; i++)
            {
                greedy[i].Add(next[i]);
            }
        }

        var results = new List<GoldenPromptResult>();
        int row = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            GoldenPrompt p = prompts[i];
            double logitErr = GoldenChecker.RelativeError(logits.AsSpan(row * vocab, p.Tokens.Length * vocab), p.Logits);
            (int decisions, int mismatches, double weightErr) = GoldenChecker.CompareRouting(p, l => routing.GetValueOrDefault(l), row);
            int greedyMismatches = greedy[i].Take(p.Greedy.Length).Zip(p.Greedy, (a, b) => a != b).Count(x => x);
            results.Add(new GoldenPromptResult(p.Index, p.Tokens.Length, logitErr, decisions, mismatches, weightErr, p.Greedy.Length, greedyMismatches, null));
            row += p.Tokens.Length;
        }

        return results;
    }
}
