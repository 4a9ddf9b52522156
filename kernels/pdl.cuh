#pragma once

// Programmatic dependent launch (Hopper on): every kernel calls this before it touches global memory. A launch that
// allows programmatic serialization (CudaStream.ProgrammaticSerialization) may start while the kernel before it on the
// stream is still finishing; griddepcontrol.wait holds this grid until that kernel has completed and its writes are
// visible, then launch_dependents lets the next kernel's launch begin. Both are no-ops for an ordinary launch.
// (KernelSourceTests checks that every kernel starts with it.)
__device__ __forceinline__ void grid_dependency_sync()
{
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
