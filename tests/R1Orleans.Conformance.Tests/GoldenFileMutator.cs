using System.Buffers.Binary;
using R1Orleans.Checkpoint;

namespace R1Orleans.Conformance.Tests;

/// <summary>Edits one element of a tensor in a safetensors file in place (to prove the checker notices).</summary>
internal static class GoldenFileMutator
{
    public static void AddToFirstElement(string path, string tensor, double delta)
    {
        long offset;
        DType dtype;
        using (SafetensorsFile f = SafetensorsFile.Open(path))
        {
            TensorInfo info = f.Get(tensor);
            long headerLength;
            using (FileStream s = File.OpenRead(path))
            {
                Span<byte> len = stackalloc byte[8];
                s.ReadExactly(len);
                headerLength = BinaryPrimitives.ReadInt64LittleEndian(len);
            }

            offset = 8 + headerLength + info.Begin;
            dtype = info.DType;
        }

        using FileStream w = File.Open(path, FileMode.Open, FileAccess.ReadWrite);
        w.Position = offset;
        Span<byte> b = stackalloc byte[8];
        if (dtype == DType.I64)
        {
            w.ReadExactly(b);
            BinaryPrimitives.WriteInt64LittleEndian(b, BinaryPrimitives.ReadInt64LittleEndian(b) + (long)delta);
            w.Position = offset;
            w.Write(b);
        }
        else if (dtype == DType.F32)
        {
            w.ReadExactly(b[..4]);
            BinaryPrimitives.WriteSingleLittleEndian(b, BinaryPrimitives.ReadSingleLittleEndian(b) + (float)delta);
            w.Position = offset;
            w.Write(b[..4]);
        }
        else
        {
            throw new NotSupportedException($"mutating {dtype}");
        }
    }
}
