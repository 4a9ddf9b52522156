namespace R1Orleans.Checkpoint;

/// <summary>One tensor entry of a safetensors header. Offsets are relative to the start of the data section.</summary>
public sealed record TensorInfo(string Name, DType DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape)
            {
                n *= d;
            }

            return n;
        }
    }

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
