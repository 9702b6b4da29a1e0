#!/usr/bin/env bash
# The disk store against the memory store, side by side: rounds of shido-bench relay runs,
# each round one run per store setting in turn (the machine's speed drifts from minute to
# minute), then the median messages/s of each setting and the median of its ratio to the
# memory store's run of the same round.
#   bash tests/bench/compare_stores.sh BUILD [ROUNDS] [CLIENTS] [WINDOW] [MESSAGES] [SIZE]
# e.g. bash tests/bench/compare_stores.sh build/release 7 16 16 2000 256
set -euo pipefail
usage="usage: compare_stores.sh BUILD [ROUNDS] [CLIENTS] [WINDOW] [MESSAGES] [SIZE]"
build=${1:?$usage}
rounds=${2:-7}
clients=${3:-16}
window=${4:-16}
messages=${5:-2000}
size=${6:-256}
settings=("--store memory" "--store disk --fsync always" "--store disk --fsync everysec"
          "--store disk --fsync no")

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq "$rounds"); do
  for setting in "${settings[@]}"; do
    "$build/tests/bench/shido-bench" --spawn "$build/server/shido-server" --server-arg "$setting" \
      --mode relay --users 32 --clients "$clients" --window "$window" --messages "$messages" \
      --size "$size" --json |
      sed "s/^{/{\"setting\":\"$setting\",\"round\":$round,/" | tee -a "$results"
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
by_round = {}
for run in runs:
    by_round.setdefault(run["round"], {})[run["setting"]] = run
settings = list(dict.fromkeys(run["setting"] for run in runs))
print(f"\n{'setting':32} {'msg/s (median)':>15} {'x memory (median of pairs)':>28} {'store p50 ms':>13}")
for setting in settings:
    rates = [r[setting]["messages_per_second"] for r in by_round.values() if setting in r]
    ratios = [r[setting]["messages_per_second"] / r["--store memory"]["messages_per_second"]
              for r in by_round.values() if setting in r and "--store memory" in r]
    p50 = [r[setting]["store_p50_ms"] for r in by_round.values() if setting in r]
    print(f"{setting:32} {statistics.median(rates):15.0f} {statistics.median(ratios):28.2f}"
          f" {statistics.median(p50):13.2f}")
PY
