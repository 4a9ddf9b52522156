using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace R1Orleans.Checkpoint;

/// <summary>
/// Every file a checkpoint load opens must be a regular file (a symlink to one is fine). Anything else is rejected
/// before it is opened: a FIFO would block the open or the read forever, a device such as /dev/zero would be read
/// without end or report a size of 0, a directory cannot be read at all. On Linux the kind comes from statx(2), which
/// does not open the file; elsewhere only directories are told apart. The check and the open are two steps: a path
/// swapped for a FIFO in between is not caught (a checkpoint directory is not expected to change while it loads).
/// </summary>
public static partial class RegularFile
{
    /// <summary>False when nothing is at <paramref name="path"/>; true for a regular file; throws for anything else.</summary>
    public static bool Exists(string path)
    {
        FileKind kind = KindOf(path);
        if (kind == FileKind.Missing)
        {
            return false;
        }

        ThrowUnlessRegular(path, kind);
        return true;
    }

    /// <summary>Throws a <see cref="CheckpointFormatException"/> unless <paramref name="path"/> is a regular file.</summary>
    public static void Require(string path)
    {
        FileKind kind = KindOf(path);
        if (kind == FileKind.Missing)
        {
            throw new CheckpointFormatException(path, null, "file does not exist");
        }

        ThrowUnlessRegular(path, kind);
    }

    /// <summary>
    /// Reads a whole regular file of at most <paramref name="maxBytes"/> bytes. The size is taken from the open handle, so
    /// a symbolic link is measured by its target. Over the cap, throws what <paramref name="tooLarge"/> makes of the size
    /// (a <see cref="CheckpointFormatException"/> by default).
    /// </summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, Func<long, Exception>? tooLarge = null)
    {
        Require(path);
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = RandomAccess.GetLength(handle);
        if (length > maxBytes)
        {
            throw tooLarge?.Invoke(length) ?? new CheckpointFormatException(path, null, $"file is {length} bytes, over the {maxBytes}-byte cap");
        }

        byte[] bytes = new byte[length];
        int read = 0;
        while (read < bytes.Length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n == 0)
            {
                throw new CheckpointFormatException(path, null, $"file shrank while it was read: {read} of {length} bytes");
            }

            read += n;
        }

        return bytes;
    }

    /// <summary>The text of a UTF-8 file read by <see cref="ReadAllBytes"/>, without a byte order mark.</summary>
    public static string ReadAllText(string path, long maxBytes, Func<long, Exception>? tooLarge = null)
    {
        byte[] bytes = ReadAllBytes(path, maxBytes, tooLarge);
        ReadOnlySpan<byte> text = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes.AsSpan(3) : bytes;
        return Encoding.UTF8.GetString(text);
    }

    /// <summary>The kind of file at <paramref name="path"/>, following symbolic links (a dangling link is missing).</summary>
    public static FileKind KindOf(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsLinux() && TryStatxKind(path, out FileKind kind))
        {
            return kind;
        }

        return Directory.Exists(path) ? FileKind.Directory : File.Exists(path) ? FileKind.Regular : FileKind.Missing;
    }

    private static void ThrowUnlessRegular(string path, FileKind kind)
    {
        if (kind == FileKind.Regular)
        {
            return;
        }

        string what = kind switch
        {
            FileKind.Directory => "a directory",
            FileKind.CharacterDevice => "a character device",
            FileKind.BlockDevice => "a block device",
            FileKind.Fifo => "a FIFO (named pipe)",
            FileKind.Socket => "a socket",
            _ => "not a file",
        };
        string link = LinkTarget(path) is string target ? $" (a symbolic link to {target})" : "";
        throw new CheckpointFormatException(path, null, $"not a regular file: it is {what}{link}; a checkpoint's files must be regular files");
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    // statx(2): the same struct layout on every Linux architecture; stx_mode is the u16 at byte 28.
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;

    private static unsafe bool TryStatxKind(string path, out FileKind kind)
    {
        kind = FileKind.Other;
        byte* buffer = stackalloc byte[StatxSize];
        int rc;
        try
        {
            rc = Statx(AtFdCwd, path, 0, StatxType, buffer);
        }
        catch (EntryPointNotFoundException)
        {
            return false; // a libc without statx (glibc before 2.28): fall back to the managed checks
        }

        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is ENOENT or ENOTDIR)
            {
                kind = FileKind.Missing;
                return true;
            }

            return false;
        }

        int mode = *(ushort*)(buffer + StatxModeOffset) & 0xF000;
        kind = mode switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0x1000 => FileKind.Fifo,
            0xC000 => FileKind.Socket,
            _ => FileKind.Other,
        };
        return true;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string pathname, int flags, uint mask, byte* statxbuf);
}
