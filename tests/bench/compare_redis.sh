#!/usr/bin/env bash
# The Redis store beside the memory and disk stores (issue 16): rounds in which the same
# shido-bench relay workload runs once against each of
#   memory   one server, --store memory
#   disk     one server, --store disk --fsync always, a fresh data directory
#   redis    one server on a fresh redis-server (AOF, appendfsync always)
#   redis-2  two servers on one fresh redis-server: users register and senders send through
#            the first, receivers wait on the second (shido-bench --receive-server), so every
#            message crosses servers and is delivered by the cross-server wake-up
# in turn, the order rotated each round (the machine's speed drifts from minute to minute).
# Bench, servers and Redis share this machine's cores. Everything runs on free loopback ports
# in a temporary directory, removed at exit with every process the script started.
#
# One JSON line per run on stdout: shido-bench's line tagged "set":"stores-redis", "store",
# "round" and "servers", with server_cpu_us_per_message and server_peak_rss_bytes summed
# over the run's servers, and for the Redis runs what Redis counted over the run (INFO
# deltas, less what the script's own INFO costs; the registrations and logins before the
# timed phase are included, a few hundred commands against tens of thousands):
#   redis_commands_per_message    calls in INFO commandstats per message received, including
#                                 the commands the Lua scripts run inside one EVALSHA
#   redis_calls_per_message       the same, command by command
#   redis_round_trips_per_message requests Redis read from its clients (total_reads_processed):
#                                 the servers' round trips, as they do not pipeline
#   redis_cpu_seconds, redis_cpu_us_per_message  used_cpu_user + used_cpu_sys
# Then, on stderr, the medians of each store and the median of its per-round ratios to the
# memory store's run of the same round.
#   bash tests/bench/compare_redis.sh BUILD [ROUNDS] [CLIENTS] [WINDOW] [SIZE] [MESSAGES]
# e.g. bash tests/bench/compare_redis.sh build/release 5 16 16 256 > stores-redis.jsonl
# (CLIENTS 16, WINDOW 16, SIZE 256 and MESSAGES 2000 per client by default, 32 users.)
# SHIDO_SERVER_ARGS, split at spaces, is added to every server's options (e.g.
# SHIDO_SERVER_ARGS="--redis-pool-size 32"; options of the Redis store only take effect in
# the Redis runs, but every server must accept them).
set -euo pipefail
usage="usage: compare_redis.sh BUILD [ROUNDS] [CLIENTS] [WINDOW] [SIZE] [MESSAGES]"
build=${1:?$usage}
rounds=${2:-5}
clients=${3:-16}
window=${4:-16}
size=${5:-256}
messages=${6:-2000}
users=32
bench="$build/tests/bench/shido-bench"
server="$build/server/shido-server"
stores=(memory disk redis redis-2)
read -ra server_args <<<"${SHIDO_SERVER_ARGS:-}"

work=""
pids=() # every process started and not yet stopped
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n $work ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "compare_redis.sh: $*" >&2
  exit 2
}
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null ||
    fail "$tool not found (Debian: apt-get install redis-server, which brings redis-tools)"
done
[[ -x $bench && -x $server ]] || fail "no $bench or $server: build both first"
work=$(mktemp -d "${TMPDIR:-/tmp}/shido-compare-redis.XXXXXX")

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop PID: SIGTERM, as an operator stops it, and reaped.
stop() {
  local pid=$1 kept=() other
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for other in "${pids[@]}"; do [[ $other == "$pid" ]] || kept+=("$other"); done
  pids=("${kept[@]}")
}

# start_redis DIR: a fresh redis-server with AOF and appendfsync always, as the tests start
# it; sets redis_port and redis_pid.
start_redis() {
  local dir=$1 attempt
  mkdir -p "$dir"
  for attempt in 1 2 3; do
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes \
      --appendfsync always --dir "$dir" --logfile "$dir/redis.log" </dev/null &
    redis_pid=$!
    pids+=("$redis_pid")
    for _ in $(seq 200); do
      [[ $(redis-cli -p "$redis_port" PING 2>/dev/null) == PONG ]] && return 0
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.05
    done
    stop "$redis_pid"
    echo "compare_redis.sh: redis-server did not start (attempt $attempt)" >&2
  done
  fail "redis-server did not start: $(tail -5 "$dir/redis.log" 2>/dev/null)"
}

