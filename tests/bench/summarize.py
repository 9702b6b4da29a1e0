#!/usr/bin/env python3
"""Medians of run_matrix.sh's JSON lines, as the Markdown tables of docs/BENCHMARKS.md.
   python3 tests/bench/summarize.py < results.jsonl"""
import json
import statistics
import sys
from collections import defaultdict

runs = [json.loads(line) for line in sys.stdin if line.startswith("{")]
groups = defaultdict(list)
for r in runs:
    key = (r.get("set", "matrix"), r["tool"], r.get("mode", "echo"), r["clients"], r["window"], r.get("idle", 0))
    groups[key].append(r)

def med(rows, field):
    return statistics.median(r[field] for r in rows)

def cpu(rows, field):
    # Runs before the CPU fields existed have none.
    values = [r[field] for r in rows if r.get(field) is not None]
    return f"{statistics.median(values):.0f}" if values else "-"

print("| C | window | echo msg/s | relay msg/s | relay / echo | e2e msg/s | relay store p50 / p99 ms | e2e store p99 ms | e2e delivery p99 ms | relay CPU µs/msg server + bench | server peak RSS MiB | lost / dup |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for clients in (1, 4, 16, 64):
    for window in (1, 16):
        echo = groups.get(("matrix", "echo", "echo", clients, window, 0))
        relay = groups.get(("matrix", "shido", "relay", clients, window, 0))
        e2e = groups.get(("matrix", "shido", "e2e", clients, window, 0))
        if not (echo and relay and e2e):
            continue
        bad = sum(r["lost"] + r["duplicated"] + r["failed_auth"] for r in relay + e2e)
        print(f"| {clients} | {window} | {med(echo,'messages_per_second'):,.0f} | {med(relay,'messages_per_second'):,.0f} | "
              f"{med(relay,'messages_per_second')/med(echo,'messages_per_second'):.0%} | {med(e2e,'messages_per_second'):,.0f} | "
              f"{med(relay,'store_p50_ms'):.2f} / {med(relay,'store_p99_ms'):.2f} | {med(e2e,'store_p99_ms'):.2f} | "
              f"{med(e2e,'delivery_p99_ms'):.1f} | {cpu(relay,'server_cpu_us_per_message')} + {cpu(relay,'bench_cpu_us_per_message')} | "
              f"{max(r['server_peak_rss_bytes'] for r in relay+e2e)/2**20:.0f} | {bad} |")
print()
# The idle comparison pairs the runs of its own set, taken one after the other.
for idle in (0, 2000):
    rows = groups.get(("idle", "shido", "relay", 16, 1, idle))
    if rows:
        # The reduced files of docs/benchmarks have no memory or thread figures.
        memory = (f"server peak RSS {max(r['server_peak_rss_bytes'] for r in rows)/2**20:.0f} MiB, "
                  f"peak threads {max(r['server_peak_threads'] for r in rows)} "
                  if all("server_peak_rss_bytes" in r for r in rows) else "")
        print(f"idle {idle}: relay C=16 window 1: {med(rows,'messages_per_second'):,.0f} msg/s, store p99 "
              f"{med(rows,'store_p99_ms'):.2f} ms, delivery p99 {med(rows,'delivery_p99_ms'):.1f} ms, "
              f"{memory}({len(rows)} runs)")
def matched_pairs(rows, side):
    """Runs taken one after the other, by their "pair" tag: [{side value: run}] with both sides."""
    by_pair = defaultdict(dict)
    for r in rows:
        if "pair" in r:
            by_pair[r["pair"]][r[side]] = r
    return [p for p in by_pair.values() if len(p) == 2]

pairs = matched_pairs(groups.get(("idle", "shido", "relay", 16, 1, 0), []) +
                      groups.get(("idle", "shido", "relay", 16, 1, 2000), []), "idle")
if pairs:
    print(f"with 2,000 idle / without, median of {len(pairs)} pairs:", ", ".join(
        f"{field} x{statistics.median(p[2000][field] / p[0][field] for p in pairs):.2f}"
        for field in ("messages_per_second", "store_p99_ms", "delivery_p99_ms")))
# compare_servers.sh: server "a" against server "b", run by run.
compare = [r for r in runs if r.get("set") == "compare"]
for (clients, window) in sorted({(r["clients"], r["window"]) for r in compare}):
    matched = matched_pairs([r for r in compare if (r["clients"], r["window"]) == (clients, window)], "server")
    print(f"\ncompare, relay C={clients} window {window}, {len(matched)} pairs (medians: a, b, b/a pair by pair)")
    for field in ("messages_per_second", "store_p50_ms", "store_p99_ms", "delivery_p99_ms",
                  "server_cpu_us_per_message", "bench_cpu_us_per_message"):
        a = statistics.median(p["a"][field] for p in matched)
        b = statistics.median(p["b"][field] for p in matched)
        ratio = statistics.median(p["b"][field] / p["a"][field] for p in matched)
        print(f"  {field}: {a:,.2f} -> {b:,.2f}, x{ratio:.2f}")
for field in ("registrations_per_second", "logins_per_second"):
    values = [r[field] for r in runs if r["tool"] == "shido" and field in r]
    if values:
        print(f"{field.replace('_per_second', '/s')} (median of all runs): {statistics.median(values):,.0f}")
