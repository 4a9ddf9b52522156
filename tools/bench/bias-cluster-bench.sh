#!/usr/bin/env bash
# Issue 18's bias-mode row on a cluster: three silo processes of r1orleans-tiny (Redis clustering, UCX exchange, the
# gateway spreading requests over the three ranks), first frozen (the checkpoint's gate bias), then with --online-bias
# (the load balancer moves one bias against every silo's load and pushes it to all). For each cluster,
# tools/model-questions/online_bias.py drives a skewed load (600 greedy 64-token completions of 3 openings, 8 in
# flight) and then asks the held-out questions, comparing each answer with the frozen cluster's. Measured around the
# drive: decode throughput, the load by silo ((max - mean)/mean of the token-experts each silo's holder ran, from
# /cluster/status) in each half of the drive, the cluster's expert imbalance per layer (the balancer's first and last
# window) and the drift.
#   tools/bench/bias-cluster-bench.sh OUT_DIR [N_PER_TASK]
#   env BIAS_CONFIGS: name=switches;... (default: the defaults; γ 0.01 with max drift 0.1); ROUNDS (2): rounds of all
#   runs in turn (frozen, then each bias setting), the held-out questions in the first round only
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:?OUT_DIR}"; n="${2:-60}"
mkdir -p "$out"
configs="${BIAS_CONFIGS:-default=--online-bias;fast=--online-bias --bias-gamma 0.01 --bias-max-drift 0.1}"
dotnet build -c Release "$root/silo/R1Orleans.Silo" -v q -nologo >/dev/null
silo="$root/silo/R1Orleans.Silo/bin/Release/net10.0/r1-silo.dll"
questions="$out/questions.json"
[ -f "$questions" ] || python3 "$root/tools/model-questions/make_questions.py" "$n" "$questions" add3 add sub mul cmp sort >/dev/null
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export UCX_TLS="${UCX_TLS:-posix,cma,self}" UCX_NET_DEVICES=lo

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly yes --dir "$out" >"$out/redis.log" 2>&1 &
pids+=($!)

status() { curl -s "http://127.0.0.1:$http/cluster/status"; }
holder_tokens() { status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str((s.get("rank") or {}).get("tokensRunByHolder",0)) for s in sorted(d["silos"], key=lambda s: s["silo"])))'; }

run() {
  local name="$1" switches="$2"; shift 2
  [ -f "$out/$name.txt" ] && rm -f "$out/$name.txt"
  http=$(free_port); local cid="bias-$name-$RANDOM"
  # shellcheck disable=SC2206
  local common=(--clustering redis --redis "127.0.0.1:$redis_port" --cluster-id "$cid" --rebalance-interval 0 --Logging:LogLevel:Default Warning $switches)
  dotnet "$silo" "${common[@]}" --served-model-name r1orleans-tiny --urls "http://127.0.0.1:$http" --silo-port "$(free_port)" --gateway-port "$(free_port)" >"$out/$name-s0.log" 2>&1 &
  local procs=($!)
  for s in 1 2; do
    dotnet "$silo" "${common[@]}" --no-http --silo-port "$(free_port)" --gateway-port "$(free_port)" >"$out/$name-s$s.log" 2>&1 &
    procs+=($!)
  done
  pids+=("${procs[@]}")
  for _ in $(seq 1 240); do
    status 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d["silos"])==3 and d["pendingVersion"] is None and d["thisSiloVersion"]==d["version"] and all(s.get("rank") for s in d["silos"]) else 1)' 2>/dev/null && break
    sleep 0.5
  done
  echo "== $name: r1-silo $switches (3 silos)" | tee "$out/$name.txt"
  local t0; t0=$(holder_tokens)
  # Holder tokens at the drive's half and end: online_bias.py prints "drive imbalance, 1st half" after the first half.
  python3 -u "$root/tools/model-questions/online_bias.py" "http://127.0.0.1:$http" "$questions" --n "$n" "$@" 2>&1 | while IFS= read -r line; do
    echo "$line"
    case "$line" in
      "drive took"*) echo "holder tokens by silo at the drive's end: $(holder_tokens) (start: $t0)"
                     curl -s "http://127.0.0.1:$http/cluster/balancer" >"$out/$name-balancer-drive.json" ;;
    esac
  done | tee -a "$out/$name.txt"
  curl -s "http://127.0.0.1:$http/cluster/balancer" >"$out/$name-balancer.json"
  kill "${procs[@]}" 2>/dev/null || true; wait "${procs[@]}" 2>/dev/null || true
}

# Round 1 asks the held-out questions after each drive; later rounds only drive (throughput and balance, A/B again).
IFS=';' read -r -a list <<<"$configs"
names=()
for round in $(seq 1 "${ROUNDS:-2}"); do
  q=$([ "$round" = 1 ] && echo "$n" || echo 0)
  run "frozen-r$round" "" --n "$q" --save "$out/frozen-r$round-answers.json"; names+=("frozen-r$round")
  for c in "${list[@]}"; do
    run "${c%%=*}-r$round" "${c#*=}" --n "$q" --expect "$out/frozen-r1-answers.json" --save "$out/${c%%=*}-r$round-answers.json"; names+=("${c%%=*}-r$round")
  done
done

python3 - "$out" "${names[@]}" <<'PY'
import json, re, sys
out, names = sys.argv[1], sys.argv[2:]
print("| run | decode tok/s (drive) | load by silo (max-mean)/mean over the drive | expert max/mean, 2nd half of the drive (s0's rank; layers) | balancer's window at the drive's end (layers) | drift | right | same answer as frozen |")
print("|---|---|---|---|---|---|---|---|")
for name in names:
    text = open(f"{out}/{name}.txt").read()
    took = float(re.search(r"drive took ([\d.]+) s", text).group(1))
    drive = int(re.search(r"drive: (\d+) completions", text).group(1))
    m = re.search(r"holder tokens by silo at the drive's end: ([\d ]+) \(start: ([\d ]+)\)", text)
    d = [int(b) - int(a) for a, b in zip(m.group(2).split(), m.group(1).split())]
    mean = sum(d) / len(d)
    silo = (max(d) - mean) / mean if mean else float("nan")
    second = re.search(r"drive imbalance, 2nd half: (.*)", text).group(1).replace("L", "").replace("=", ":")
    bias = (json.load(open(f"{out}/{name}-balancer-drive.json")) or {}).get("bias")
    if bias:
        layers = sorted(bias["imbalanceLastWindow"], key=int)
        imb = " / ".join(f"{l}:{bias['imbalanceLastWindow'][l]:.2f}" for l in layers)
        drift = max(bias["drift"].values())
    else:
        imb, drift = "-", 0.0
    tot = re.search(r"^all\s+right (\d+)/(\d+)(?:; same answer as frozen (\d+)/\d+)?", text, re.M)
    r = tot.group(1) + "/" + tot.group(2) if tot else "?"
    same = tot.group(3) if tot and tot.group(3) else "-"
    print(f"| {name} | {drive * 64 / took:.1f} | {silo:.3f} ({'/'.join(map(str, d))}) | {second} | {imb} | {drift:.3f} | {r} | {same} |")
PY
