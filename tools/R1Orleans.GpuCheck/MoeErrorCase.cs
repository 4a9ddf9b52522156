using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>
/// Writes one MoE step's inputs and this backend's output to a folder, for tools/gpu/torch_error.py to set beside
/// PyTorch on the same inputs: the error of the fast path (FP8 weights exact, activations through the tensor cores as
/// f16) and of PyTorch's BF16 and FP8 paths, each against a float64 reference. Files, little-endian, row-major:
/// x.f32 [T, H], ids.i32 and weights.f32 [T, K], w13.u8 [E, 2I, H], w2.u8 [E, H, I] (e4m3 codes as a checkpoint holds
/// them), s13.f32 [E, 2I/128, H/128], s2.f32 [E, H/128, I/128], out.f32 [T, H]; case.json gives the shape.
/// </summary>
public static class MoeErrorCase
{
    public static CheckResult Write(string folder, MoeFp8Experts moe, MoeWeights weights, CudaStream stream, Random rng, int tokens)
    {
        Directory.CreateDirectory(folder);
        float[] x = Rng.Uniform(rng, tokens * moe.Hidden, -1f, 1f);
        (int[] ids, float[] w) = Rng.Routing(rng, tokens, moe.TopK, moe.Experts);
        moe.X.Upload<float>(x);
        moe.TopkIds.Upload<int>(ids);
        moe.TopkWeights.Upload<float>(w);
        moe.Output.Fill32(OpChecks.Poison);
        MoeLaunchConfig config = MoeLaunchConfig.ForTokens(tokens);
        moe.Forward(stream, tokens, config);
        stream.Synchronize();
        float[] output = moe.Output.Download<float>(tokens * moe.Hidden);

        Save(folder, "x.f32", x);
        Save(folder, "ids.i32", ids);
        Save(folder, "weights.f32", w);
        Save(folder, "w13.u8", weights.W13RowMajor.Download<byte>(checked((int)weights.W13RowMajor.Bytes)));
        Save(folder, "w2.u8", weights.W2RowMajor.Download<byte>(checked((int)weights.W2RowMajor.Bytes)));
        Save(folder, "s13.f32", moe.S13.Download<float>((int)(moe.S13.Bytes / 4)));
        Save(folder, "s2.f32", moe.S2.Download<float>((int)(moe.S2.Bytes / 4)));
        Save(folder, "out.f32", output);
        var shape = new { tokens, experts = moe.Experts, hidden = moe.Hidden, intermediate = moe.Intermediate, topK = moe.TopK, config = config.ShortName };
        File.WriteAllText(Path.Combine(folder, "case.json"), JsonSerializer.Serialize(shape));

        // The output against the CPU reference, as every check (NaN never passes).
        float[] expected = MoeReference.Compute(moe, weights, x, ids, w, tokens);
        string name = string.Create(CultureInfo.InvariantCulture, $"moe_fp8 T={tokens} E={moe.Experts} H={moe.Hidden} I={moe.Intermediate} written for torch_error.py");
        return new CheckResult(name, MoeCheck.Tolerance, Agreement.Of(output, expected));
    }

    private static void Save<T>(string folder, string name, T[] values)
        where T : unmanaged => File.WriteAllBytes(Path.Combine(folder, name), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
}
