#!/usr/bin/env bash
# bench/rewrite.sh - what rewriting the report costs when it is big: a capture with about two
# million report rows read by nasoone with a short interval (default 0.25 s: rewrites one after
# the other, several in a run; at 1 s the run ended before a periodic rewrite completed) and
# with a long one (default 3600 s: the final report alone), taking turns, RUNS times each.
# Prints the median wall time, the reports written and the ratio of each to the long interval
# (the target: at most 1.25x). It warns when the short runs wrote fewer than 3 reports.
#
# The capture comes from bench/gen_capture, generated once into the cache. Its flows are Zipf
# distributed, so most packets go to few flows: 3M packets give at most about 1M rows (at its
# 50M-flow limit), and 2M rows take 7M packets. The frames are cut at 96 bytes (--snaplen, the
# report is the same) so the file is 0.7 GB instead of 4.7; reading it is then cheaper, which
# makes the rewrites' share of the run larger, not smaller.
#
# usage: bench/rewrite.sh [SHORT_INTERVAL [LONG_INTERVAL]]      (default: 0.25 3600)
# Environment: BENCH_RUNS (default 3), BENCH_CACHE_DIR (default /tmp/nasoone-bench),
#              BENCH_BUILD_DIR (default build-bench/), BENCH_PACKETS (default 7000000),
#              BENCH_FLOWS (default 50000000), BENCH_SNAPLEN (default 96), BENCH_SEED (default 1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

die() {
    echo "bench/rewrite.sh: $*" >&2
    exit 1
}

SHORT=${1:-0.25}
LONG=${2:-3600}
RUNS=${BENCH_RUNS:-3}
CACHE=${BENCH_CACHE_DIR:-/tmp/nasoone-bench}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
PACKETS=${BENCH_PACKETS:-7000000}
FLOWS=${BENCH_FLOWS:-50000000}
SNAPLEN=${BENCH_SNAPLEN:-96}
SEED=${BENCH_SEED:-1}
for n in "$RUNS" "$PACKETS" "$FLOWS" "$SNAPLEN" "$SEED"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: '$n'"
done
[ "$RUNS" -ge 1 ] || die "BENCH_RUNS must be at least 1"
command -v lua5.4 >/dev/null || die "lua5.4 not found"

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)" --target nasoone_lua gen_capture >/dev/null
export LUA_PATH_5_4="$ROOT/lua/?.lua" LUA_CPATH_5_4="$BUILD/?.so"

# ---- capture: generated once; the stamp names the arguments and the generator's source ------
mkdir -p "$CACHE"
PCAP="$CACHE/rewrite-${PACKETS}p-${FLOWS}f-${SNAPLEN}b-s${SEED}.pcap"
STAMP="packets=$PACKETS flows=$FLOWS snaplen=$SNAPLEN seed=$SEED gen=$(sha256sum bench/gen_capture.c | cut -c1-16)"
if [ -f "$PCAP" ] && [ -f "$PCAP.args" ] && [ "$(cat "$PCAP.args")" = "$STAMP" ]; then
    echo "capture: $PCAP (cached)"
else
    echo "capture: $PCAP (generating; the generator holds about 52 bytes per flow)"
    rm -f "$PCAP" "$PCAP.args"
    "$BUILD/bench/gen_capture" "$PCAP.tmp" --packets "$PACKETS" --flows "$FLOWS" \
        --snaplen "$SNAPLEN" --seed "$SEED"
    mv "$PCAP.tmp" "$PCAP"
    printf '%s\n' "$STAMP" >"$PCAP.args"
fi
cat "$PCAP" >/dev/null # page cache warm: every run reads from memory

OUT=$(mktemp -d "$CACHE/rewrite.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

# one INTERVAL: one run's wall time appended to OUT/wall-INTERVAL, its summary line kept
run_once() {
    local interval=$1 start line
    start=$(date +%s.%N)
    line=$(lua5.4 bench/run_nasoone.lua "$PCAP" "$OUT" "$interval")
    awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", e - s }' >>"$OUT/wall-$interval"
    printf '%s\n' "$line" >"$OUT/line-$interval"
}
median() { sort -g "$OUT/wall-$1" | sed -n "$(((RUNS + 1) / 2))p"; }

field() { echo "$LINE" | grep -oE "(^| )$1=[0-9]+" | cut -d= -f2; }

# Taking turns, long then short, RUNS times: a machine whose speed drifts over minutes moves
# both alike (timing every long run before every short one measured the drift).
for _ in $(seq "$RUNS"); do
    run_once "$LONG"
    run_once "$SHORT"
done
LONG_WALL=$(median "$LONG")
LONG_LINE=$(cat "$OUT/line-$LONG")
SHORT_WALL=$(median "$SHORT")
SHORT_LINE=$(cat "$OUT/line-$SHORT")
LINE=$SHORT_LINE
if [ "$(field reports)" -lt 3 ]; then
    echo "bench/rewrite.sh: warning: the $SHORT s runs wrote $(field reports) reports: the run" \
        "ended before rewrites could cost anything; give a shorter interval" >&2
fi

LINE=$LONG_LINE
rows=$(field flows)
report_bytes=$(stat -c %s "$OUT/report.csv")
echo "rows: $rows, report: $((report_bytes / 1048576)) MiB, packets: $(field received), median of $RUNS runs, $(nproc) CPUs"
printf "%-10s %-10s %-9s %s\n" interval "wall (s)" reports "vs $LONG s"
LINE=$LONG_LINE
printf "%-10s %-10s %-9s %.2fx\n" "$LONG" "$LONG_WALL" "$(field reports)" 1
LINE=$SHORT_LINE
printf "%-10s %-10s %-9s %.2fx\n" "$SHORT" "$SHORT_WALL" "$(field reports)" \
    "$(awk -v s="$SHORT_WALL" -v l="$LONG_WALL" 'BEGIN { print s / l }')"
