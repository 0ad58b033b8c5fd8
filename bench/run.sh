#!/usr/bin/env bash
# bench/run.sh - benchmark of the whole pipeline against two baselines, on a synthetic capture.
#
# Builds (Release, in build-bench/), generates the capture once into a cache folder, warms the
# page cache, then times, RUNS times each:
#   (a) read       bench/baseline read FILE        bare libpcap pcap_next_ex loop
#   (a2) read-1m   bench/baseline read-1m FILE     the same through a 1 MiB stdio buffer
#   (b) aggregate  bench/baseline aggregate FILE REPORT
#                                                  one thread: decode + flow table + the CSV
#                                                  report (1 MiB buffer)
#   (c) nasoone    lua5.4 bench/run_nasoone.lua    the library through its Lua API
#   (z) copy       cat FILE >/dev/null             the copy floor: the kernel's copy alone
# taking turns, and prints the median wall time, packets/s and peak RSS of each, the wall-time
# ratios c/a, c/a2, c/b and c/z (the median of the runs' ratios, each run of c against the z
# just before it), and how nasoone's CPU time split between its threads. It checks
# that all saw the same packets, (b) and (c) the same counted packets and flows, that the
# report has one row per flow and that (b)'s report and nasoone's are the same bytes; any
# failure or mismatch fails.
#
# Usage: bench/run.sh [--quick]        (--quick: 200,000 packets / 20,000 flows)
# Environment:
#   BENCH_PACKETS, BENCH_FLOWS  capture size (default 5,000,000 packets / 200,000 flows)
#   BENCH_SEED                  generator seed (default 1)
#   BENCH_RUNS                  timed runs per program (default 3; the median wall is shown)
#   BENCH_CACHE_DIR             where captures and the report go (default /tmp/nasoone-bench)
#   BENCH_BUILD_DIR             build folder (default build-bench/ at the repository root)
#   BENCH_BUILD_TARGET          target that builds the Lua module (default: nasoone_lua)
#   BENCH_LUA_CPATH             LUA_CPATH for the module (default BUILD/?.so: BUILD/nasoone/core.so)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

die() {
    echo "bench/run.sh: $*" >&2
    exit 1
}

packets=5000000
flows=200000
while [ $# -gt 0 ]; do
    case "$1" in
    --quick)
        packets=200000
        flows=20000
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$1' (try --help)" ;;
    esac
    shift
done
PACKETS=${BENCH_PACKETS:-$packets}
FLOWS=${BENCH_FLOWS:-$flows}
SEED=${BENCH_SEED:-1}
RUNS=${BENCH_RUNS:-3}
CACHE=${BENCH_CACHE_DIR:-/tmp/nasoone-bench}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
BUILD_TARGET=${BENCH_BUILD_TARGET:-nasoone_lua}
LUA_CPATH_BENCH=${BENCH_LUA_CPATH:-$BUILD/?.so}

for n in "$PACKETS" "$FLOWS" "$SEED" "$RUNS"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: '$n'"
done
[ "$RUNS" -ge 1 ] || die "BENCH_RUNS must be at least 1"
[ "$PACKETS" -ge 1 ] || die "BENCH_PACKETS must be at least 1"
command -v lua5.4 >/dev/null || die "lua5.4 not found"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found"

# ---- build ------------------------------------------------------------------------------------
echo "== build ($BUILD)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)" --target "$BUILD_TARGET" gen_capture baseline

# The bench binaries land in BUILD/bench unless the top level redirects executables.
find_binary() {
    if [ -x "$BUILD/bench/$1" ]; then
        echo "$BUILD/bench/$1"
        return
    fi
    local found
    found=$(find "$BUILD" -type f -name "$1" -perm -u+x -print -quit)
    [ -n "$found" ] || die "built target $1 not found under $BUILD"
    echo "$found"
}
GEN=$(find_binary gen_capture)
BASELINE=$(find_binary baseline)

export LUA_PATH_5_4="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua"
export LUA_CPATH_5_4="$LUA_CPATH_BENCH"
lua5.4 -e 'require("nasoone")' || die "the nasoone module does not load (LUA_CPATH_5_4=$LUA_CPATH_5_4)"

