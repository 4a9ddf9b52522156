namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>Upper bounds that turn a hang (a broken deadline, a lost completion) into a test failure.</summary>
internal static class TestBounds
{
    /// <summary>How long a test waits on a call that must fail by itself well before (a TimeoutException then).</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
}
