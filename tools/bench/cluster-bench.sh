#!/usr/bin/env bash
# Decode throughput of one silo against a cluster of three silo processes (Redis clustering, UCX exchange) on this
# machine, in the same run, alternating, for r1orleans-tiny (or --model DIR), with r1 bench at several concurrencies.
# Also prints each cluster run's exchange figures from /cluster/status (messages, bytes and mean reply time per step),
# and UCX's own one-way latency (ucx_perftest tag_lat, shared memory and TCP) measured at the start of the same run.
#   tools/bench/cluster-bench.sh [OUT_DIR] [UCX_TLS]      (needs redis-server and libucx0; builds Release first)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/bench-out}"; tls="${2:-posix,cma,self}"
mkdir -p "$out"
dotnet build -c Release "$root/silo/R1Orleans.Silo" -v q -nologo >/dev/null
dotnet build -c Release "$root/client/R1Orleans.Client" -v q -nologo >/dev/null
silo="$root/silo/R1Orleans.Silo/bin/Release/net10.0/r1-silo.dll"
r1="$root/client/R1Orleans.Client/bin/Release/net10.0/r1.dll"
model_args=(${MODEL_ARGS:-})
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_health() { for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.5; done; echo "silo on $1 never became healthy" >&2; return 1; }
export UCX_TLS="$tls" UCX_NET_DEVICES=lo

# UCX's own latency in this run: a server and a client of ucx_perftest per transport and payload.
for t in "posix,cma,self" "tcp,self"; do
  for size in 4096 65536; do
    port=$(free_port)
    UCX_TLS="$t" ucx_perftest -p "$port" >/dev/null 2>&1 & srv=$!
    sleep 1
    UCX_TLS="$t" ucx_perftest 127.0.0.1 -p "$port" -t tag_lat -n 2000 -s "$size" -w 100 >"$out/perftest-${t%%,*}-$size.txt" 2>&1 || true
    wait "$srv" 2>/dev/null || true
  done
done

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly yes --dir "$out" >"$out/redis.log" 2>&1 &
pids+=($!)

start_single() {
  single_http=$(free_port)
  dotnet "$silo" "${model_args[@]}" --urls "http://127.0.0.1:$single_http" --silo-port "$(free_port)" --gateway-port "$(free_port)" >"$out/single.log" 2>&1 &
  single_pid=$!; pids+=($single_pid); wait_health "$single_http"
}
start_cluster() {
  cluster_http=$(free_port); cid="bench-$RANDOM$RANDOM"
  common=(--clustering redis --redis "127.0.0.1:$redis_port" --cluster-id "$cid" "${model_args[@]}")
  dotnet "$silo" "${common[@]}" --node a --urls "http://127.0.0.1:$cluster_http" --silo-port "$(free_port)" --gateway-port "$(free_port)" >"$out/cluster-a.log" 2>&1 &
  c1=$!; pids+=($c1)
  for node in b c; do
    dotnet "$silo" "${common[@]}" --node $node --no-http --silo-port "$(free_port)" --gateway-port "$(free_port)" >"$out/cluster-$node.log" 2>&1 &
    pids+=($!); eval "c_$node=\$!"
  done
  wait_health "$cluster_http"
  for _ in $(seq 1 120); do
    curl -s "http://127.0.0.1:$cluster_http/cluster/status" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d["silos"])==3 and d["pendingVersion"] is None and d["thisSiloVersion"]==d["version"] else 1)' && return 0
    sleep 0.5
  done
  echo "the cluster never placed its experts over 3 silos" >&2; return 1
}
stop() { kill "$@" 2>/dev/null || true; wait "$@" 2>/dev/null || true; }

for c in ${CONCURRENCY:-1 8 32}; do
  n=$(( c < 8 ? 16 : c * 3 ))
  for round in 1 2; do
    start_single
    dotnet "$r1" bench --url "http://127.0.0.1:$single_http" -c "$c" -n "$n" --warmup "$c" --prompt-tokens 64 --output-tokens 64 --json "$out/single-c$c-r$round.json" >"$out/single-c$c-r$round.txt" 2>&1
    stop $single_pid
    start_cluster
    dotnet "$r1" bench --url "http://127.0.0.1:$cluster_http" -c "$c" -n "$n" --warmup "$c" --prompt-tokens 64 --output-tokens 64 --json "$out/cluster-c$c-r$round.json" >"$out/cluster-c$c-r$round.txt" 2>&1
    curl -s "http://127.0.0.1:$cluster_http/cluster/status" >"$out/cluster-c$c-r$round-status.json"
    stop $c1 $c_b $c_c
  done
done
python3 - "$out" <<'PY'
import json, sys, glob, os, statistics
out = sys.argv[1]
def tput(f):
    d = json.load(open(f))
    assert d["failed"] == 0, f"{f}: {d['failed']} requests failed"
    return d["output_token_throughput"]
rows = {}
for f in sorted(glob.glob(os.path.join(out, "*-c*-r*.json"))):
    if f.endswith("-status.json"): continue
    kind, c = os.path.basename(f).split("-")[:2]
    rows.setdefault((int(c[1:]), kind), []).append(tput(f))
for f in sorted(glob.glob(os.path.join(out, "perftest-*.txt"))):
    lines = [l for l in open(f) if l.strip().startswith("Final:")] or [l for l in open(f) if l.strip()][-1:]
    print(f"{os.path.basename(f)}: {lines[-1].strip() if lines else 'no output'}")
print("concurrency  single tok/s  cluster tok/s  cluster/single")
for c in sorted({c for c, _ in rows}):
    s = statistics.median(rows[(c, "single")]); k = statistics.median(rows[(c, "cluster")])
    print(f"{c:11d}  {s:12.1f}  {k:13.1f}  {k / s:14.2f}")
for f in sorted(glob.glob(os.path.join(out, "cluster-c*-status.json"))):
    d = json.load(open(f)); e = d.get("thisSiloExchange") or {}
    if e.get("sentMessages"):
        print(f"{os.path.basename(f)}: {e['sentMessages']} messages, {e['sentBytes'] / e['sentMessages']:.0f} B per request, mean reply {e['meanReplyMicroseconds']:.0f} us, holder ran {e['tokensRunHere']} token-experts")
PY