# start_server DIR STORE-OPTIONS...: a shido-server on a free port with the run's shared key
# and, as shido-bench --spawn does, rate limits far above what one address registering every
# user of the run reaches; sets server_port and server_pid.
start_server() {
  local dir=$1
  shift
  mkdir -p "$dir/outbox" "$dir/data"
  chmod 700 "$dir/data"
  "$server" --host 127.0.0.1 --port 0 --data-dir "$dir/data" --outbox "$dir/outbox" \
    --server-key "$work/server_key.pem" --log-level warn --max-connections 1024 \
    --max-unauthenticated-per-address 1000000000 --codes-per-address 1000000000 \
    --codes-per-minute 1000000000 --failed-registrations-per-address 1000000000 \
    --failed-registrations-per-day 1000000000 "${server_args[@]}" "$@" \
    >"$dir/stdout" 2>"$dir/log" </dev/null &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 600); do
    server_port=$(sed -n 's/^shido-server listening on [^ ]*:\([0-9]*\) .*/\1/p' "$dir/stdout")
    [[ -n $server_port ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  fail "shido-server $* did not start: $(tail -5 "$dir/log")"
}

# The server key every server of the script shares (two servers behind one address need
# the same): made by a first start.
make_server_key() {
  local dir="$work/key"
  mkdir -p "$dir/data"
  chmod 700 "$dir/data"
  "$server" --host 127.0.0.1 --port 0 --data-dir "$dir/data" --store memory \
    --log-level warn >"$dir/stdout" 2>"$dir/log" </dev/null &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    grep -q '^shido-server listening' "$dir/stdout" && break
    kill -0 "$pid" 2>/dev/null || fail "shido-server did not start: $(tail -5 "$dir/log")"
    sleep 0.05
  done
  stop "$pid"
  install -m 600 "$dir/data/server_key.pem" "$work/server_key.pem"
}

# Sums VmHWM (bytes) of the given processes.
peak_rss() {
  local pid kib total=0
  for pid in "$@"; do
    kib=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")
    total=$((total + ${kib:-0} * 1024))
  done
  echo "$total"
}

redis_info() {
  redis-cli -p "$redis_port" INFO stats cpu commandstats >"$1"
}

# run STORE ROUND: one run against STORE; its JSON line on stdout and into $results.
status=0
run() {
  local store=$1 round=$2 dir="$work/round-$2-$1"
  local server_pids=() bench_args=() nservers=1 redis=false
  mkdir -p "$dir"
  case $store in
    memory) start_server "$dir/a" --store memory ;;
    disk) start_server "$dir/a" --store disk --fsync always ;;
    redis | redis-2)
      redis=true
      start_redis "$dir/redis"
      start_server "$dir/a" --store "redis://127.0.0.1:$redis_port"
      ;;
    *) fail "unknown store $store" ;;
  esac
  server_pids+=("$server_pid")
  bench_args+=(--host 127.0.0.1 --port "$server_port" --outbox "$dir/a/outbox")
  if [[ $store == redis-2 ]]; then
    nservers=2
    start_server "$dir/b" --store "redis://127.0.0.1:$redis_port"
    server_pids+=("$server_pid")
    bench_args+=(--receive-server "127.0.0.1:$server_port")
  fi
  local pid
  for pid in "${server_pids[@]}"; do bench_args+=(--server-pid "$pid"); done
  if $redis; then
    # Two snapshots back to back: what one costs, taken off the run's deltas.
    redis_info "$dir/info0"
    redis_info "$dir/info1"
  fi
  "$bench" "${bench_args[@]}" --mode relay --users "$users" --clients "$clients" \
    --window "$window" --messages "$messages" --size "$size" --json >"$dir/bench.json" ||
    {
      echo "compare_redis.sh: $store, round $round: shido-bench failed" >&2
      status=1
    }
  if $redis; then redis_info "$dir/info2"; fi
  local rss
  rss=$(peak_rss "${server_pids[@]}")
  for pid in "${server_pids[@]}"; do stop "$pid"; done
  if $redis; then stop "$redis_pid"; fi
  [[ -s $dir/bench.json ]] || return 0
  python3 - "$store" "$round" "$nservers" "$rss" "$dir" "$redis" <<'PY' | tee -a "$results"
import json, sys
store, round_, servers, rss, directory, redis = sys.argv[1:]
bench = json.loads(open(f"{directory}/bench.json").readline())
line = {"set": "stores-redis", "store": store, "round": int(round_), "servers": int(servers)}
line.update(bench)
line["server_peak_rss_bytes"] = int(rss)

