#!/usr/bin/env bash
# bench/view.sh - how long `nasoone view` takes to show a big report (issue 21: 200,000 rows on
# screen in under 1 s, 2,000,000 in under 5 s, `--top 10` of the 5M-packet benchmark's report in
# under 1 s on a 2-core machine). Not a timed test: it prints figures.
#
# Reports:
#   bench-5M.csv     the report of the benchmark's capture (bench/run.sh: 5,000,000 packets,
#                    200,000 flows, seed 1; about 190,000 rows), written by
#                    `bin/nasoone capture -r bench-5M.pcap -o bench-5M.csv`
#   rows-N.csv       with --rows N: N rows of random addresses and ports in random order (not the
#                    report's: view sorts them), made by awk
# Cases, RUNS times each, taking turns, the median wall time shown:
#   top10            nasoone view REPORT --top 10 >/dev/null
#   full             nasoone view REPORT >/dev/null          every row, exact numbers (a pipe)
#   screen           nasoone view REPORT on a terminal       (script(1): a pty of 160 x 50)
#   by-src           nasoone view REPORT --by src --top 10 >/dev/null
# With --compare REV the view of git revision REV (its lua/, on this build's module) runs the
# same cases on bench-5M.csv in turn with this checkout's, for a before/after (the view before
# issue 21 took seconds a case there; it is not run on rows-N.csv: minutes and gigabytes).
#
# Usage: bench/view.sh [--rows N] [--compare REV]
# Environment:
#   BENCH_CACHE_DIR    captures and reports (default /tmp/nasoone-bench, shared with bench/run.sh)
#   BENCH_BUILD_DIR    build folder (default build-bench/, Release, as bench/run.sh)
#   BENCH_RUNS         runs of each case (default 3)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

die() {
    echo "bench/view.sh: $*" >&2
    exit 1
}

rows=""
compare=""
while [ $# -gt 0 ]; do
    case "$1" in
    --rows)
        [ $# -ge 2 ] || die "--rows needs a number"
        rows=$2
        shift
        ;;
    --compare)
        [ $# -ge 2 ] || die "--compare needs a git revision"
        compare=$2
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$1' (try --help)" ;;
    esac
    shift
done
CACHE=${BENCH_CACHE_DIR:-/tmp/nasoone-bench}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
RUNS=${BENCH_RUNS:-3}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a number of 1 or more"
[ -z "$rows" ] || [[ "$rows" =~ ^[1-9][0-9]*$ ]] || die "--rows: not a number: '$rows'"
command -v lua5.4 >/dev/null || die "lua5.4 not found"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) not found"

# ---- build ------------------------------------------------------------------------------------
echo "== build ($BUILD)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)" --target nasoone_lua gen_capture >/dev/null
GEN=$BUILD/bench/gen_capture
[ -x "$GEN" ] || GEN=$(find "$BUILD" -type f -name gen_capture -perm -u+x -print -quit)
[ -n "$GEN" ] || die "gen_capture not found under $BUILD"
export LUA_CPATH_5_4="$BUILD/?.so;;"
NEW_PATH="$ROOT/lua/?.lua;;"

# ---- reports ----------------------------------------------------------------------------------
mkdir -p "$CACHE/view"
PCAP=$CACHE/bench-5M.pcap
# the stamp bench/run.sh writes: the same capture is shared
STAMP="packets=5000000 flows=200000 seed=1 gen=$(sha256sum bench/gen_capture.c | cut -c1-16)"
if [ -f "$PCAP" ] && [ -f "$PCAP.args" ] && [ "$(cat "$PCAP.args")" = "$STAMP" ]; then
    echo "== capture $PCAP (cached)"
elif [ -f "$PCAP" ] && [ ! -f "$PCAP.args" ]; then
    echo "== capture $PCAP (cached, without bench/run.sh's stamp: used as it is)"
else
    echo "== capture $PCAP (generating)"
    rm -f "$PCAP" "$PCAP.args"
    "$GEN" "$PCAP.tmp" --packets 5000000 --flows 200000 --seed 1
    mv "$PCAP.tmp" "$PCAP"
    printf '%s\n' "$STAMP" >"$PCAP.args"
fi
REPORTS=("$CACHE/view/bench-5M.csv")
if [ ! -f "${REPORTS[0]}" ] || [ "$PCAP" -nt "${REPORTS[0]}" ]; then
    echo "== report ${REPORTS[0]} (capturing)"
    rm -f "${REPORTS[0]}"
    LUA_PATH_5_4=$NEW_PATH lua5.4 bin/nasoone capture -q -r "$PCAP" -o "${REPORTS[0]}"
