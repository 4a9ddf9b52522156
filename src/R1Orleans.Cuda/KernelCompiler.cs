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

    /// <summary>Compiles <paramref name="source"/> to a CUBIN; throws <see cref="KernelCompilationException"/> with the log on failure.</summary>
    public static byte[] Compile(string name, string source, string architecture)
    {
        CudaLibraries.LoadNvrtc();
        string[] options = Options(architecture);
        byte[] src = NullTerminated(source);
        byte[] fileName = NullTerminated(name);
        byte[][] opts = options.Select(NullTerminated).ToArray();
        var handles = new GCHandle[opts.Length];
        nint program = 0;
        try
        {
            byte** optPtrs = stackalloc byte*[opts.Length];
            for (int i = 0; i < opts.Length; i++)
            {
                handles[i] = GCHandle.Alloc(opts[i], GCHandleType.Pinned);
                optPtrs[i] = (byte*)handles[i].AddrOfPinnedObject();
            }

            fixed (byte* ps = src, pn = fileName)
            {
                NvrtcApi.Check(NvrtcApi.nvrtcCreateProgram(out program, ps, pn, 0, null, null), $"nvrtcCreateProgram({name})");
            }

            int status = NvrtcApi.nvrtcCompileProgram(program, opts.Length, optPtrs);
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
        finally
        {
            foreach (GCHandle h in handles)
            {
                if (h.IsAllocated)
                {
                    h.Free();
                }
            }

            if (program != 0)
            {
                NvrtcApi.nvrtcDestroyProgram(ref program);
            }
        }
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