def info(name):
    figures = {}
    for text in open(f"{directory}/{name}"):
        key, _, value = text.strip().partition(":")
        if key.startswith("cmdstat_"):
            calls = dict(pair.split("=") for pair in value.split(","))["calls"]
            figures[key] = int(calls)
        elif key in ("total_reads_processed", "used_cpu_sys", "used_cpu_user"):
            figures[key] = float(value)
    return figures

if redis == "true":
    first, before, after = info("info0"), info("info1"), info("info2")
    def delta(key):  # over the run, less what one INFO costs (first to before)
        return (after.get(key, 0) - before.get(key, 0)) - (before.get(key, 0) - first.get(key, 0))
    received = max(bench["received"], 1)
    calls = {key[len("cmdstat_"):]: delta(key) for key in after if key.startswith("cmdstat_")}
    calls = {name: count for name, count in sorted(calls.items()) if count > 0}
    cpu = (after["used_cpu_user"] + after["used_cpu_sys"]) - (before["used_cpu_user"] + before["used_cpu_sys"])
    line["redis_commands_per_message"] = round(sum(calls.values()) / received, 3)
    line["redis_calls_per_message"] = {name: round(count / received, 3) for name, count in calls.items()}
    line["redis_round_trips_per_message"] = round(delta("total_reads_processed") / received, 3)
    line["redis_cpu_seconds"] = round(cpu, 3)
    line["redis_cpu_us_per_message"] = round(cpu * 1e6 / received, 2)
print(json.dumps(line, separators=(",", ":")))
PY
}

results="$work/results.jsonl"
: >"$results"
make_server_key
for round in $(seq "$rounds"); do
  for turn in "${!stores[@]}"; do
    run "${stores[(turn + round - 1) % ${#stores[@]}]}" "$round"
  done
done

python3 - "$results" <<'PY' >&2
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
by_store = {}
for run in runs:
    by_store.setdefault(run["store"], {})[run["round"]] = run
memory = by_store.get("memory", {})

def median(store, field):
    values = [r[field] for r in by_store[store].values() if r.get(field) is not None]
    return statistics.median(values) if values else None

def ratio(store, field):
    pairs = [r[field] / memory[n][field] for n, r in by_store[store].items()
             if n in memory and r.get(field) and memory[n].get(field)]
    return statistics.median(pairs) if pairs else None

def show(value, form):
    width = int(form.split(".")[0])
    return format(value, form) if value is not None else "-".rjust(width)

print(f"\n{'store':8} {'runs':>4} {'msg/s':>8} {'x memory':>8} {'store p99 ms':>12} {'x memory':>8}"
      f" {'server CPU us/msg':>17} {'Redis CPU us/msg':>16} {'Redis cmds/msg':>14}"
      f" {'round trips/msg':>15}")
for store in by_store:
    print(f"{store:8} {len(by_store[store]):4} {show(median(store, 'messages_per_second'), '8.0f')}"
          f" {show(ratio(store, 'messages_per_second'), '8.2f')}"
          f" {show(median(store, 'store_p99_ms'), '12.2f')} {show(ratio(store, 'store_p99_ms'), '8.2f')}"
          f" {show(median(store, 'server_cpu_us_per_message'), '17.1f')}"
          f" {show(median(store, 'redis_cpu_us_per_message'), '16.1f')}"
          f" {show(median(store, 'redis_commands_per_message'), '14.2f')}"
          f" {show(median(store, 'redis_round_trips_per_message'), '15.2f')}")
print("(medians over the rounds; x memory: the median of the per-round ratios to memory)")
for store in ("redis", "redis-2"):
    if store in by_store:
        calls = {}
        for run in by_store[store].values():
            for name, count in run.get("redis_calls_per_message", {}).items():
                calls.setdefault(name, []).append(count)
        print(f"{store} Redis calls per message: "
              + ", ".join(f"{name} {statistics.median(c):.2f}" for name, c in sorted(calls.items())))
bad = sum(r["lost"] + r["duplicated"] + r["failed_auth"] + r["refused"] for r in runs)
print(f"lost, duplicated, refused or failed to verify: {bad} in {len(runs)} runs")
PY
# Non-zero when a run failed or lost, duplicated or refused a message.
((status == 0))
