#!/usr/bin/env bash
# Before/after for a server change on a machine whose speed drifts from minute to minute:
# alternating runs of two shido-server binaries under the same shido-bench, one JSON line
# per run, tagged "set":"compare", "server":"a"|"b" and "pair"; summarize.py prints the
# median of each and of the ratios b/a pair by pair.
#   bash tests/bench/compare_servers.sh BENCH SERVER_A SERVER_B [PAIRS] [CLIENTS] [WINDOW] [MESSAGES]
# Build the "before" server in a worktree:
#   git worktree add /tmp/before REV && cmake -S /tmp/before -B /tmp/before/build \
#     -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/before/build --target shido-server
set -euo pipefail
usage="usage: compare_servers.sh BENCH SERVER_A SERVER_B [PAIRS] [CLIENTS] [WINDOW] [MESSAGES]"
bench=${1:?$usage}
server_a=${2:?$usage}
server_b=${3:?$usage}
pairs=${4:-6}
clients=${5:-16}
window=${6:-1}
messages=${7:-3000}

for pair in $(seq "$pairs"); do
  for which in a b; do
    server=$server_a
    [[ $which == b ]] && server=$server_b
    "$bench" --spawn "$server" --users 200 --clients "$clients" --messages "$messages" --size 256 \
      --window "$window" --mode relay --json |
      sed "s/^{/{\"tool\":\"shido\",\"set\":\"compare\",\"server\":\"$which\",\"pair\":$pair,/"
  done
done
