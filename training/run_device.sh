#!/bin/bash
# The GPU-machine command: trains, exports, verifies and evaluates; packs the results into $OUT.
#   bash training/run_device.sh [train.py options]
# (through the project's device tool, with training/.corpus carried; see training/README.md)
set -o pipefail
export PYTHONUNBUFFERED=1
R=/tmp/r1run
rm -rf "$R"
mkdir -p "$R/work" "${OUT:=$R/outbox}"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
python3 training/train.py --out "$R/r1orleans-tiny" --work "$R/work" --outbox "$OUT" "$@"
rc=$?
(cd "$R" && tar -czf "$OUT/result.tgz" r1orleans-tiny $(ls -d work/*.json work/tokenizer-case 2>/dev/null))
ls -la "$OUT"
exit $rc
