#!/usr/bin/env bash
# Runs everything GPU-side in one call on the GPU machine:
#   1. r1-gpucheck: NVRTC compile, every kernel and every CudaBackend op against the CPU reference, the MoE decode
#      benchmark against the copy bandwidth measured in the same run;
#   1b. r1-gpucheck --mla-wgmma: the wgmma MLA decode's checks, then timed beside mma.sync (below);
#   2. r1 golden --device cuda:0 over the staged golden cases (same checks and tolerances as on the CPU), through the
#      device-resident forward and then op by op (R1ORLEANS_DEVICE_FORWARD=1, then 0); then r1-gpucheck --forward (below)
#      and r1-gpucheck --decode-ops (a decode step's small launches one by one; SKIP_DECODE_OPS=1 leaves it out);
#   3. r1 bench-engine on the synthetic medium model: the CPU, then cuda:0 through the device-resident forward (float32
#      activations, then the fast FP8 experts and linears), op by op, and with FP8 weights dequantized to float32
#      (ENGINE_RUNS="cpu:fp8 cuda0:fp8 cuda0:fp8:fast cuda0:fp8:perop cuda0:float32" by default; SKIP_ENGINE=1 leaves it out);
#   4. r1-silo on the shipped r1orleans-tiny, --device cpu then cuda:0, asked the 20 held-out additions through the
#      OpenAI API (heldout.py); the GPU silo must answer as the CPU silo does (SKIP_SILO=1 leaves it out);
#   4b. bench-engine on the synthetic v3-reduced model (ENGINE_V3=0 leaves it out; V3's widths,
#      4 layers, ~39 GB written here first) through the device forward in fast mode, batch 1 and 64;
#   5. PyTorch at the same sizes as 1: MoE decode and prefill and the dense BF16/FP8 matrix rates (torch_moe.py),
#      MLA absorbed decode through the bmm path and SDPA (torch_mla.py), the reduced full-width model's decode step
#      (torch_reduced.py, beside r1-gpucheck --forward's table); then torch_error.py: the error of one MoE
#      step of r1-gpucheck's (written by --error-case) and of PyTorch's BF16 path against float64 (SKIP_TORCH=1
#      leaves all three out).
#   6. r1-gpucheck --nccl: the expert all-to-all (DeepEP's layout) through NCCL between all of this host's GPUs (one
#      rank on one GPU), bit for bit against the step without transport, dispatch bandwidth against equal-chunk
#      all-to-all, and a silent peer ending in a timeout (SKIP_NCCL=1 leaves it out; NCCL from the loader's path or
#      the pip wheel nvidia-nccl-cu12/cu13, else R1ORLEANS_NCCL).
# Layout beside this script (tools/gpu/stage.sh makes it): r1orleans.tar.xz, golden.tar.xz, kernels/*.cu,
# torch_moe.py, torch_mla.py, torch_reduced.py, torch_timing.py, torch_error.py, heldout.py. Results go to $OUT (or ./out). GPUCHECK_ARGS passes arguments on (e.g. "--reps 50", "--checks-only").
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

# NCCL: the loader's path first, then the pip wheel (nvidia-nccl-cu12/cu13) that PyTorch brings.
if [ -z "${R1ORLEANS_NCCL:-}" ] && ! ldconfig -p | grep -q 'libnccl.so.2'; then
  lib="$(python3 -c 'import glob, site, os; c=[p for s in site.getsitepackages() for p in glob.glob(os.path.join(s, "nvidia", "**", "libnccl.so.2"), recursive=True)]; print(sorted(c)[0] if c else "")' 2>/dev/null)"
  [ -n "$lib" ] && export R1ORLEANS_NCCL="$lib"
  echo "NCCL: ${R1ORLEANS_NCCL:-not found}"
fi

