#!/usr/bin/env bash
# Nsight Compute on the two MLA decode kernels at issue 19's benchmark size (64 x 4,096 context, 128 heads): one launch
# of each from `r1-gpucheck --mla-wgmma`'s benchmark, every section (--set full), clocks left alone. On the GPU machine,
# after tools/gpu/stage.sh (the same staged folder as run.sh):
#   OUT=DIR bash tools/gpu/profile-mla.sh [.gpu]      -> DIR/ncu-mla_decode.txt, DIR/ncu-mla_decode_wgmma.txt
# SKIP launches of each kernel are passed over (default 15): --mla-wgmma checks only the wgmma kernel, so its first
# launches are the check cases (small shapes) and 15 is past them; mla_decode's first launches are already the
# benchmark's. Each report shows the launch's grid (y = its split count): read it before the numbers. Not yet run on a
# GPU (issue 19's note). ncu needs hardware counters (Firecracker machines: device/KINDS.md); without them each report
# says so and the script still exits 0.
set -uo pipefail
here="$(cd "${1:-.gpu}" && pwd)"
out="${OUT:-$here/out}"
mkdir -p "$out"
if [ -z "${R1ORLEANS_NVRTC:-}" ]; then
  lib="$(python3 -c 'import glob, site, os; c=[p for s in site.getsitepackages() for p in glob.glob(os.path.join(s, "nvidia", "**", "libnvrtc.so.1[23]*"), recursive=True)]; print(sorted(c)[0] if c else "")' 2>/dev/null)"
  [ -n "$lib" ] && export R1ORLEANS_NVRTC="$lib" && export LD_LIBRARY_PATH="$(dirname "$lib"):${LD_LIBRARY_PATH:-}"
fi
work="${TMPDIR:-/tmp}/r1orleans-profile"
rm -rf "$work" && mkdir -p "$work"
xz -dc "$here/r1orleans.tar.xz" | tar -C "$work" -xf -
export XDG_CACHE_HOME="$work/cache" R1ORLEANS_KERNELS="$here/kernels"
ncu="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)"
if [ -z "$ncu" ]; then
  echo "ncu not found" | tee "$out/ncu-missing.txt"
  exit 0
fi
for kernel in mla_decode mla_decode_wgmma; do
  SECONDS=0
  timeout 240 "$ncu" --clock-control none --kernel-name "$kernel" --launch-skip "${SKIP:-15}" --launch-count 1 --set full \
    --import-source no "$work/r1orleans/r1-gpucheck" --kernels "$here/kernels" --mla-wgmma --reps 5 >"$out/ncu-$kernel.txt" 2>&1
  echo "ncu $kernel: exit code $? after ${SECONDS}s"
done
exit 0
