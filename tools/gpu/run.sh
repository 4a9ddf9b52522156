#!/usr/bin/env bash
# Runs everything GPU-side in one call on the GPU machine: r1-gpucheck (NVRTC compile, op checks against the CPU
# reference, MoE decode benchmark) and PyTorch's MoE decode at the same sizes, same run.
# Layout expected beside this script: gpucheck/ (the single-file publish of tools/R1Orleans.GpuCheck), kernels/*.cu,
# torch_moe.py. Results go to $OUT (or ./out).
#   dotnet publish tools/R1Orleans.GpuCheck -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true \
#     -p:EnableCompressionInSingleFile=true -o .gpu/gpucheck
#   cp -r kernels .gpu/ && cp tools/gpu/run.sh tools/gpu/torch_moe.py .gpu/ && bash .gpu/run.sh
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here/out}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv | tee "$out/nvidia-smi.txt"

# NVRTC: the loader's path first, then the CUDA toolkit, then the pip wheel that PyTorch brings.
if ! ldconfig -p | grep -q 'libnvrtc.so.1[23]'; then
  lib="$(ls /usr/local/cuda/lib64/libnvrtc.so.1[23]* /usr/local/cuda*/targets/x86_64-linux/lib/libnvrtc.so.1[23]* 2>/dev/null | head -1)"
  if [ -z "$lib" ]; then
    lib="$(python3 -c 'import glob, site, os; c=[p for s in site.getsitepackages() for p in glob.glob(os.path.join(s, "nvidia", "**", "libnvrtc.so.1[23]*"), recursive=True)]; print(sorted(c)[0] if c else "")' 2>/dev/null)"
  fi
  [ -n "$lib" ] && export R1ORLEANS_NVRTC="$lib" && export LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
  echo "NVRTC: ${R1ORLEANS_NVRTC:-not found}"
fi

export XDG_CACHE_HOME="$out/cache"
chmod +x "$here/gpucheck/r1-gpucheck"
"$here/gpucheck/r1-gpucheck" --kernels "$here/kernels" --out "$out/gpucheck.json" ${GPUCHECK_ARGS:-} 2>&1 | tee "$out/gpucheck.log"
rc=${PIPESTATUS[0]}
rm -rf "$out/cache"
if [ "${SKIP_TORCH:-0}" != "1" ]; then
  PYTHONUNBUFFERED=1 python3 "$here/torch_moe.py" --out "$out/torch_moe.json" 2>&1 | tee "$out/torch_moe.log"
fi
echo "r1-gpucheck exit code: $rc"
exit $rc
