using System.Runtime.InteropServices;

namespace R1Orleans.TestSupport;

/// <summary>
/// Makes FIFOs and device symlinks for tests of special-file handling, and runs a load that could block on a FIFO with
/// a bound: if it has not finished in time, the FIFO is opened for writing and closed, so the blocked reader sees end
/// of file and the test thread is freed. Internal so other test projects can link this file.
/// </summary>
internal static partial class SpecialFiles
{
    public static void MakeFifo(string path)
    {
        if (Mkfifo(path, 0x180 /* 0600 */) != 0)
        {
            throw new IOException($"mkfifo {path} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Runs <paramref name="load"/> on a thread of its own (not the thread pool, which other tests of the assembly may
    /// hold: a CI run once saw a load not finish in 20 s on a loaded 2-core machine); returns what it threw (null if
    /// nothing), or fails if it blocked on <paramref name="fifo"/> for a minute.
    /// </summary>
    public static Exception? RunBounded(Action load, string fifo)
    {
        Task task = Task.Factory.StartNew(load, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        bool finished = ((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(60));
        if (!finished)
        {
            // Unblock the reader (an open for writing meets the reader's open; closing gives it end of file).
            Task release = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write).Dispose());
            release.Wait(TimeSpan.FromSeconds(5));
            Assert.Fail($"the load blocked on the FIFO {fifo} instead of rejecting it");
        }

        return task.Exception?.InnerException;
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mkfifo(string path, uint mode);
}