work="${TMPDIR:-/tmp}/r1orleans-gpu"
rm -rf "$work" && mkdir -p "$work"
xz -dc "$here/r1orleans.tar.xz" | tar -C "$work" -xf -
bin="$work/r1orleans"
export XDG_CACHE_HOME="$work/cache" R1ORLEANS_KERNELS="$here/kernels"
SECONDS=0
rc=0
if [ "${SKIP_GPUCHECK:-0}" != "1" ]; then
  "$bin/r1-gpucheck" --kernels "$here/kernels" --out "$out/gpucheck.json" --error-case "$work/moe-case" ${GPUCHECK_ARGS:-} 2>&1 | tee "$out/gpucheck.log"
  rc=${PIPESTATUS[0]}
  echo "r1-gpucheck: exit code $rc after ${SECONDS}s"
fi

# 1b. The wgmma MLA decode (r1-gpucheck --mla-wgmma, its own process: a fault there cannot end the main check): its
# checks, then timed beside mma.sync. SKIP_WGMMA=1 leaves it out.
wgmma_rc=0
if [ "${SKIP_WGMMA:-0}" != "1" ]; then
  SECONDS=0
  timeout 240 "$bin/r1-gpucheck" --kernels "$here/kernels" --mla-wgmma --out "$out/mla-wgmma.json" 2>&1 | tee "$out/mla-wgmma.log"
  wgmma_rc=${PIPESTATUS[0]}
  echo "r1-gpucheck --mla-wgmma: exit code $wgmma_rc after ${SECONDS}s" | tee -a "$out/mla-wgmma.log"
fi

golden_rc=0
if [ -f "$here/golden.tar.xz" ]; then
  mkdir -p "$work/golden"
  xz -dc "$here/golden.tar.xz" | tar -C "$work/golden" -xf -
  SECONDS=0
  if [ "${SKIP_GOLDEN:-0}" != "1" ]; then
    # Through the device-resident forward (R1ORLEANS_DEVICE_FORWARD=1, the default), then op by op through CudaBackend (=0).
    R1ORLEANS_DEVICE_FORWARD=1 "$bin/r1" golden --device cuda:0 "$work/golden" 2>&1 | tee "$out/golden-cuda.log"
    golden_rc=${PIPESTATUS[0]}
    echo "R1ORLEANS_DEVICE_FORWARD=1 r1 golden --device cuda:0: exit code $golden_rc after ${SECONDS}s" | tee -a "$out/golden-cuda.log"
    SECONDS=0
    R1ORLEANS_DEVICE_FORWARD=0 "$bin/r1" golden --device cuda:0 "$work/golden" 2>&1 | tee -a "$out/golden-cuda.log"
    per_op_rc=${PIPESTATUS[0]}
    echo "r1 golden --device cuda:0 (op by op): exit code $per_op_rc after ${SECONDS}s" | tee -a "$out/golden-cuda.log"
    [ "$per_op_rc" -eq 0 ] || golden_rc=$per_op_rc
  fi
fi

# The device-resident forward (r1-gpucheck --forward): every golden case through it with the golden checks, its fast
# FP8 experts against its reference experts, then the reduced full-width model (V3 widths and vocabulary, 1 dense +
# 3 MoE layers, random FP8 weights generated on the GPU) decoding at batch 1 and 64 against its per-op floors.
# SKIP_FORWARD=1 leaves it out; FORWARD_REPS sets the decode steps timed (eager and graph each).
forward_rc=0
if [ "${SKIP_FORWARD:-0}" != "1" ] && [ -d "$work/golden" ]; then
  SECONDS=0
  # r1-gpucheck's main run above checked the forward's kernels one by one (last, in its own process); without it, this does.
  ops=(); [ "${SKIP_GPUCHECK:-0}" != "1" ] && ops=(--skip-ops)
  "$bin/r1-gpucheck" --kernels "$here/kernels" --forward "$work/golden" --reps "${FORWARD_REPS:-10}" --out "$out/forward.json" "${ops[@]}" 2>&1 | tee "$out/forward.log"
  forward_rc=${PIPESTATUS[0]}
  echo "r1-gpucheck --forward: exit code $forward_rc after ${SECONDS}s" | tee -a "$out/forward.log"
fi

