using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Engine;

namespace R1Orleans.Model.Tests;

/// <summary>
/// A whole FP8 model loaded with its linear weights kept FP8 computes the very bits it computes with them dequantized
/// to float32 at load (the loader's behaviour before FP8-resident weights), in a quarter of the bytes.
/// </summary>
public sealed class Fp8ResidentModelTests
{
    private static readonly int[] s_prompt = [5, 17, 3, 60, 22, 9, 41, 2, 33, 7, 101, 64];

    [Fact]
    public void Fp8_resident_weights_give_bit_identical_logits_to_float32_weights_in_prefill_and_decode()
    {
        using var dir = new TempDirectory();
        ModelConfig config = TestConfigs.Small() with
        {
            VocabSize = 160,
            HiddenSize = 160, // 128 + a partial block of 32
            IntermediateSize = 272,
            MoeIntermediateSize = 40,
            NumHiddenLayers = 2,
            NumNextnPredictLayers = 1,
            Quantization = new Fp8Quantization("e4m3", 128, 128),
        };
        SyntheticCheckpoint.Write(dir.Path, config, new SyntheticCheckpointOptions(Seed: 5));
        using LoadedModel fp8 = LoadedModel.Load(dir.Path, new CpuBackend(threads: 2), new ModelLoadOptions());
        using LoadedModel f32 = LoadedModel.Load(dir.Path, new CpuBackend(threads: 2), new ModelLoadOptions { KeepFp8Weights = false });

        (float[] Logits, float[] Draft) Run(LoadedModel m)
        {
            PagedSequenceCache seq = m.NewCache(64, blockSize: 4).NewSequence();
            seq.Reserve(s_prompt.Length + 1);
            ModelOutput prefill = m.Model.Forward(BatchBuilder.Prefill([s_prompt], [seq]));
            ModelOutput step = m.Model.Forward(BatchBuilder.Decode([11], [s_prompt.Length], [seq]));
            ModelOutput draft = m.Model.Mtp!.Forward(BatchBuilder.Decode([12], [s_prompt.Length], [seq]), step.Hidden, [0]);
            return ([.. prefill.Logits, .. step.Logits], draft.Logits);
        }

        (float[] a, float[] da) = Run(fp8);
        (float[] b, float[] db) = Run(f32);
        Assert.Equal(b.Length, a.Length);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]), $"logit {i}: FP8-resident {a[i]:R}, float32 {b[i]:R}");
        }

        Assert.Equal(db, da);
        Assert.True(fp8.WeightBytes < f32.WeightBytes * 0.6, $"FP8-resident {fp8.WeightBytes} bytes, float32 {f32.WeightBytes}");
    }
}