fi
if [ -n "$rows" ]; then
    SYNTHETIC=$CACHE/view/rows-$rows.csv
    if [ ! -f "$SYNTHETIC" ]; then
        echo "== report $SYNTHETIC (generating)"
        LUA_PATH_5_4=$NEW_PATH lua5.4 -e 'print(require("nasoone").report_header)' >"$SYNTHETIC.tmp"
        awk -v n="$rows" 'BEGIN {
            srand(1)
            for (i = 0; i < n; i++) {
                first = 1700000000000 + int(rand() * 3600000)
                proto = rand() < 0.7 ? "[TCP]" : (rand() < 0.9 ? "[UDP]" : "[TCP, UDP]")
                # %.0f: the %d of mawk stops at 2^31
                printf "10.%d.%d.%d; %d; 198.18.%d.%d; %d; %s; %.0f; %.0f; %d; %d\n",
                    int(rand() * 256), int(rand() * 256), int(rand() * 256), 1024 + int(rand() * 64000),
                    int(rand() * 256), int(rand() * 256), int(rand() * 1024), proto, first,
                    first + int(rand() * 60000), 60 + int(rand() * 1000000), 1 + int(rand() * 1000)
            }
        }' >>"$SYNTHETIC.tmp"
        mv "$SYNTHETIC.tmp" "$SYNTHETIC"
    fi
    REPORTS+=("$SYNTHETIC")
fi
for report in "${REPORTS[@]}"; do cat "$report" >/dev/null; done # from the page cache

# ---- the views --------------------------------------------------------------------------------
WORK=$(mktemp -d "$CACHE/view/run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
VIEWS=(new)
declare -A LUA_PATHS=([new]=$NEW_PATH)
if [ -n "$compare" ]; then
    mkdir -p "$WORK/old"
    git archive "$compare" lua bin | tar -x -C "$WORK/old" || die "cannot read lua/ of '$compare'"
    VIEWS+=(old)
    LUA_PATHS[old]="$WORK/old/lua/?.lua;;"
fi
command -v script >/dev/null && HAVE_SCRIPT=1 || HAVE_SCRIPT=0
[ "$HAVE_SCRIPT" = 1 ] || echo "   (script(1) not found: no terminal case)"

declare -A WALLS
# run_case VIEW REPORT CASE: one timed run, its wall seconds added to WALLS[VIEW/REPORT/CASE]
run_case() {
    local view=$1 report=$2 which=$3 bin=$ROOT/bin/nasoone
    [ "$view" = old ] && bin=$WORK/old/bin/nasoone
    local -a command
    case "$which" in
    top10) command=(lua5.4 "$bin" view "$report" --top 10) ;;
    full) command=(lua5.4 "$bin" view "$report") ;;
    by-src) command=(lua5.4 "$bin" view "$report" --by src --top 10) ;;
    screen)
        command=(script -qec "COLUMNS=160 LINES=50 lua5.4 '$bin' view '$report'" /dev/null)
        ;;
    esac
    if ! LUA_PATH_5_4=${LUA_PATHS[$view]} /usr/bin/time -f '%e' -o "$WORK/time" "${command[@]}" \
        >"$WORK/out" 2>"$WORK/err" </dev/null; then
        cat "$WORK/err" >&2
        die "$view $which $report failed"
    fi
    WALLS["$view/$report/$which"]="${WALLS["$view/$report/$which"]:-} $(cat "$WORK/time")"
}

CASES=(top10 full by-src)
[ "$HAVE_SCRIPT" = 1 ] && CASES+=(screen)
echo "== timing, $RUNS runs of each case, in turns"
for ((i = 1; i <= RUNS; i++)); do
    for report in "${REPORTS[@]}"; do
        for case in "${CASES[@]}"; do
            for view in "${VIEWS[@]}"; do
                # the old view had no --by, and is not run on the synthetic report
                [ "$view" = old ] && { [ "$case" = by-src ] || [ "$report" != "${REPORTS[0]}" ]; } &&
                    continue
                run_case "$view" "$report" "$case"
            done
        done
    done
done

median() {
    # shellcheck disable=SC2086
    printf '%s\n' $1 | sort -g | sed -n "$(((RUNS + 1) / 2))p"
}
echo
printf '%-34s %-8s %12s' "report (rows)" "case" "this view s"
[ -n "$compare" ] && printf ' %14s' "$compare s"
echo
for report in "${REPORTS[@]}"; do
    count=$(($(wc -l <"$report") - 1))
    for case in "${CASES[@]}"; do
        printf '%-34s %-8s %12s' "$(basename "$report") ($count)" "$case" \
            "$(median "${WALLS["new/$report/$case"]}")"
        if [ -n "$compare" ]; then
            if [ "$case" = by-src ] || [ "$report" != "${REPORTS[0]}" ]; then printf ' %14s' "-"; else
                printf ' %14s' "$(median "${WALLS["old/$report/$case"]}")"
            fi
        fi
        echo
    done
done
echo "(median of $RUNS runs; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg))"
