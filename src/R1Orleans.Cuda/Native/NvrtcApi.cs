using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Native;

/// <summary>NVRTC, the CUDA runtime compiler (nvrtc.h names). Callers load the library first (<see cref="CudaLibraries.LoadNvrtc"/>).</summary>
internal static unsafe partial class NvrtcApi
{
    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcVersion(out int major, out int minor);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcCreateProgram(out nint program, byte* source, byte* name, int numHeaders, byte** headers, byte** includeNames);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcCompileProgram(nint program, int numOptions, byte** options);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcGetProgramLogSize(nint program, out nuint size);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcGetProgramLog(nint program, byte* log);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcGetCUBINSize(nint program, out nuint size);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcGetCUBIN(nint program, byte* cubin);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcGetPTXSize(nint program, out nuint size);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcGetPTX(nint program, byte* ptx);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial int nvrtcDestroyProgram(ref nint program);

    [LibraryImport(CudaLibraries.Nvrtc)]
    public static partial nint nvrtcGetErrorString(int status);

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless status is NVRTC_SUCCESS.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0)
        {
            nint p = nvrtcGetErrorString(status);
            string text = p != 0 ? Marshal.PtrToStringUTF8(p) ?? "?" : "?";
            throw new CudaException(call, status, text, "see the NVRTC documentation for this status");
        }
    }
}
