#!/usr/bin/env bash
# Plaintext TCP against TLS 1.3, side by side (docs/BENCHMARKS.md, "TLS"): rounds in which
# every measurement runs once over each transport in turn (the machine's speed drifts from
# minute to minute), then the median of each and the median of the TLS / plaintext ratios
# of the same round. One JSON line per run on stdout, tagged "set":"transports", "kind",
# "transport" and "round"; the summary goes to stderr.
#   bash tests/bench/compare_transports.sh BUILD [ROUNDS] [SETS] [IDLE]
# SETS: all (default), speed (echo, relay and logins) or idle (server memory with IDLE
# logged-in idle connections, default 15000, against none).
# e.g. bash tests/bench/compare_transports.sh build/release 5 > transports.jsonl
set -euo pipefail
usage="usage: compare_transports.sh BUILD [ROUNDS] [all|speed|idle] [IDLE]"
build=${1:?$usage}
rounds=${2:-5}
sets=${3:-all}
idle=${4:-15000}
case $sets in all | speed | idle) ;; *) echo "$usage" >&2; exit 2 ;; esac
bench="$build/tests/bench/shido-bench"
echo_bench="$build/tests/bench/shido-echo-bench"
server="$build/server/shido-server"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
# run KIND TRANSPORT COMMAND...: one run, its JSON line tagged.
run() {
  local kind=$1 transport=$2
  shift 2
  local flag=()
  [[ $transport == tls ]] && flag=(--tls)
  "$@" "${flag[@]}" --json |
    sed "s/^{/{\"set\":\"transports\",\"kind\":\"$kind\",\"transport\":\"$transport\",\"round\":$round,/" |
    tee -a "$results"
}

for round in $(seq "$rounds"); do
  for transport in plaintext tls; do
    [[ $sets == idle ]] && break
    # The ceiling of each transport, then the relay rows' command, then logins.
    run echo "$transport" "$echo_bench" --clients 16 --messages 10000 --size 256 --window 16
    run relay "$transport" "$bench" --spawn "$server" --users 200 --clients 16 --messages 1000 \
      --size 256 --window 16 --mode relay
    run login "$transport" "$bench" --spawn "$server" --users 200 --clients 16 --logins 200 \
      --mode login
  done
  for transport in plaintext tls; do
    [[ $sets == speed ]] && break
    # "Connections", item 3: the server's peak RSS with and without the idle connections.
    for held in 0 "$idle"; do
      run "idle-$held" "$transport" "$bench" --spawn "$server" --server-arg "--store memory" \
        --mode relay --users 16 --clients 2 --messages 500 --size 256 --window 1 --idle "$held"
    done
  done
done

python3 - "$results" "$idle" <<'PY' >&2
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
idle = int(sys.argv[2])
def by(kind, transport):
    return {r["round"]: r for r in runs if r["kind"] == kind and r["transport"] == transport}
def line(kind, field, label):
    plain, tls = by(kind, "plaintext"), by(kind, "tls")
    if not plain or not tls:
        return
    ratios = [tls[n][field] / plain[n][field] for n in plain if n in tls and plain[n][field]]
    print(f"{label:34} plaintext {statistics.median(r[field] for r in plain.values()):12,.2f}"
          f"   TLS {statistics.median(r[field] for r in tls.values()):12,.2f}"
          f"   TLS/plaintext x{statistics.median(ratios):.2f} ({len(ratios)} rounds)")
line("echo", "messages_per_second", "echo msg/s (C=16, window 16)")
line("relay", "messages_per_second", "relay msg/s (C=16, window 16)")
line("relay", "store_p99_ms", "relay store p99 ms")
line("relay", "server_cpu_us_per_message", "relay server CPU us/msg")
line("relay", "bench_cpu_us_per_message", "relay bench CPU us/msg")
line("login", "logins_per_second", "logins/s (16 at a time)")
line("login", "login_p50_ms", "login p50 ms")
line("login", "server_cpu_us_per_login", "server CPU us/login")
line("login", "bench_cpu_us_per_login", "bench CPU us/login")
for transport in ("plaintext", "tls"):
    none, held = by("idle-0", transport), by(f"idle-{idle}", transport)
    per = [(held[n]["server_peak_rss_bytes"] - none[n]["server_peak_rss_bytes"]) / idle
           for n in held if n in none]
    if per:
        print(f"{transport}: server peak RSS {statistics.median(r['server_peak_rss_bytes'] for r in none.values()) / 2**20:.1f}"
              f" MiB idle 0, {statistics.median(r['server_peak_rss_bytes'] for r in held.values()) / 2**20:.1f}"
              f" MiB with {idle:,}: {statistics.median(per):,.0f} bytes"
              f" ({statistics.median(per) / 1024:.1f} KiB) per idle connection, rounds: "
              + ", ".join(f"{p / 1024:.1f}" for p in per))
bad = sum(r.get("lost", 0) + r.get("duplicated", 0) + r.get("failed_auth", 0) for r in runs)
print(f"lost, duplicated or failed to verify: {bad} in {len(runs)} runs")
PY
