namespace R1Orleans.Checkpoint.Tests;

/// <summary>
/// A weight holding NaN or ±Inf fails its read, naming the tensor and the first bad element, unless the reader was
/// opened with <see cref="CheckpointReadOptions.AllowNonfiniteWeights"/>. FP8 weights are checked after their block
/// scale is applied, so a finite code times a huge scale is caught too.
/// </summary>
public sealed class NonfiniteWeightTests : IDisposable
{
    private static readonly CheckpointReadOptions Allow = new() { AllowNonfiniteWeights = true };

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Synthetic(ModelConfig config, string name)
    {
        string dir = _dir.Sub(name);
        SyntheticCheckpoint.Write(dir, config, new SyntheticCheckpointOptions(Seed: 4));
        return dir;
    }

    private static string WeightsFile(string dir) => Path.Combine(dir, CheckpointReader.SingleFileName);

    private static CheckpointFormatException ReadFails(string dir, string tensor, bool keepFp8Codes = false)
    {
        using CheckpointReader r = CheckpointReader.Open(dir);
        return Assert.Throws<CheckpointFormatException>(() => keepFp8Codes ? r.ReadFp8Weight(tensor) : (object)r.ReadWeight(tensor));
    }

    [Theory]
    [InlineData(0, 0x7FC0, "NaN")]
    [InlineData(17, 0xFFC1, "NaN")] // negative NaN with a payload
    [InlineData(31, 0x7F80, "+Inf")]
    [InlineData(5, 0xFF80, "-Inf")]
    public void Bf16_weight_with_a_nonfinite_element_fails_naming_tensor_and_index(int index, int bits, string what)
    {
        string dir = Synthetic(TestFiles.Micro(), "bf16");
        string victim = TensorNames.FinalNorm; // BF16 [32]
        TestFiles.PatchElement(WeightsFile(dir), victim, index, BitConverter.GetBytes((ushort)bits));

        CheckpointFormatException e = ReadFails(dir, victim);
        Assert.Equal(victim, e.Tensor);
        Assert.Equal(WeightsFile(dir), e.File);
        Assert.Contains($"element {index} [{index}] is {what}", e.Problem, StringComparison.Ordinal);
        Assert.Contains("AllowNonfiniteWeights", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_first_nonfinite_element_is_named()
    {
        string dir = Synthetic(TestFiles.Micro(), "first");
        string victim = TensorNames.Mlp(0, "down_proj"); // BF16 [32, 48]
        TestFiles.PatchElement(WeightsFile(dir), victim, 48 * 7 + 3, BitConverter.GetBytes((ushort)0xFF80));
        TestFiles.PatchElement(WeightsFile(dir), victim, 48 * 9, BitConverter.GetBytes((ushort)0x7FC0));

        CheckpointFormatException e = ReadFails(dir, victim);
        Assert.Contains($"element {(48 * 7) + 3} [7, 3] is -Inf", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void F32_gate_bias_with_infinity_fails()
    {
        string dir = Synthetic(TestFiles.Micro(), "f32");
        string victim = TensorNames.GateBias(1); // F32 [8]
        TestFiles.PatchElement(WeightsFile(dir), victim, 6, BitConverter.GetBytes(float.PositiveInfinity));

        CheckpointFormatException e = ReadFails(dir, victim);
        Assert.Equal(victim, e.Tensor);
        Assert.Contains("element 6 [6] is +Inf", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8191)]
    [InlineData(8192)]
    [InlineData(8193)]
    [InlineData(40_000)]
    [InlineData(65_535)]
    public void A_nonfinite_element_anywhere_in_a_large_tensor_is_found(int index)
    {
        string dir = Synthetic(SyntheticCheckpoint.TinyConfig(), "large");
        string victim = TensorNames.Embedding; // BF16 [512, 128]
        TestFiles.PatchElement(WeightsFile(dir), victim, index, BitConverter.GetBytes((ushort)0x7FC0));

        CheckpointFormatException e = ReadFails(dir, victim);
        Assert.Contains($"element {index} [{index / 128}, {index % 128}] is NaN", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)] // ReadWeight: dequantized to float32
    [InlineData(true)] // ReadFp8Weight: codes and scales kept, checked as the float32 read checks them
    public void Fp8_nan_code_fails_naming_the_weight_and_its_row_and_column(bool keepCodes)
    {
        string dir = Synthetic(TestFiles.Micro(fp8: true), "fp8nan" + keepCodes);
        string victim = TensorNames.Expert(2, 3, "up_proj"); // F8_E4M3 [16, 32]
        TestFiles.PatchElement(WeightsFile(dir), victim, (5 * 32) + 9, [0x7F]);

        CheckpointFormatException e = ReadFails(dir, victim, keepCodes);
        Assert.Equal(victim, e.Tensor);
        Assert.Contains($"element {(5 * 32) + 9} [5, 9] is NaN", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)] // ReadWeight: dequantized to float32
    [InlineData(true)] // ReadFp8Weight: codes and scales kept, checked as the float32 read checks them
    public void Fp8_finite_code_times_a_huge_scale_overflows_and_fails_on_the_weight(bool keepCodes)
    {
        string dir = Synthetic(TestFiles.Micro(fp8: true), "fp8inf" + keepCodes);
        string victim = TensorNames.Attn(1, "o_proj"); // F8_E4M3 [32, 16], one 128x128 block
        TestFiles.PatchElement(WeightsFile(dir), victim, 0, [0x7E]); // +448, the largest finite code
        TestFiles.PatchElement(WeightsFile(dir), TensorNames.ScaleOf(victim), 0, BitConverter.GetBytes(1e38f));

        CheckpointFormatException e = ReadFails(dir, victim, keepCodes);
        Assert.Equal(victim, e.Tensor);
        Assert.Contains("element 0 [0, 0] is +Inf", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)] // ReadWeight: dequantized to float32
    [InlineData(true)] // ReadFp8Weight: codes and scales kept, checked as the float32 read checks them
    public void Fp8_nan_scale_fails_naming_the_scale(bool keepCodes)
    {
        string dir = Synthetic(TestFiles.Micro(fp8: true), "fp8scale" + keepCodes);
        string weight = TensorNames.Attn(0, "q_b_proj");
        TestFiles.PatchElement(WeightsFile(dir), TensorNames.ScaleOf(weight), 0, BitConverter.GetBytes(float.NaN));

        CheckpointFormatException e = ReadFails(dir, weight, keepCodes);
        Assert.Equal(TensorNames.ScaleOf(weight), e.Tensor);
        Assert.Contains("element 0 [0, 0] is NaN", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void AllowNonfiniteWeights_reads_the_values_as_stored()
    {
        string dir = Synthetic(TestFiles.Micro(fp8: true), "allow");
        string bf16 = TensorNames.FinalNorm;
        string fp8 = TensorNames.Expert(2, 3, "up_proj");
        TestFiles.PatchElement(WeightsFile(dir), bf16, 3, BitConverter.GetBytes((ushort)0xFF80));
        TestFiles.PatchElement(WeightsFile(dir), fp8, 40, [0xFF]);

        using CheckpointReader r = CheckpointReader.Open(dir, Allow);
        Assert.True(r.Options.AllowNonfiniteWeights);
        float[] norm = r.ReadWeight(bf16);
        Assert.Equal(float.NegativeInfinity, norm[3]);
        Assert.Equal(1, norm.Count(v => !float.IsFinite(v)));
        float[] up = r.ReadWeight(fp8);
        Assert.True(float.IsNaN(up[40]));
        Assert.Equal(1, up.Count(v => !float.IsFinite(v)));
        Fp8Weight kept = r.ReadFp8Weight(fp8);
        Assert.Equal(0xFF, kept.Codes[40]);
    }

    [Fact]
    public void Finite_extremes_are_accepted()
    {
        string dir = Synthetic(TestFiles.Micro(), "extremes");
        string victim = TensorNames.GateBias(2); // F32 [8]
        float[] extremes = [float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, -0f, 1e-45f, 3.4e38f, -1f];
        for (int i = 0; i < extremes.Length; i++)
        {
            TestFiles.PatchElement(WeightsFile(dir), victim, i, BitConverter.GetBytes(extremes[i]));
        }

        using CheckpointReader r = CheckpointReader.Open(dir);
        Assert.Equal(extremes, r.ReadWeight(victim));
    }

    [Fact]
    public void Default_options_reject_nonfinite_weights()
    {
        Assert.False(CheckpointReadOptions.Default.AllowNonfiniteWeights);
        using CheckpointReader r = CheckpointReader.Open(Synthetic(TestFiles.Micro(), "defaults"));
        Assert.False(r.Options.AllowNonfiniteWeights);
    }

    [Fact]
    public void Patching_helper_writes_where_the_reader_reads()
    {
        string dir = Synthetic(TestFiles.Micro(), "patch");
        TestFiles.PatchElement(WeightsFile(dir), TensorNames.GateBias(1), 2, BitConverter.GetBytes(1234.5f));
        using CheckpointReader r = CheckpointReader.Open(dir);
        Assert.Equal(1234.5f, r.ReadWeight(TensorNames.GateBias(1))[2]);
    }
}
