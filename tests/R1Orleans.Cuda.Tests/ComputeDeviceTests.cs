namespace R1Orleans.Cuda.Tests;

public class ComputeDeviceTests
{
    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("cpu", null)]
    [InlineData(" CPU ", null)]
    [InlineData("cuda", 0)]
    [InlineData("cuda:0", 0)]
    [InlineData("CUDA:3", 3)]
    public void Cpu_and_cuda_N_parse_to_their_ordinal(string? text, int? ordinal)
    {
        Assert.True(ComputeDevice.TryParse(text, out ComputeDevice d));
        Assert.Equal(ordinal, d.CudaOrdinal);
        Assert.Equal(ordinal is int n ? $"cuda:{n}" : "cpu", d.ToString());
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:+1")]
    [InlineData("cuda:0x1")]
    [InlineData("cuda0")]
    public void Anything_else_is_refused(string text)
    {
        Assert.False(ComputeDevice.TryParse(text, out _));
        FormatException e = Assert.Throws<FormatException>(() => ComputeDevice.Parse(text));
        Assert.Contains("cpu or cuda:N", e.Message, StringComparison.Ordinal);
    }
}
