using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>One __global__ function of a loaded module, launched with <see cref="KernelArg"/> parameters.</summary>
public sealed unsafe class CudaKernel
{
    private readonly nint _function;

    internal CudaKernel(nint function, string name, CudaModule module)
    {
        _function = function;
        Name = name;
        Module = module;
    }

    public string Name { get; }

    /// <summary>The module this kernel lives in (kept alive with it).</summary>
    public CudaModule Module { get; }

    /// <summary>Registers per thread and local (spill/stack) bytes, as the driver reports them for the loaded code.</summary>
    public (int Registers, int LocalBytes) Resources()
    {
        CuDriver.Check(CuDriver.cuFuncGetAttribute(out int regs, CuDriver.CU_FUNC_ATTRIBUTE_NUM_REGS, _function), "cuFuncGetAttribute(NUM_REGS)");
        CuDriver.Check(CuDriver.cuFuncGetAttribute(out int local, CuDriver.CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, _function), "cuFuncGetAttribute(LOCAL_SIZE_BYTES)");
        return (regs, local);
    }

    /// <summary>
    /// Lets launches use up to <paramref name="bytes"/> of dynamic shared memory (beyond the default 48 KB). The limit
    /// belongs to the function, which every user of this kernel shares (<see cref="CudaModule.Kernel"/> hands out one
    /// object per function), so it only ever grows: a smaller request keeps the larger limit another launch needs.
    /// </summary>
    public void SetMaxDynamicSharedMemory(int bytes)
    {
        if (bytes > _maxDynamicShared)
        {
            CuDriver.Check(CuDriver.cuFuncSetAttribute(_function, CuDriver.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes), $"cuFuncSetAttribute({Name}, MAX_DYNAMIC_SHARED_SIZE_BYTES, {bytes})");
            _maxDynamicShared = bytes;
        }
    }

    private int _maxDynamicShared = -1;

    /// <summary>Queues the kernel on <paramref name="stream"/>; launch errors are thrown here, execution errors at the next sync.</summary>
    public void Launch(CudaStream stream, Dim3 grid, Dim3 block, uint sharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        if (grid.Count == 0)
        {
            return;
        }

        ulong* values = stackalloc ulong[Math.Max(1, args.Length)];
        void** pointers = stackalloc void*[Math.Max(1, args.Length)];
        for (int i = 0; i < args.Length; i++)
        {
            values[i] = args[i].Bits;
            pointers[i] = values + i;
        }

        if (stream.ProgrammaticSerialization)
        {
            CuLaunchAttribute attribute = default;
            attribute.Id = CuDriver.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
            attribute.Value = 1;
            var config = new CuLaunchConfig
            {
                GridDimX = grid.X, GridDimY = grid.Y, GridDimZ = grid.Z, BlockDimX = block.X, BlockDimY = block.Y, BlockDimZ = block.Z,
                SharedMemBytes = sharedBytes, Stream = stream.Handle, Attrs = &attribute, NumAttrs = 1,
            };
            CuDriver.Check(
                CuDriver.cuLaunchKernelEx(&config, _function, pointers, null),
                $"cuLaunchKernelEx({Name}, grid {grid.X}x{grid.Y}x{grid.Z}, block {block.X}x{block.Y}x{block.Z}, programmatic serialization)");
            return;
        }

        CuDriver.Check(
            CuDriver.cuLaunchKernel(_function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, stream.Handle, pointers, null),
            $"cuLaunchKernel({Name}, grid {grid.X}x{grid.Y}x{grid.Z}, block {block.X}x{block.Y}x{block.Z})");
    }
}
