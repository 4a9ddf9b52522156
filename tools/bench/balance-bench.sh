#!/usr/bin/env bash
# Issue 18's benchmark: a skewed workload (a few prompts repeated, so a few experts run hot) on a cluster of three silo
# processes of one node (Redis clustering, UCX exchange), before and after a rebalance that hot-swaps an EPLB placement
# with redundant experts. For each phase: decode throughput (r1 bench), the load by silo ((max - mean)/mean of the
# token-experts each silo's holder ran, from /cluster/status), and during the swap the inter-token latency and how long
# the swap took (from the POST until every silo's rank runs the new version). Each round starts a fresh cluster, warms
# it with one unmeasured run, then measures before, during and after the swap; two rounds.
#   tools/bench/balance-bench.sh [OUT_DIR]    env: MODEL_ARGS (default r1orleans-tiny), REDUNDANT (4), C (8), N (48), DISTINCT (2)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/bench-out/balance}"
mkdir -p "$out"
dotnet build -c Release "$root/silo/R1Orleans.Silo" -v q -nologo >/dev/null
dotnet build -c Release "$root/client/R1Orleans.Client" -v q -nologo >/dev/null
silo="$root/silo/R1Orleans.Silo/bin/Release/net10.0/r1-silo.dll"
r1="$root/client/R1Orleans.Client/bin/Release/net10.0/r1.dll"
model_args=(${MODEL_ARGS:-})
redundant="${REDUNDANT:-4}"; c="${C:-8}"; n="${N:-48}"; distinct="${DISTINCT:-2}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export UCX_TLS="${UCX_TLS:-posix,cma,self}" UCX_NET_DEVICES=lo

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly yes --dir "$out" >"$out/redis.log" 2>&1 &
pids+=($!)

status() { curl -s "http://127.0.0.1:$http/cluster/status"; }
# The token-experts each silo's holder ran so far, as "a b c".
holder_tokens() { status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str((s.get("rank") or {}).get("tokensRunByHolder",0)) for s in sorted(d["silos"], key=lambda s: s["node"])))'; }
bench() { dotnet "$r1" bench --url "http://127.0.0.1:$http" -c "$c" -n "$n" --warmup 0 --prompt-tokens 32 --output-tokens 64 --distinct-prompts "$distinct" --seed 7 --json "$1" >"${1%.json}.txt" 2>&1; }

for round in 1 2; do
  http=$(free_port); cid="balance-$RANDOM$RANDOM"
  common=(--clustering redis --redis "127.0.0.1:$redis_port" --cluster-id "$cid" --node host --redundant-experts "$redundant" --rebalance-interval 0 "${model_args[@]}")
  dotnet "$silo" "${common[@]}" --urls "http://127.0.0.1:$http" --silo-port "$(free_port)" --gateway-port "$(free_port)" >"$out/r$round-s0.log" 2>&1 &
  procs=($!)
  for s in 1 2; do
    dotnet "$silo" "${common[@]}" --no-http --silo-port "$(free_port)" --gateway-port "$(free_port)" >"$out/r$round-s$s.log" 2>&1 &
    procs+=($!)
  done
  pids+=("${procs[@]}")
  for _ in $(seq 1 240); do
    status 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d["silos"])==3 and d["pendingVersion"] is None and d["thisSiloVersion"]==d["version"] and all(s.get("rank") for s in d["silos"]) else 1)' 2>/dev/null && break
    sleep 0.5
  done

  bench "$out/r$round-warmup.json"   # JIT, caches and UCX endpoints warm: not measured
  t0=$(holder_tokens); bench "$out/r$round-before.json"; t1=$(holder_tokens)
  sleep 3   # a load window or two reach the balancer
  bench "$out/r$round-swap.json" & bench_pid=$!
  sleep 2
  v0=$(status | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
  start=$(date +%s.%N)
  curl -s -X POST "http://127.0.0.1:$http/cluster/experts/rebalance" >"$out/r$round-rebalance.json"
  for _ in $(seq 1 600); do
    status | python3 -c 'import json,sys; d=json.load(sys.stdin); v=d["version"]; sys.exit(0 if v != '"$v0"' and d["pendingVersion"] is None and all((s.get("rank") or {}).get("placementVersion")==v for s in d["silos"]) else 1)' 2>/dev/null && break
    sleep 0.1
  done
  end=$(date +%s.%N)
  wait "$bench_pid"
  echo "$start $end" >"$out/r$round-swap-times.txt"
  t2=$(holder_tokens); bench "$out/r$round-after.json"; t3=$(holder_tokens)
  echo "$t0|$t1|$t2|$t3" >"$out/r$round-holders.txt"
  status >"$out/r$round-status.json"
  curl -s "http://127.0.0.1:$http/cluster/balancer" >"$out/r$round-balancer.json"
  kill "${procs[@]}" 2>/dev/null || true; wait "${procs[@]}" 2>/dev/null || true
done

python3 - "$out" <<'PY'
import json, sys, statistics
out = sys.argv[1]
def imb(a, b):
    d = [y - x for x, y in zip(map(int, a.split()), map(int, b.split()))]
    m = sum(d) / len(d)
    return (max(d) - m) / m if m else float("nan"), d
rows = []
for r in (1, 2):
    t0, t1, t2, t3 = open(f"{out}/r{r}-holders.txt").read().strip().split("|")
    before, after, swap = (json.load(open(f"{out}/r{r}-{p}.json")) for p in ("before", "after", "swap"))
    for d in (before, after, swap):
        assert d["failed"] == 0, f"round {r}: {d['failed']} requests failed"
    s, e = map(float, open(f"{out}/r{r}-swap-times.txt").read().split())
    reb = json.load(open(f"{out}/r{r}-rebalance.json"))
    ib, db = imb(t0, t1); ia, da = imb(t2, t3)
    rows.append(dict(round=r, imbalance_before=ib, imbalance_after=ia, holders_before=db, holders_after=da,
                     tput_before=before["output_token_throughput"], tput_after=after["output_token_throughput"],
                     itl_p99_before=before["itl_ms"]["p99"], itl_p99_swap=swap["itl_ms"]["p99"], itl_p99_after=after["itl_ms"]["p99"],
                     swap_s=e - s, planned=reb.get("plannedImbalance"), current=reb.get("currentImbalance"), outcome=reb.get("outcome")))
json.dump(rows, open(f"{out}/summary.json", "w"), indent=1)
for x in rows:
    print(f"round {x['round']}: load (max-mean)/mean by silo {x['imbalance_before']:.3f} -> {x['imbalance_after']:.3f} (holders {x['holders_before']} -> {x['holders_after']}); "
          f"decode {x['tput_before']:.1f} -> {x['tput_after']:.1f} tok/s ({x['tput_after']/x['tput_before']:.2f}x); "
          f"ITL p99 {x['itl_p99_before']:.1f} ms before, {x['itl_p99_swap']:.1f} during the swap ({x['itl_p99_swap']/x['itl_p99_before']:.2f}x), {x['itl_p99_after']:.1f} after; "
          f"swap {x['swap_s']:.2f} s; planner {x['current']} -> {x['planned']} ({x['outcome']})")
PY
