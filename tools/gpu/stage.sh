#!/usr/bin/env bash
# Stages everything the GPU machine needs into one folder (default .gpu at the repository root, which the device tool
# carries when .git/info/exclude lists /.gpu/), inside the device tool's 64 MiB for the whole sent tree:
#   r1orleans.tar.xz  r1 (the client: golden, bench-engine) and r1-gpucheck, published self-contained for linux-x64
#                     into one folder so that they share one copy of the .NET runtime (two single-file publishes
#                     would be ~38 MB each), xz-compressed (~26 MB);
#   golden.tar.xz     the model golden cases of ../shared/golden (tokenizer cases need no GPU), xz-compressed (~15 MB);
#   kernels/*.cu, run.sh, torch_moe.py.
# Then, on the GPU machine: bash .gpu/run.sh (results in $OUT).
#   tools/gpu/stage.sh [DEST]          GOLDEN=DIR overrides ../shared/golden; GOLDEN=none leaves the cases out
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${1:-$root/.gpu}"
golden="${GOLDEN:-$root/../shared/golden}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rm -rf "$dest"
mkdir -p "$dest" "$work/r1orleans"
for project in client/R1Orleans.Client tools/R1Orleans.GpuCheck; do
  dotnet publish "$root/$project" -c Release -r linux-x64 --self-contained -o "$work/r1orleans" >"$work/publish.log" 2>&1 \
    || { cat "$work/publish.log"; exit 1; }
done
tar -C "$work" -cf - r1orleans | xz -9 -T2 >"$dest/r1orleans.tar.xz"
if [ "$golden" != "none" ] && [ -d "$golden" ]; then
  cases=()
  for c in "$golden"/*/; do
    [ -f "$c/config.json" ] && cases+=("$(basename "$c")")
  done
  tar -C "$golden" -cf - "${cases[@]}" | xz -9 -T2 >"$dest/golden.tar.xz"
  echo "golden cases staged: ${cases[*]}"
fi
cp -r "$root/kernels" "$dest/"
cp "$root/tools/gpu/run.sh" "$root/tools/gpu/torch_moe.py" "$dest/"
du -sh "$dest"/*
