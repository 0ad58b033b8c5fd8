#!/usr/bin/env bash
# bench/lifecycle.sh - what flow lifecycle and exports cost (issue 8's benchmark figures).
#
#   1. time: the 5M-packet / 200k-flow capture of bench/run.sh, RUNS times each, interleaved:
#        off       no limits (today's pipeline)
#        idle60    set_flow_limits{ idle_timeout = 60 } (lifecycle on, no capacity pressure)
#        ipfix     the same plus an IPFIX export over UDP to a local nfcapd (skipped without
#                  nfcapd: apt-get install -y nfdump)
#      and prints the median wall time and peak RSS of each and their ratio and difference to off.
#   2. memory: bench/rewrite.sh's capture of 7M packets and 2M report rows (snaplen 96), peak RSS
#      without limits and with max_flows = 100000; then the same limits on that capture ten times
#      over (70M packets, 20M rows made and ended), whose peak must stay that of the short one.
#
# usage: bench/lifecycle.sh [time|memory]...   (default: both)
# Environment: BENCH_RUNS (default 5), BENCH_CACHE_DIR (default /tmp/nasoone-bench),
#              BENCH_BUILD_DIR (default build-bench/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
RUNS=${BENCH_RUNS:-5}
CACHE=${BENCH_CACHE_DIR:-/tmp/nasoone-bench}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
[ $# -gt 0 ] || set -- time memory

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)" --target nasoone_lua gen_capture >/dev/null
mkdir -p "$CACHE"
OUT=$(mktemp -d "$CACHE/lifecycle.XXXXXX")
collector=""
cleanup() {
    [ -z "$collector" ] || kill "$collector" 2>/dev/null || true
    rm -rf "$OUT"
}
trap cleanup EXIT
export LUA_PATH_5_4="$ROOT/lua/?.lua" LUA_CPATH_5_4="$BUILD/?.so"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# run LABEL LIMITS EXPORT CAPTURE: one timed run; prints "WALL_SECONDS PEAK_RSS_MIB"
run() {
    BENCH_LIMITS="$2" BENCH_EXPORT="$3" /usr/bin/time -f "%e %M" -o "$OUT/$1.time" \
        lua5.4 bench/run_nasoone.lua "$4" "$OUT" 1 >"$OUT/$1.out"
    awk '{ printf "%.3f %.1f\n", $1, $2 / 1024 }' "$OUT/$1.time"
}

free_udp_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 10000))
        ss -Huan | grep -q ":$port " || { echo "$port"; return; }
    done
}

bench_time() {
    local pcap="$CACHE/bench-5M.pcap" ipfix=""
    [ -f "$pcap" ] || "$BUILD/bench/gen_capture" "$pcap" --packets 5000000 --flows 200000
    cat "$pcap" >/dev/null # page cache warm
    if command -v nfcapd >/dev/null; then
        local port
        port=$(free_udp_port)
        mkdir -p "$OUT/nfcapd"
        nfcapd -b 127.0.0.1 -p "$port" -w "$OUT/nfcapd" -t 3600 >/dev/null 2>&1 &
        collector=$!
        sleep 0.5
        ipfix="ipfix udp://127.0.0.1:$port"
    fi
    local off=() idle=() exported=()
    for _ in $(seq "$RUNS"); do
        off+=("$(run off "" "" "$pcap")")
        idle+=("$(run idle60 "idle_timeout=60" "" "$pcap")")
        [ -z "$ipfix" ] || exported+=("$(run ipfix "idle_timeout=60" "$ipfix" "$pcap")")
    done
    # column 1 of the runs: wall seconds; column 2: peak RSS in MiB
    column() { printf '%s\n' "${@:2}" | awk -v c="$1" '{ print $c }' | median; }
    local w_off r_off
    w_off=$(column 1 "${off[@]}")
    r_off=$(column 2 "${off[@]}")
    # line LABEL RUN...: the medians and how they compare with off
    line() {
        local w r
        w=$(column 1 "${@:2}")
        r=$(column 2 "${@:2}")
        awk -v l="$1" -v w="$w" -v r="$r" -v wo="$w_off" -v ro="$r_off" \
            'BEGIN { printf "%-8s %-9s %-9s %-14s %+.1f\n", l, w, sprintf("%.3fx", w / wo), r, r - ro }'
    }
    printf "%-8s %-9s %-9s %-14s %s\n" run "wall (s)" "vs off" "peak RSS (MiB)" "vs off (MiB)"
    line off "${off[@]}"
    line idle60 "${idle[@]}"
    if [ -n "$ipfix" ]; then
        line ipfix "${exported[@]}"
        echo "ipfix: $(grep '^export' "$OUT/ipfix.out")"
        echo "ipfix: a file's records are paced (rate, 50,000 a second by default: docs/flows.md)"
    else
        echo "ipfix    skipped: nfcapd not installed (apt-get install -y nfdump)"
    fi
}

