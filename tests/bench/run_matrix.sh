#!/usr/bin/env bash
# Runs the benchmark matrix of docs/BENCHMARKS.md: the whole matrix and the idle pairs, or
# one of them; tests/bench/summarize.py makes the tables.
#   bash tests/bench/run_matrix.sh BUILD_DIR [RUNS] [all|matrix|idle] > results.jsonl
# Every run is one JSON line on stdout, tagged with "tool" (and "set" and "pair" for idle).
set -euo pipefail
build=${1:?usage: run_matrix.sh BUILD_DIR [RUNS] [all|matrix|idle]}
runs=${2:-5}
sets=${3:-all}
case $sets in all | matrix | idle) ;; *) echo "run_matrix.sh: unknown set '$sets'" >&2; exit 2 ;; esac
bench="$build/tests/bench/shido-bench"
echo_bench="$build/tests/bench/shido-echo-bench"
server="$build/server/shido-server"

for clients in 1 4 16 64; do
  [[ $sets == idle ]] && break
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
# 2,000 idle logged-in connections held during a run, against the same run without them
# just before: the machine's speed drifts more between minutes than the effect we look
# for, so summarize.py compares each pair, not medians of all runs.
for run in $(seq "$runs"); do
  [[ $sets == matrix ]] && break
  for idle in 0 2000; do
    "$bench" --spawn "$server" --users 200 --clients 16 --messages 1000 --size 256 --window 1 \
      --mode relay --idle "$idle" --json | sed "s/^{/{\"tool\":\"shido\",\"set\":\"idle\",\"pair\":$run,/"
  done
done
