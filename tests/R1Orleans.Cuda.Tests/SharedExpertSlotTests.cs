using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Cuda.Forward;
using R1Orleans.Model;
using Xunit;

namespace R1Orleans.Cuda.Tests;

/// <summary>Which models' shared experts the upload packs as a slot of the fast routed experts.</summary>
public class SharedExpertSlotTests
{
    private static readonly ModelConfig Config = SyntheticCheckpoint.MediumConfig() with { HiddenSize = 256, MoeIntermediateSize = 128 };

    private static Matrix Fp8(int rows, int cols, int block = 128) =>
        Matrix.Fp8(rows, cols, new byte[rows * cols], new float[((rows + block - 1) / block) * ((cols + block - 1) / block)], block, block);

    private static FeedForward Shared(int intermediate, int block = 128) =>
        new(Fp8(intermediate, Config.HiddenSize, block), Fp8(intermediate, Config.HiddenSize, block), Fp8(Config.HiddenSize, intermediate, block));

    [Fact]
    public void OneFp8SharedExpertOfTheRoutedShapeGetsASlot() =>
        Assert.Equal(1, DeviceWeightUpload.SharedSlots(Shared(128), Config));

    [Fact]
    public void NoSharedExpertGetsNoSlot() =>
        Assert.Equal(0, DeviceWeightUpload.SharedSlots(null, Config));

    [Fact]
    public void TwoSharedExpertsFusedIntoOneWiderFeedForwardGetNoSlot() =>
        Assert.Equal(0, DeviceWeightUpload.SharedSlots(Shared(256), Config with { NSharedExperts = 2 }));

    [Fact]
    public void ASharedExpertWithOtherBlocksGetsNoSlot() =>
        Assert.Equal(0, DeviceWeightUpload.SharedSlots(Shared(128, block: 64), Config));

    [Fact]
    public void AFloat32SharedExpertGetsNoSlot()
    {
        int h = Config.HiddenSize, i = Config.MoeIntermediateSize;
        var ffn = new FeedForward(new Matrix(i, h, new float[i * h]), new Matrix(i, h, new float[i * h]), new Matrix(h, i, new float[h * i]));
        Assert.Equal(0, DeviceWeightUpload.SharedSlots(ffn, Config));
    }
}
