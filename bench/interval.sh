#!/usr/bin/env bash
# bench/interval.sh - what the report interval costs: the benchmark's 5M-packet, 200k-flow
# capture (bench/run.sh's, generated into the same cache if missing) read by nasoone at each
# interval given, RUNS times each; prints the median wall time, the reports written and the
# ratio to the first interval. A rewrite of this report takes longer than 0.1 s, so short
# intervals show whether rewrites starve the pipeline (issue 7: within 3x of 1 s at 0.1 s).
#
# usage: bench/interval.sh [INTERVAL...]     (default: 1 0.1 0.01)
# Environment: BENCH_RUNS (default 3), BENCH_CACHE_DIR (default /tmp/nasoone-bench),
#              BENCH_BUILD_DIR (default build-bench/), BENCH_PACKETS / BENCH_FLOWS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
RUNS=${BENCH_RUNS:-3}
CACHE=${BENCH_CACHE_DIR:-/tmp/nasoone-bench}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
PACKETS=${BENCH_PACKETS:-5000000}
FLOWS=${BENCH_FLOWS:-200000}
[ $# -gt 0 ] || set -- 1 0.1 0.01

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)" --target nasoone_lua gen_capture >/dev/null
mkdir -p "$CACHE"
if [ "$PACKETS" = 5000000 ] && [ "$FLOWS" = 200000 ]; then
    PCAP="$CACHE/bench-5M.pcap"
else
    PCAP="$CACHE/bench-${PACKETS}p-${FLOWS}f-s1.pcap"
fi
[ -f "$PCAP" ] || "$BUILD/bench/gen_capture" "$PCAP" --packets "$PACKETS" --flows "$FLOWS"
cat "$PCAP" >/dev/null # page cache warm
OUT=$(mktemp -d "$CACHE/interval.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
export LUA_PATH_5_4="$ROOT/lua/?.lua" LUA_CPATH_5_4="$BUILD/?.so"

printf "%-10s %-10s %-9s %s\n" interval "wall (s)" reports "vs first"
first=""
for interval in "$@"; do
    walls=()
    for _ in $(seq "$RUNS"); do
        start=$(date +%s.%N)
        line=$(lua5.4 bench/run_nasoone.lua "$PCAP" "$OUT" "$interval")
        walls+=("$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }')")
    done
    median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    [ -n "$first" ] || first=$median
    reports=$(echo "$line" | grep -oE 'reports=[0-9]+' | cut -d= -f2)
    printf "%-10s %-10s %-9s %.2fx\n" "$interval" "$median" "$reports" \
        "$(awk -v m="$median" -v f="$first" 'BEGIN { print m / f }')"
done
