using R1Orleans.Checkpoint;
using R1Orleans.Client.Benchmarks;

namespace R1Orleans.Client.Tests;

public sealed class ModelCostTests
{
    [Fact]
    public void Fp8_resident_decode_bytes_count_linear_weights_at_a_byte_plus_scales_and_the_rest_as_float32()
    {
        ModelConfig c = SyntheticCheckpoint.MediumConfig();
        var f32 = new ModelCost(c);
        var fp8 = new ModelCost(c, fp8Resident: true);
        const long Experts = 10;
        long all = Enumerable.Range(0, c.NumHiddenLayers).Sum(f32.LayerStaticParams) + (Experts * f32.ExpertParams) + f32.HeadParams;
        Assert.Equal(4 * all, f32.DecodeWeightBytes(Experts));

        int moeLayers = Enumerable.Range(0, c.NumHiddenLayers).Count(c.IsMoeLayer);
        long floatParams = f32.HeadParams + (c.NumHiddenLayers * f32.KvBParams) + ((long)moeLayers * c.NRoutedExperts * c.HiddenSize);
        long expected = (4 * floatParams) + (long)((1 + (4.0 / (128 * 128))) * (all - floatParams));
        Assert.Equal(expected, fp8.DecodeWeightBytes(Experts));
    }

    [Fact]
    public void A_checkpoint_without_quantization_costs_float32_bytes_even_when_fp8_is_asked_for()
    {
        ModelConfig c = SyntheticCheckpoint.TinyConfig() with { Quantization = null };
        Assert.Equal(new ModelCost(c).DecodeWeightBytes(3), new ModelCost(c, fp8Resident: true).DecodeWeightBytes(3));
    }
}
