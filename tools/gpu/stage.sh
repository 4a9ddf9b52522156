#!/usr/bin/env bash
# Stages everything the GPU machine needs into one folder (default .gpu at the repository root, which the device tool
# carries when .git/info/exclude lists /.gpu/): the self-contained single-file r1-gpucheck, kernels/*.cu, run.sh and
# torch_moe.py. Then, on the GPU machine: bash .gpu/run.sh (results in $OUT).
#   tools/gpu/stage.sh [DEST]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${1:-$root/.gpu}"
rm -rf "$dest"
mkdir -p "$dest/gpucheck"
dotnet publish "$root/tools/R1Orleans.GpuCheck" -c Release -r linux-x64 --self-contained \
  -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -o "$dest/gpucheck.publish"
cp "$dest/gpucheck.publish/r1-gpucheck" "$dest/gpucheck/"
rm -rf "$dest/gpucheck.publish"
cp -r "$root/kernels" "$dest/"
cp "$root/tools/gpu/run.sh" "$root/tools/gpu/torch_moe.py" "$dest/"
du -sh "$dest"
