namespace R1Orleans.Checkpoint;

/// <summary>Safetensors element types this reader understands.</summary>
public enum DType
{
    F64,
    F32,
    F16,
    BF16,
    F8_E4M3,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

public static class DTypes
{
    public static bool TryParse(string text, out DType dtype)
    {
        switch (text)
        {
            case "F64": dtype = DType.F64; return true;
            case "F32": dtype = DType.F32; return true;
            case "F16": dtype = DType.F16; return true;
            case "BF16": dtype = DType.BF16; return true;
            case "F8_E4M3": dtype = DType.F8_E4M3; return true;
            case "I64": dtype = DType.I64; return true;
            case "I32": dtype = DType.I32; return true;
            case "I16": dtype = DType.I16; return true;
            case "I8": dtype = DType.I8; return true;
            case "U8": dtype = DType.U8; return true;
            case "BOOL": dtype = DType.Bool; return true;
            default: dtype = default; return false;
        }
    }

    public static string Name(this DType dtype) => dtype == DType.Bool ? "BOOL" : dtype.ToString();

    public static int ByteSize(this DType dtype) => dtype switch
    {
        DType.F64 or DType.I64 => 8,
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 or DType.I16 => 2,
        _ => 1,
    };

    public static bool IsFloat(this DType dtype) =>
        dtype is DType.F64 or DType.F32 or DType.F16 or DType.BF16 or DType.F8_E4M3;
}
