#!/usr/bin/env bash
# bench/on_report.sh - what on_report costs at scale (issue 8, item 6): a capture of about two
# million report rows, read by nasoone with a 1 s report file and each way of taking rows in
# Lua (bench/on_report.lua: none, tables, lazy, lazy-rows, changed, changed-rows), RUNS times
# each; prints the median wall time and the median peak RSS (GNU time's %e and %M) per way.
#
# The capture comes from bench/gen_capture (Zipf-skewed flows, so many get a single packet)
# with --snaplen 96: headers only, the same report as whole frames, a fifth of the disk. It is
# made once into the cache folder and read from the page cache.
#
# usage: bench/on_report.sh [MODE...]       (default: every mode, in the order above)
# Environment: BENCH_RUNS (default 3), BENCH_INTERVAL (default 1), BENCH_PACKETS (7,000,000),
#              BENCH_FLOWS (50,000,000: about 2 million of them get packets),
#              BENCH_CACHE_DIR (default /tmp/nasoone-bench), BENCH_BUILD_DIR (build-bench/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
RUNS=${BENCH_RUNS:-3}
INTERVAL=${BENCH_INTERVAL:-1}
PACKETS=${BENCH_PACKETS:-7000000}
FLOWS=${BENCH_FLOWS:-50000000}
CACHE=${BENCH_CACHE_DIR:-/tmp/nasoone-bench}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
[ $# -gt 0 ] || set -- none tables lazy lazy-rows changed changed-rows
[ -x /usr/bin/time ] || { echo "bench/on_report.sh: /usr/bin/time (GNU time) not found" >&2; exit 1; }

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)" --target nasoone_lua gen_capture >/dev/null
mkdir -p "$CACHE"
PCAP="$CACHE/on_report-${PACKETS}p-${FLOWS}f-s96.pcap"
# the stamp names the generator's source: a changed generator makes the capture again
STAMP="gen=$(sha256sum bench/gen_capture.c | cut -c1-16)"
if [ ! -f "$PCAP" ] || [ "$(cat "$PCAP.args" 2>/dev/null)" != "$STAMP" ]; then
    "$BUILD/bench/gen_capture" "$PCAP.tmp" --packets "$PACKETS" --flows "$FLOWS" --snaplen 96
    mv "$PCAP.tmp" "$PCAP"
    printf '%s\n' "$STAMP" >"$PCAP.args"
fi
cat "$PCAP" >/dev/null # page cache warm
OUT=$(mktemp -d "$CACHE/on_report.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
export LUA_PATH_5_4="$ROOT/lua/?.lua" LUA_CPATH_5_4="$BUILD/?.so"

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "capture: $PCAP, interval $INTERVAL s, median of $RUNS runs"
printf "%-13s %9s %14s %8s %10s %12s\n" mode "wall (s)" "peak RSS (MiB)" reports callbacks "rows read"
for mode in "$@"; do
    walls=() rss=()
    for _ in $(seq "$RUNS"); do
        line=$(/usr/bin/time -f "%e %M" -o "$OUT/time" \
            lua5.4 bench/on_report.lua "$PCAP" "$OUT" "$mode" "$INTERVAL")
        read -r wall kb <"$OUT/time"
        walls+=("$wall")
        rss+=("$kb")
    done
    field() { echo "$line" | grep -oE "$1=[0-9]+" | cut -d= -f2; }
    printf "%-13s %9s %14.0f %8s %10s %12s\n" "$mode" \
        "$(printf '%s\n' "${walls[@]}" | median)" \
        "$(printf '%s\n' "${rss[@]}" | median | awk '{ print $1 / 1024 }')" \
        "$(field reports)" "$(field callbacks)" "$(field rows)"
done
echo "report rows: $(field flows)"
