using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;

namespace R1Orleans.Checkpoint;

/// <summary>
/// One memory-mapped safetensors file. Opening it reads and validates only the header; tensor bytes are touched
/// (paged in by the OS) only when a tensor is read, so a holder of a few experts reads only their bytes.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private readonly Dictionary<string, TensorInfo> _tensors;
    private bool _disposed;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr, long dataStart, IReadOnlyList<TensorInfo> tensors)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePtr;
        _dataStart = dataStart;
        _tensors = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string Path { get; }

    public IReadOnlyCollection<TensorInfo> Tensors => _tensors.Values;

    /// <summary>
    /// Maps the file and validates its header. The path must be a regular file (a symlink to one is fine); its size is
    /// taken from the open handle, so a symlink is measured by its target.
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        RegularFile.Require(path);
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        MemoryMappedFile map;
        long length;
        try
        {
            length = RandomAccess.GetLength(handle);
            if (length < 8)
            {
                throw new CheckpointFormatException(path, null, $"file is {length} bytes, shorter than the 8-byte header length");
            }

            map = MemoryMappedFile.CreateFromFile(handle, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* ptr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            acquired = true;
            ptr += view.PointerOffset;
            int headerLength = SafetensorsHeader.ReadHeaderLength(path, new ReadOnlySpan<byte>(ptr, 8), length);
            long dataStart = 8 + headerLength;
            IReadOnlyList<TensorInfo> tensors = SafetensorsHeader.Parse(path, new ReadOnlySpan<byte>(ptr + 8, headerLength), length - dataStart);
            return new SafetensorsFile(path, map, view, ptr, dataStart, tensors);
        }
        catch
        {
            if (acquired)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }

            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    public bool TryGet(string name, out TensorInfo info) => _tensors.TryGetValue(name, out info!);

    public TensorInfo Get(string name) =>
        _tensors.TryGetValue(name, out TensorInfo? info) ? info : throw new CheckpointFormatException(Path, name, "tensor is not in this file");

    /// <summary>The raw bytes of one tensor, straight from the mapping. Valid until this file is disposed.</summary>
    public ReadOnlySpan<byte> Bytes(TensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (info.ByteLength > int.MaxValue)
        {
            throw new CheckpointFormatException(Path, info.Name, $"tensor is {info.ByteLength} bytes; tensors over 2 GiB are not supported");
        }

        return new ReadOnlySpan<byte>(_base + _dataStart + info.Begin, (int)info.ByteLength);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
