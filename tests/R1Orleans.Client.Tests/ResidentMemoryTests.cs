using R1Orleans.Client.Benchmarks;
using Xunit;

namespace R1Orleans.Client.Tests;

public sealed class ResidentMemoryTests
{
    [Theory]
    [InlineData("RssAnon:\t     152 kB", 152)]
    [InlineData("RssAnon:\t40123456 kB", 40123456)]
    [InlineData("RssAnon:\t123456789 kB", 123456789)]
    public void StatusKilobytesReadsTheNumberWhetherOrNotSpacesPadIt(string line, long expected) =>
        Assert.Equal(expected, ResidentMemory.StatusKilobytes(line));

    [Theory]
    [InlineData("RssAnon:\tkB")]
    [InlineData("RssAnon:\t12 MB")]
    [InlineData("RssAnon:\t-12 kB")]
    public void StatusKilobytesRefusesALineWithoutANumberOfKilobytes(string line) =>
        Assert.Throws<FormatException>(() => ResidentMemory.StatusKilobytes(line));

    [Fact]
    public void MeasureReadsThisProcesssAnonymousPagesOnLinux()
    {
        ResidentMemory m = ResidentMemory.Measure();
        Assert.True(m.RssBytes > 0);
        Assert.Equal(OperatingSystem.IsLinux(), m.RssAnonBytes is > 0);
    }
}
