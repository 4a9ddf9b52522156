#!/usr/bin/env bash
# Runs online_bias.py against r1-silo without and with --online-bias (one silo at a time, each on its own ports), so
# that the bias runs are compared with the frozen one: imbalance, drift, accuracy and agreement of greedy answers.
#   tools/model-questions/online_bias_runs.sh R1_SILO QUESTIONS.json OUT_DIR [N_PER_TASK]
# R1_SILO is the r1-silo executable (e.g. a Release publish); the model is this tree's models/r1orleans-tiny.
# BIAS_CONFIGS (optional) lists the bias runs as name=switches;name=switches (default: the defaults; max drift 0.05;
# γ 0.01 with max drift 0.1). Every silo this script starts is stopped by its PID.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
silo="$1"; questions="$2"; out="$3"; n="${4:-100}"
mkdir -p "$out"
configs="${BIAS_CONFIGS:-default=--online-bias;drift05=--online-bias --bias-max-drift 0.05;fast=--online-bias --bias-gamma 0.01 --bias-max-drift 0.1}"
port=8300
run() {
  local name="$1"; shift
  local switches="$1"; shift
  port=$((port + 1))
  # shellcheck disable=SC2086
  "$silo" --model "$root/models/r1orleans-tiny" --served-model-name r1orleans-tiny --urls "http://127.0.0.1:$port" \
    --silo-port $((port + 100)) --gateway-port $((port + 200)) --Logging:LogLevel:Default Warning $switches \
    >"$out/silo-$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 240); do
    python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "http://127.0.0.1:$port/health" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "$name: the silo exited"; cat "$out/silo-$name.log"; return 1; }
    sleep 0.5
  done
  echo "== $name: r1-silo $switches"
  python3 "$here/online_bias.py" "http://127.0.0.1:$port" "$questions" --n "$n" "$@" 2>&1 | tee "$out/$name.txt"
  kill "$pid"; wait "$pid" 2>/dev/null
}
run frozen "" --save "$out/frozen-answers.json"
IFS=';' read -r -a list <<<"$configs"
for c in "${list[@]}"; do
  run "${c%%=*}" "${c#*=}" --expect "$out/frozen-answers.json" --save "$out/${c%%=*}-answers.json"
done