# ---- capture ----------------------------------------------------------------------------------
mkdir -p "$CACHE"
if [ "$PACKETS" = 5000000 ] && [ "$FLOWS" = 200000 ] && [ "$SEED" = 1 ]; then
    PCAP="$CACHE/bench-5M.pcap"
else
    PCAP="$CACHE/bench-${PACKETS}p-${FLOWS}f-s${SEED}.pcap"
fi
# The stamp names the arguments and the generator's source: either changing regenerates.
STAMP="packets=$PACKETS flows=$FLOWS seed=$SEED gen=$(sha256sum bench/gen_capture.c | cut -c1-16)"
if [ -f "$PCAP" ] && [ -f "$PCAP.args" ] && [ "$(cat "$PCAP.args")" = "$STAMP" ]; then
    echo "== capture $PCAP (cached)"
else
    echo "== capture $PCAP (generating)"
    rm -f "$PCAP" "$PCAP.args"
    start=$(date +%s.%N)
    "$GEN" "$PCAP.tmp" --packets "$PACKETS" --flows "$FLOWS" --seed "$SEED"
    mv "$PCAP.tmp" "$PCAP"
    printf '%s\n' "$STAMP" >"$PCAP.args"
    awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "   generated in %.1f s\n", e - s }'
fi
SIZE=$(stat -c %s "$PCAP")
cat "$PCAP" >/dev/null # warm the page cache: every run reads from memory

# ---- measure ----------------------------------------------------------------------------------
WORK=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUTDIR="$CACHE/out"
mkdir -p "$OUTDIR"

# run_once NAME COMMAND...: runs COMMAND once; keeps its stdout in WORK/NAME.out and adds its
# wall seconds to WALLS[NAME] and its peak RSS (KiB) to RSS[NAME] (the largest seen).
declare -A WALLS RSS WALL
run_once() {
    local name=$1 wall rss
    shift
    if ! /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        cat "$WORK/$name.err" >&2
        die "$name failed: $*"
    fi
    read -r wall rss <"$WORK/time"
    WALLS[$name]="${WALLS[$name]:-} $wall"
    if [ "$rss" -gt "${RSS[$name]:-0}" ]; then RSS[$name]=$rss; fi
}

# median NAME: the median of WALLS[NAME].
median() {
    # shellcheck disable=SC2086
    printf '%s\n' ${WALLS[$1]} | sort -g | sed -n "$(((RUNS + 1) / 2))p"
}

# field NAME KEY: the number after KEY= in WORK/NAME.out (fails if absent).
field() {
    local value
    value=$(grep -oE "(^| )$2=[0-9.]+" "$WORK/$1.out" | head -n 1 | sed 's/.*=//' || true)
    [ -n "$value" ] || die "no $2= in the output of $1: $(cat "$WORK/$1.out")"
    echo "$value"
}

# The programs take turns, run after run, so that a slow spell of this shared machine falls on
# all of them alike rather than on one.
echo "== timing, $RUNS runs each, in turns"
PROGRAMS=(read read1m aggregate copy nasoone)
for ((i = 1; i <= RUNS; i++)); do
    rm -f "$OUTDIR/baseline.csv" "$OUTDIR/report.csv"
    # shellcheck disable=SC2016 # $1 is the inner shell's: the file cat reads
    run_once copy sh -c 'cat "$1" >/dev/null' copy "$PCAP"
    run_once read "$BASELINE" read "$PCAP"
    run_once read1m "$BASELINE" read-1m "$PCAP"
    run_once aggregate "$BASELINE" aggregate "$PCAP" "$OUTDIR/baseline.csv"
    run_once nasoone lua5.4 bench/run_nasoone.lua "$PCAP" "$OUTDIR"
done
for name in "${PROGRAMS[@]}"; do
    WALL[$name]=$(median "$name")
    echo "   $name:${WALLS[$name]} s"
done

