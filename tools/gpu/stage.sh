#!/usr/bin/env bash
# Stages everything the GPU machine needs into one folder (default .gpu at the repository root, which the device tool
# carries: .gitignore lists /.gpu/), inside the device tool's 64 MiB for the whole sent tree:
#   r1orleans.tar.xz  r1 (the client: golden, bench-engine), r1-gpucheck and r1-silo, published self-contained for
#                     linux-x64 into one folder so that they share one copy of the .NET runtime (a single-file
#                     publish of r1-gpucheck alone is 38 MB), without symbols or models/, xz-compressed;
#   golden.tar.xz     the model golden cases of ../shared/golden (tokenizer cases need no GPU), xz-compressed (~15 MB);
#   kernels/*.cu, run.sh, torch_moe.py, torch_mla.py, torch_reduced.py, torch_timing.py, torch_error.py, heldout.py (the silo's questions and model come from the sent tree).
# Then, on the GPU machine: bash .gpu/run.sh (results in $OUT).
#   tools/gpu/stage.sh [DEST]          GOLDEN=DIR overrides ../shared/golden; GOLDEN=none leaves the cases out;
#                                      GOLDEN_CASES="a b" stages only those cases (with the silo staged, all three
#                                      cases no longer fit: 16.5 MiB tracked + 38 + 16 MiB; the two tiny ones do)
#                                      PROJECTS="client/R1Orleans.Client tools/R1Orleans.GpuCheck" leaves the silo out
#                                      (then run with SKIP_SILO=1), which makes room for every golden case
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${1:-$root/.gpu}"
golden="${GOLDEN:-$root/../shared/golden}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rm -rf "$dest"
mkdir -p "$dest" "$work/r1orleans"
for project in ${PROJECTS:-client/R1Orleans.Client tools/R1Orleans.GpuCheck silo/R1Orleans.Silo}; do
  dotnet publish "$root/$project" -c Release -r linux-x64 --self-contained -o "$work/r1orleans" >"$work/publish.log" 2>&1 \
    || { cat "$work/publish.log"; exit 1; }
done
# The silo serves the sent tree's models/r1orleans-tiny; symbols and the debugger's libraries are not needed there.
rm -rf "$work/r1orleans/models" "$work/r1orleans"/*.pdb "$work/r1orleans/libmscordaccore.so" "$work/r1orleans/libmscordbi.so" "$work/r1orleans/createdump"
tar -C "$work" -cf - r1orleans | xz -9 -T2 >"$dest/r1orleans.tar.xz"
if [ "$golden" != "none" ] && [ -d "$golden" ]; then
  cases=()
  for c in "$golden"/*/; do
    [ -f "$c/config.json" ] && cases+=("$(basename "$c")")
  done
  [ -n "${GOLDEN_CASES:-}" ] && read -r -a cases <<<"$GOLDEN_CASES"
  tar -C "$golden" -cf - "${cases[@]}" | xz -9 -T2 >"$dest/golden.tar.xz"
  echo "golden cases staged: ${cases[*]}"
fi
cp -r "$root/kernels" "$dest/"
cp "$root/tools/gpu/run.sh" "$root/tools/gpu/torch_moe.py" "$root/tools/gpu/torch_mla.py" "$root/tools/gpu/torch_reduced.py" "$root/tools/gpu/torch_timing.py" "$root/tools/gpu/torch_error.py" "$root/tools/gpu/heldout.py" "$dest/"
cd "$root" && echo "tracked files here: $(git ls-files -z | xargs -0 stat -c %s | awk '{s += $1} END {printf "%.1f", s / 1048576}') MiB tracked + $(du -sm "$dest" | cut -f1) MiB staged (limit 64 MiB)"
du -sh "$dest"/*
