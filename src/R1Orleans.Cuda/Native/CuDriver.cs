using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Native;

/// <summary>
/// The CUDA driver API functions R1Orleans uses (cuda.h names; the _v2 entry points where cuda.h maps to them).
/// Every call returns a CUresult; <see cref="Check"/> turns a failure into a <see cref="CudaException"/>.
/// Callers load the library first (<see cref="CudaLibraries.LoadDriver"/>).
/// </summary>
internal static unsafe partial class CuDriver
{
    public const int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public const int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    public const int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    public const int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    public const int CU_FUNC_ATTRIBUTE_NUM_REGS = 4;
    public const int CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3;
    public const uint CU_STREAM_NON_BLOCKING = 1;
    public const uint CU_EVENT_DEFAULT = 0;
    public const int CUDA_ERROR_NOT_READY = 600;

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuInit(uint flags);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDriverGetVersion(out int version);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceGetCount(out int count);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceGetName(byte* name, int length, int device);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceTotalMem_v2(out nuint bytes, int device);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDevicePrimaryCtxRelease_v2(int device);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuCtxSetCurrent(nint context);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuCtxSynchronize();

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemGetInfo_v2(out nuint free, out nuint total);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemAlloc_v2(out ulong pointer, nuint bytes);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemFree_v2(ulong pointer);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemHostAlloc(out nint pointer, nuint bytes, uint flags);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemFreeHost(nint pointer);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemcpyHtoD_v2(ulong destination, void* source, nuint bytes);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemcpyDtoH_v2(void* destination, ulong source, nuint bytes);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemcpyHtoDAsync_v2(ulong destination, void* source, nuint bytes, nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemcpyDtoDAsync_v2(ulong destination, ulong source, nuint bytes, nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemsetD8_v2(ulong destination, byte value, nuint count);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemsetD32_v2(ulong destination, uint value, nuint count);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuMemsetD32Async(ulong destination, uint value, nuint count, nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuModuleLoadData(out nint module, void* image);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuModuleUnload(nint module);

    [LibraryImport(CudaLibraries.Driver, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int cuModuleGetFunction(out nint function, nint module, string name);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuFuncGetAttribute(out int value, int attribute, nint function);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuFuncSetAttribute(nint function, int attribute, int value);

    /// <summary>CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (CUlaunchAttributeID).</summary>
    public const int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

    /// <summary>cuLaunchKernelEx (CUDA 12.0 on): a launch with attributes (<see cref="CuLaunchConfig"/>).</summary>
    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuLaunchKernelEx(CuLaunchConfig* config, nint function, void** kernelParams, void** extra);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuLaunchKernel(
        nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, nint stream, void** kernelParams, void** extra);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuStreamCreate(out nint stream, uint flags);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuStreamDestroy_v2(nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuStreamSynchronize(nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventCreate(out nint evt, uint flags);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventRecord(nint evt, nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventSynchronize(nint evt);

    /// <summary>CUDA_SUCCESS when the event's work is done, CUDA_ERROR_NOT_READY while it is pending.</summary>
    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventQuery(nint evt);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventElapsedTime(out float milliseconds, nint start, nint end);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventDestroy_v2(nint evt);

    public const int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuStreamBeginCapture_v2(nint stream, int mode);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuStreamEndCapture(nint stream, out nint graph);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuGraphInstantiateWithFlags(out nint graphExec, nint graph, ulong flags);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuGraphLaunch(nint graphExec, nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuGraphExecDestroy(nint graphExec);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuGraphDestroy(nint graph);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuGetErrorName(int status, out nint text);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuGetErrorString(int status, out nint text);

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless status is CUDA_SUCCESS.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new CudaException(call, status, ErrorName(status), ErrorString(status));
        }
    }

    public static string ErrorName(int status) =>
        cuGetErrorName(status, out nint p) == 0 && p != 0 ? Marshal.PtrToStringUTF8(p) ?? "?" : "CUDA_ERROR_UNKNOWN_CODE";

    public static string ErrorString(int status) =>
        cuGetErrorString(status, out nint p) == 0 && p != 0 ? Marshal.PtrToStringUTF8(p) ?? "?" : $"unrecognized CUresult {status}";
}
