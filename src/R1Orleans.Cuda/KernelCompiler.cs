using System.Runtime.InteropServices;
using System.Text;
using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>
/// Compiles CUDA C++ source to a CUBIN for one real architecture with NVRTC. No driver or GPU is needed to compile,
/// so kernels can be checked on a machine without one.
/// </summary>
public static unsafe class KernelCompiler
{
    /// <summary>Options every kernel is compiled with, besides the architecture.</summary>
    public static readonly string[] CommonOptions = ["--std=c++17", "-DNDEBUG"];

    /// <summary>NVRTC's version, e.g. "13.0"; loads NVRTC or throws <see cref="CudaUnavailableException"/>.</summary>
    public static string Version()
    {
        CudaLibraries.LoadNvrtc();
        NvrtcApi.Check(NvrtcApi.nvrtcVersion(out int major, out int minor), "nvrtcVersion");
        return $"{major}.{minor}";
    }

    /// <summary>Where NVRTC was loaded from (after <see cref="Version"/>).</summary>
    public static string LibraryPath => CudaLibraries.NvrtcLoadedFrom;

    /// <summary>The full option list for <paramref name="architecture"/> (e.g. sm_90a).</summary>
    public static string[] Options(string architecture) => [$"--gpu-architecture={architecture}", .. CommonOptions];

    /// <summary>
    /// Compiles <paramref name="source"/> to a CUBIN; throws <see cref="KernelCompilationException"/> with the log on
    /// failure. <paramref name="headers"/>: files the source may #include "by name", as name → text (kernels/*.cuh).
    /// </summary>
    public static byte[] Compile(string name, string source, string architecture, IReadOnlyDictionary<string, string>? headers = null)
    {
        CudaLibraries.LoadNvrtc();
        string[] options = Options(architecture);
        byte[] src = NullTerminated(source);
        byte[] fileName = NullTerminated(name);
        byte[][] opts = options.Select(NullTerminated).ToArray();
        KeyValuePair<string, string>[] included = headers is null ? [] : [.. headers.OrderBy(h => h.Key, StringComparer.Ordinal)];
        byte[][] headerTexts = [.. included.Select(h => NullTerminated(h.Value))];
        byte[][] headerNames = [.. included.Select(h => NullTerminated(h.Key))];
        var handles = new List<GCHandle>();
        nint program = 0;
        try
        {
            byte** Pin(byte[][] arrays)
            {
                byte** p = (byte**)NativeMemory.Alloc((nuint)Math.Max(1, arrays.Length), (nuint)sizeof(byte*));
                for (int i = 0; i < arrays.Length; i++)
                {
                    GCHandle h = GCHandle.Alloc(arrays[i], GCHandleType.Pinned);
                    handles.Add(h);
                    p[i] = (byte*)h.AddrOfPinnedObject();
                }

                return p;
            }

            byte** optPtrs = Pin(opts);
            byte** headerPtrs = Pin(headerTexts);
            byte** namePtrs = Pin(headerNames);
            try
            {
                fixed (byte* ps = src, pn = fileName)
                {
                    NvrtcApi.Check(NvrtcApi.nvrtcCreateProgram(out program, ps, pn, included.Length, included.Length > 0 ? headerPtrs : null, included.Length > 0 ? namePtrs : null), $"nvrtcCreateProgram({name})");
                }

                return CompileAndGetCubin(program, name, architecture, opts.Length, optPtrs);
            }
            finally
            {
                NativeMemory.Free(optPtrs);
                NativeMemory.Free(headerPtrs);
                NativeMemory.Free(namePtrs);
            }
        }
        finally
        {
            foreach (GCHandle h in handles)
            {
                h.Free();
            }

            if (program != 0)
            {
                NvrtcApi.nvrtcDestroyProgram(ref program);
            }
        }
    }

    private static byte[] CompileAndGetCubin(nint program, string name, string architecture, int optionCount, byte** optPtrs)
    {

        int status = NvrtcApi.nvrtcCompileProgram(program, optionCount, optPtrs);
        string log = ProgramLog(program);
        if (status != 0)
        {
            throw new KernelCompilationException(name, architecture, log.Length > 0 ? log : $"nvrtcCompileProgram returned {status} with an empty log");
        }

        NvrtcApi.Check(NvrtcApi.nvrtcGetCUBINSize(program, out nuint size), "nvrtcGetCUBINSize");
        var cubin = new byte[(int)size];
        fixed (byte* pc = cubin)
        {
            NvrtcApi.Check(NvrtcApi.nvrtcGetCUBIN(program, pc), "nvrtcGetCUBIN");
        }

        return cubin;
    }

    private static string ProgramLog(nint program)
    {
        if (NvrtcApi.nvrtcGetProgramLogSize(program, out nuint size) != 0 || size <= 1)
        {
            return "";
        }

        var log = new byte[(int)size];
        fixed (byte* p = log)
        {
            NvrtcApi.Check(NvrtcApi.nvrtcGetProgramLog(program, p), "nvrtcGetProgramLog");
        }

        return Encoding.UTF8.GetString(log, 0, log.Length - 1).Trim();
    }

    private static byte[] NullTerminated(string s)
    {
        byte[] b = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, b);
        return b;
    }
}
