namespace R1Orleans.Cuda.Forward;

/// <summary>The kernels the device forward launches: kernels/forward.cu and the per-op modules it shares with CudaBackend.</summary>
public sealed class ForwardKernels
{
    /// <summary>The kernel modules (kernels/NAME.cu) the forward's own kernels come from.</summary>
    public static readonly string[] CoreModules = ["forward", "linear", "linear_fp8", "rmsnorm", "rope", "silu_mul", "noaux_gate"];

    /// <summary>
    /// With the fast FP8 experts, the tensor-core linears and the tensor-core decode attention (MoeFp8Experts,
    /// DenseFp8Mma, DenseMma, MlaDecode): their modules too.
    /// </summary>
    public static readonly string[] Modules = [.. CoreModules, "moe_fp8", "moe_prefill", "dense_mma", .. MlaDecode.Modules];

    public ForwardKernels(KernelLibrary kernels)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        Linear = new LinearKernels(kernels);
        Embed = kernels.Kernel("forward", "embed_rows");
        LatentAppend = kernels.Kernel("forward", "latent_append");
        HeadProj = kernels.Kernel("forward", "head_proj");
        CopyRope = kernels.Kernel("forward", "copy_rope");
        Attention = new PagedLatentAttention(kernels);
        MoeGateUp = kernels.Kernel("forward", "moe_ref_gate_up");
        MoeDown = kernels.Kernel("forward", "moe_ref_down");
        MoeCombine = kernels.Kernel("forward", "moe_ref_combine");
        Add = kernels.Kernel("forward", "add_inplace");
        ArgmaxPartial = kernels.Kernel("forward", "argmax_partial");
        ArgmaxFinal = kernels.Kernel("forward", "argmax_final");
        GemvRows = kernels.Kernel("forward", "gemv_f32_rows");
        HeadProj4 = kernels.Kernel("forward", "head_proj4");
        RmsNorm = kernels.Kernel("rmsnorm", "rmsnorm");
        Rope = kernels.Kernel("rope", "rope_yarn");
        SiluMul = kernels.Kernel("silu_mul", "silu_mul");
        Gate = kernels.Kernel("noaux_gate", "noaux_tc_gate");
    }

    public LinearKernels Linear { get; }

    /// <summary>
    /// rope_yarn's grid for <paramref name="rows"/> rows of <paramref name="heads"/> slices of <paramref name="half"/>
    /// pairs: each row split into parts of at most 4 pairs a thread (128 threads), so that a decode step's few rows do
    /// not leave one CTA looping over every head.
    /// </summary>
    public static Dim3 RopeGrid(int rows, int heads, int half) => new((uint)rows, (uint)Math.Max(1, ((long)heads * half + 511) / 512));

    /// <summary>copy_rope's grid: a thread per element of a row's heads x rope values, rows along y.</summary>
    public static Dim3 CopyRopeGrid(int rows, int heads, int rope) => new((uint)Math.Max(1, ((long)heads * rope + 127) / 128), (uint)rows);

    public CudaKernel Embed { get; }

    public CudaKernel LatentAppend { get; }

    public CudaKernel HeadProj { get; }

    public CudaKernel CopyRope { get; }

    public PagedLatentAttention Attention { get; }

    public CudaKernel MoeGateUp { get; }

    public CudaKernel MoeDown { get; }

    public CudaKernel MoeCombine { get; }

    public CudaKernel Add { get; }

    public CudaKernel ArgmaxPartial { get; }

    public CudaKernel ArgmaxFinal { get; }

    public CudaKernel GemvRows { get; }

    public CudaKernel HeadProj4 { get; }

    public CudaKernel RmsNorm { get; }

    public CudaKernel Rope { get; }

    public CudaKernel SiluMul { get; }

    public CudaKernel Gate { get; }
}