# A decode step's small launches one by one (r1-gpucheck --decode-ops, ~5 s; SKIP_DECODE_OPS=1 leaves it out): what the
# reduced model's "mla absorb", "mla rope + cache" and "norms" rows are made of. Timing only; it fails only if a launch does.
decode_ops_rc=0
if [ "${SKIP_DECODE_OPS:-0}" != "1" ]; then
  timeout 120 "$bin/r1-gpucheck" --kernels "$here/kernels" --decode-ops 2>&1 | tee "$out/decode-ops.log"
  decode_ops_rc=${PIPESTATUS[0]}
  echo "r1-gpucheck --decode-ops: exit code $decode_ops_rc" | tee -a "$out/decode-ops.log"
fi

# The engine through IComputeBackend on the synthetic medium model (random FP8 weights, generated here): the CPU with
# every core, then cuda:0, same run. SKIP_ENGINE=1 leaves it out.
if [ "${SKIP_ENGINE:-0}" != "1" ]; then
  export XDG_DATA_HOME="$work/data"   # where bench-engine writes the synthetic checkpoint (once for both runs)
  # ENGINE_RUNS: "device:weights" pairs; FP8 weights stay FP8 (codes + block scales), float32 is the path before.
  # A CUDA device runs through the device-resident forward (R1ORLEANS_DEVICE_FORWARD=1); a third field "fast" runs it
  # with the FP8 experts and linears on tensor cores (=fast), "perop" op by op through CudaBackend (=0).
  for run in ${ENGINE_RUNS:-cpu:fp8 cuda0:fp8 cuda0:fp8:fast cuda0:fp8:perop cuda0:float32}; do
    IFS=: read -r device weights mode <<<"$run"; device="${device/cuda0/cuda:0}"
    case "${mode:-}" in perop) forward=0 ;; fast) forward=fast ;; *) forward=1 ;; esac
    echo "--- bench-engine --device $device --weights $weights (R1ORLEANS_DEVICE_FORWARD=$forward)" | tee -a "$out/bench-engine.log"
    SECONDS=0
    R1ORLEANS_DEVICE_FORWARD=$forward timeout 240 "$bin/r1" bench-engine --device "$device" --weights "$weights" --synthetic medium --prompt-tokens 128 --context 64 --steps 8 --batch 1 8 --repeats 2 \
      2>&1 | tee -a "$out/bench-engine.log"
    echo "r1 bench-engine --device $device --weights $weights: exit code ${PIPESTATUS[0]} after ${SECONDS}s" | tee -a "$out/bench-engine.log"
  done
fi

# The silo on the shipped r1orleans-tiny (models/ of the sent tree), --device cpu then cuda:0 (with the environment as
# a user's: the device-resident forward is the default): the 20 held-out
# additions through the OpenAI API, greedy; the GPU silo's answers must equal the CPU silo's. SKIP_SILO=1 leaves it out.
repo="$(dirname "$here")"
tiny="$repo/models/r1orleans-tiny"
questions="$repo/tests/R1Orleans.ModelAccuracy.Tests/heldout.json"
silo_rc=0
if [ "${SKIP_SILO:-0}" != "1" ] && [ -x "$bin/r1-silo" ] && [ -d "$tiny" ] && [ -f "$questions" ]; then
  for device in cpu cuda:0; do
    port=$((20000 + RANDOM % 10000))
    env -u R1ORLEANS_DEVICE_FORWARD "$bin/r1-silo" --device "$device" --model "$tiny" --served-model-name r1orleans-tiny --urls "http://127.0.0.1:$port" \
      --silo-port $((port + 10000)) --gateway-port $((port + 20000)) --kv-cache-tokens 8192 --Logging:LogLevel:Default Warning \
      >"$work/silo.log" 2>&1 &
    pid=$!
    if [ "$device" = cpu ]; then compare=(--save "$work/heldout-cpu.json"); else compare=(--expect "$work/heldout-cpu.json"); fi
    python3 "$here/heldout.py" --url "http://127.0.0.1:$port" --questions "$questions" --pid "$pid" --label "$device" "${compare[@]}" \
      2>&1 | tee -a "$out/silo-heldout.log"
    q_rc=${PIPESTATUS[0]}
    [ "$q_rc" -eq 0 ] || silo_rc=$q_rc
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    { echo "--- r1-silo --device $device: last lines of its log"; tail -n 15 "$work/silo.log"; } >>"$out/silo-heldout.log"
  done
