using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>
/// The few libc calls the progress loop sleeps on (epoll over the worker's event fd and a wake-up eventfd), and setenv
/// for the settings UCX reads when it loads (.NET's Environment does not change the native environment on Linux).
/// </summary>
internal static unsafe partial class LibC
{
    public const uint EpollIn = 0x001;
    public const int EpollCtlAdd = 1;
    public const int EpollCloexec = 0x80000;
    public const int EfdCloexec = 0x80000;
    public const int EfdNonblock = 0x800;
    public const int Eintr = 4;

    static LibC() => UcxLibraryResolver.EnsureInstalled();

    /// <summary>struct epoll_event on x86-64 (packed: 12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport(UcxLibraryNames.LibC, EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport(UcxLibraryNames.LibC, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport(UcxLibraryNames.LibC, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(UcxLibraryNames.LibC, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epfd, EpollEvent* events, int maxEvents, int timeoutMs);

    [LibraryImport(UcxLibraryNames.LibC, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(UcxLibraryNames.LibC, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport(UcxLibraryNames.LibC, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport(UcxLibraryNames.LibC, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
