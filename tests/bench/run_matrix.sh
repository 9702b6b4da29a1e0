#!/usr/bin/env bash
# Runs the benchmark matrix of docs/BENCHMARKS.md and prints a table of medians.
#   bash tests/bench/run_matrix.sh BUILD_DIR [RUNS] > results.jsonl
# Every run is one JSON line on stdout (tagged with "tool"); the table goes to stderr.
set -euo pipefail
build=${1:?usage: run_matrix.sh BUILD_DIR [RUNS]}
runs=${2:-5}
bench="$build/tests/bench/shido-bench"
echo_bench="$build/tests/bench/shido-echo-bench"
server="$build/server/shido-server"

for clients in 1 4 16 64; do
  for window in 1 16; do
    for run in $(seq "$runs"); do
      # The echo runs ten times as many frames: at 1,000 it is over in a tenth of a second.
      "$echo_bench" --clients "$clients" --messages 10000 --size 256 --window "$window" --json |
        sed 's/^{/{"tool":"echo",/'
      for mode in relay e2e; do
        "$bench" --spawn "$server" --users 200 --clients "$clients" --messages 1000 --size 256 \
          --window "$window" --mode "$mode" --json | sed 's/^{/{"tool":"shido",/'
      done
    done
  done
done
# 2,000 idle logged-in connections held during a run, against the same run without them.
for run in $(seq "$runs"); do
  for idle in 0 2000; do
    "$bench" --spawn "$server" --users 200 --clients 16 --messages 1000 --size 256 --window 1 \
      --mode relay --idle "$idle" --json | sed 's/^{/{"tool":"shido","set":"idle",/'
  done
done