fi

# The reduced full-width model through the engine (after the checks, so that they come back first; ENGINE_V3=0 leaves
# it out: ~130 s, most of it writing and loading the checkpoint). bench-engine writes
# the synthetic v3-reduced checkpoint here first (DeepSeek-V3's widths, 1 dense + 3 MoE layers, ~39 GB of FP8 and BF16),
# loads it and decodes through the device-resident forward in fast mode: tokens/s at batch 1 and 64 through the
# scheduler-free engine loop (per-layer times against floors: r1-gpucheck --forward's reduced-model table).
v3_rc=0
if [ "${ENGINE_V3:-1}" = "1" ]; then
  export XDG_DATA_HOME="$work/data"
  df -h "$work" | tee "$out/bench-engine-v3.log"
  SECONDS=0
  R1ORLEANS_DEVICE_FORWARD=fast timeout "${ENGINE_V3_TIMEOUT:-240}" "$bin/r1" bench-engine --device cuda:0 --weights fp8 --synthetic v3-reduced \
    --prompt-tokens 32 --context 64 --steps 16 --batch 1 64 --repeats 2 2>&1 | tee -a "$out/bench-engine-v3.log"
  v3_rc=${PIPESTATUS[0]}
  echo "r1 bench-engine --synthetic v3-reduced (fast): exit code $v3_rc after ${SECONDS}s" | tee -a "$out/bench-engine-v3.log"
fi

nccl_rc=0
if [ "${SKIP_NCCL:-0}" != "1" ]; then
  SECONDS=0
  timeout 400 "$bin/r1-gpucheck" --nccl --reps 20 2>&1 | tee "$out/nccl.log"
  nccl_rc=${PIPESTATUS[0]}
  echo "r1-gpucheck --nccl: exit code $nccl_rc after ${SECONDS}s" | tee -a "$out/nccl.log"
fi

error_rc=0
if [ "${SKIP_TORCH:-0}" != "1" ]; then
  PYTHONUNBUFFERED=1 python3 "$here/torch_moe.py" --out "$out/torch_moe.json" 2>&1 | tee "$out/torch_moe.log"
  PYTHONUNBUFFERED=1 python3 "$here/torch_mla.py" --out "$out/torch_mla.json" --gpucheck "$out/gpucheck.json" 2>&1 | tee "$out/torch_mla.log"
  PYTHONUNBUFFERED=1 python3 "$here/torch_reduced.py" --out "$out/torch_reduced.json" --forward "$out/forward.json" 2>&1 | tee "$out/torch_reduced.log"
  if [ -f "$work/moe-case/case.json" ]; then
    PYTHONUNBUFFERED=1 python3 "$here/torch_error.py" "$work/moe-case" --out "$out/torch_error.json" 2>&1 | tee "$out/torch_error.log"
    error_rc=${PIPESTATUS[0]}
  fi
fi
rm -rf "$work"
# Every log in one archive as well (the device tool brings back a limited number of files).
tar -C "$out" -czf "$out/all-logs.tar.gz" --exclude all-logs.tar.gz . 2>/dev/null
echo "r1-gpucheck exit code: $rc; wgmma MLA decode: $wgmma_rc; r1 golden --device cuda:0 exit code: $golden_rc; device forward: $forward_rc; decode ops bench: $decode_ops_rc; held-out questions through the silo: $silo_rc; v3-reduced through bench-engine: $v3_rc; NCCL all-to-all: $nccl_rc; fast-path error vs PyTorch BF16: $error_rc"
[ "$rc" -eq 0 ] && [ "$wgmma_rc" -eq 0 ] && [ "$golden_rc" -eq 0 ] && [ "$forward_rc" -eq 0 ] && [ "$decode_ops_rc" -eq 0 ] && [ "$silo_rc" -eq 0 ] && [ "$v3_rc" -eq 0 ] && [ "$nccl_rc" -eq 0 ] && [ "$error_rc" -eq 0 ]
