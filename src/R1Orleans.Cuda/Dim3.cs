namespace R1Orleans.Cuda;

/// <summary>A grid or block shape for a kernel launch.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public static implicit operator Dim3(int x) => new((uint)x);

    public static Dim3 FromInt32(int x) => new((uint)x);

    public ulong Count => (ulong)X * Y * Z;
}