# peak RSS in MiB of: lua5.4 bench/run_nasoone.lua CAPTURE with BENCH_LIMITS=$1
peak_mb() {
    local limits=$1 capture=$2
    BENCH_LIMITS="$limits" /usr/bin/time -f "%M" lua5.4 bench/run_nasoone.lua "$capture" "$OUT" 1 \
        2>"$OUT/time" >"$OUT/peak.out"
    awk '{ printf "%.0f\n", $1 / 1024 }' "$OUT/time"
}

bench_memory() {
    # bench/rewrite.sh's capture: the generator's Zipf skew needs 7M packets for 2M rows
    local pcap="$CACHE/rewrite-7000000p-50000000f-96b-s1.pcap"
    [ -f "$pcap" ] || "$BUILD/bench/gen_capture" "$pcap" --packets 7000000 --flows 50000000 \
        --snaplen 96 >/dev/null
    local unlimited limited longer rows
    unlimited=$(peak_mb "" "$pcap")
    rows=$(grep -oE 'flows=[0-9]+' "$OUT/peak.out")
    limited=$(peak_mb "max_flows=100000" "$pcap")
    local held
    held=$(grep -oE 'flows=[0-9]+' "$OUT/peak.out")
    # ten times as long: the capture ten times over in one file (7 GB, cached). With 100000 rows
    # held and 2M distinct rows a copy, every row of a copy was evicted long before it comes back,
    # so each copy makes its 2M rows anew: 20M rows made and ended in all.
    local long="$CACHE/lifecycle-10x-7000000p.pcap"
    if [ ! -f "$long" ]; then
        {
            cat "$pcap"
            for _ in $(seq 2 10); do tail -c +25 "$pcap"; done # without the file header
        } >"$long.tmp"
        mv "$long.tmp" "$long"
    fi
    longer=$(peak_mb "max_flows=100000" "$long")
    # and its RSS every 2 s while it runs: flat after the first seconds, not growing with length
    local trace=""
    rm -f "$OUT/report.csv"
    BENCH_LIMITS="max_flows=100000" lua5.4 bench/run_nasoone.lua "$long" "$OUT" 1 >/dev/null &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        trace="$trace $(awk '/VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null)"
        sleep 2
    done
    wait "$pid"
    local long_counted
    long_counted=$(grep -oE 'counted=[0-9]+ flows=[0-9]+ reports=[0-9]+ records=[0-9]+' "$OUT/peak.out")
    printf "%-34s %s\n" run "peak RSS (MiB)"
    printf "%-34s %s   (%s)\n" "7M packets, no limits" "$unlimited" "$rows"
    printf "%-34s %s   (%.2f of no limits; %s held at the end)\n" "7M packets, max_flows 100000" \
        "$limited" "$(awk -v a="$limited" -v b="$unlimited" 'BEGIN { print a / b }')" "$held"
    printf "%-34s %s   (%s)\n" "70M packets, max_flows 100000" "$longer" "$long_counted"
    echo "RSS of the 70M-packet run every 2 s (MiB):$trace"
}

for what in "$@"; do
    case "$what" in
    time) bench_time ;;
    memory) bench_memory ;;
    *)
        echo "usage: bench/lifecycle.sh [time|memory]..." >&2
        exit 2
        ;;
    esac
done