# ---- check ------------------------------------------------------------------------------------
read_packets=$(field read packets)
agg_packets=$(field aggregate packets)
agg_counted=$(field aggregate counted)
agg_flows=$(field aggregate flows)
nas_received=$(field nasoone received)
nas_counted=$(field nasoone counted)
nas_flows=$(field nasoone flows)
[ "$read_packets" = "$PACKETS" ] || die "read saw $read_packets packets, the capture has $PACKETS"
[ "$agg_packets" = "$read_packets" ] || die "aggregate saw $agg_packets packets, read $read_packets"
[ "$nas_received" = "$read_packets" ] || die "nasoone received $nas_received packets, read saw $read_packets"
[ "$nas_counted" = "$agg_counted" ] || die "nasoone counted $nas_counted packets, aggregate $agg_counted"
[ "$nas_flows" = "$agg_flows" ] || die "nasoone has $nas_flows flows, aggregate $agg_flows"
# the single-threaded loop's report and nasoone's are the same bytes (both sort rows the same way)
cmp -s "$OUTDIR/baseline.csv" "$OUTDIR/report.csv" ||
    die "nasoone's report differs from the single-threaded loop's ($OUTDIR/report.csv, $OUTDIR/baseline.csv)"
report_lines=$(wc -l <"$OUTDIR/report.csv")
[ "$report_lines" = $((agg_flows + 1)) ] ||
    die "report has $report_lines lines, expected $((agg_flows + 1)) (header + one row per flow)"

# ---- table ------------------------------------------------------------------------------------
echo
echo "capture: $PCAP"
awk -v p="$PACKETS" -v f="$FLOWS" -v used="$agg_flows" -v c="$agg_counted" -v s="$SIZE" \
    -v cpus="$(nproc)" -v runs="$RUNS" 'BEGIN {
    printf "  %d packets (%d counted), %d flows generated, %d with packets, %.1f MiB, %d CPUs, median of %d runs\n\n",
        p, c, f, used, s / 1048576, cpus, runs
}'
# shellcheck disable=SC2086 # WALLS[...] are lists of runs' walls, split on purpose
awk -v p="$PACKETS" \
    -v wa="${WALL[read]}" -v ra="${RSS[read]}" \
    -v wa2="${WALL[read1m]}" -v ra2="${RSS[read1m]}" \
    -v wb="${WALL[aggregate]}" -v rb="${RSS[aggregate]}" \
    -v wc="${WALL[nasoone]}" -v rc="${RSS[nasoone]}" \
    -v wz="${WALL[copy]}" -v rz="${RSS[copy]}" -v runs="$RUNS" \
    -v cz="$(paste <(printf '%s\n' ${WALLS[nasoone]}) <(printf '%s\n' ${WALLS[copy]}) |
        awk '{ printf "%.3f\n", $1 / $2 }' | sort -g | sed -n "$(((RUNS + 1) / 2))p")" 'BEGIN {
    printf "%-38s %8s %14s %14s\n", "program", "wall s", "packets/s", "peak RSS MiB"
    row("(a) baseline read (libpcap only)", wa, ra)
    row("(a2) read, 1 MiB stdio buffer", wa2, ra2)
    row("(b) one thread: decode+aggregate+CSV", wb, rb)
    row("(c) nasoone (Lua API)", wc, rc)
    row("(z) cat FILE >/dev/null (copy floor)", wz, rz)
    printf "\n"
    printf "c/a wall ratio: %s   c/a2 wall ratio: %s (goal <= 2.0)   c/b wall ratio: %s (goal <= 0.75)\n",
        ratio(wc, wa), ratio(wc, wa2), ratio(wc, wb)
    printf "c/z wall ratio: %s (the median of the ratios of its %d runs; goal <= 1.3)\n", cz, runs
}
function row(name, wall, rss) {
    printf "%-38s %8.2f %14s %14.1f\n", name, wall, (wall > 0 ? sprintf("%.0f", p / wall) : "inf"), rss / 1024
}
function ratio(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "n/a" }'
# where nasoone's CPU went, by thread (stats.cpu of its last run)
awk -v r="$(field nasoone cpu_reader)" -v p="$(field nasoone cpu_parsers)" \
    -v w="$(field nasoone cpu_writer)" -v wall="$(echo "${WALLS[nasoone]}" | awk '{print $NF}')" 'BEGIN {
    t = r + p + w
    printf "nasoone threads, last run: reader %.2f s, parsers %.2f s, writer %.2f s of CPU = %.2f s in %.2f s wall (%.2f cores busy)\n",
        r, p, w, t, wall, (wall > 0 ? t / wall : 0)
}'
