#!/usr/bin/env bash
# bench/inputs.sh - what reading a pcapng file, a compressed capture, or one on standard input
# costs.
#
# The 5M-packet / 200k-flow capture of bench/run.sh, also written as pcapng (gen_capture
# --pcapng: the same packets) and compressed with zstd, gzip (-1) and lz4 once into the cache
# folder; then, RUNS times each, taking turns:
#   zstd -dc, gzip -dc, lz4 -dc    the decompressor alone, into /dev/null
#   nasoone FILE.zst, .gz, .lz4    the whole report (bench/run_nasoone.lua)
#   nasoone - < FILE.zst           the same on standard input
#   nasoone FILE                   the plain file, for scale
#   nasoone FILE.pcapng            the same packets as pcapng
# and prints the median wall time of each, and nasoone's ratio to its decompressor alone.
#
# usage: bench/inputs.sh
# Environment: BENCH_RUNS (default 5), BENCH_CACHE_DIR (default /tmp/nasoone-bench),
#              BENCH_BUILD_DIR (default build-bench/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
RUNS=${BENCH_RUNS:-5}
CACHE=${BENCH_CACHE_DIR:-/tmp/nasoone-bench}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
for tool in zstd gzip lz4; do
    command -v "$tool" >/dev/null || { echo "bench/inputs.sh: $tool is needed (apt-get install -y $tool)" >&2; exit 1; }
done

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)" --target nasoone_lua gen_capture >/dev/null
mkdir -p "$CACHE"
OUT=$(mktemp -d "$CACHE/inputs.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
export LUA_PATH_5_4="$ROOT/lua/?.lua" LUA_CPATH_5_4="$BUILD/?.so"

pcap="$CACHE/bench-5M.pcap"
[ -f "$pcap" ] || "$BUILD/bench/gen_capture" "$pcap" --packets 5000000 --flows 200000
[ -f "${pcap%.pcap}.pcapng" ] || "$BUILD/bench/gen_capture" "${pcap%.pcap}.pcapng" --packets 5000000 --flows 200000 --pcapng
[ -f "$pcap.zst" ] || zstd -q -T0 "$pcap" -o "$pcap.zst"
[ -f "$pcap.gz" ] || gzip -1 -c "$pcap" >"$pcap.gz"
[ -f "$pcap.lz4" ] || lz4 -q "$pcap" "$pcap.lz4"
cat "$pcap.zst" "$pcap.gz" "$pcap.lz4" >/dev/null # page cache warm

# timed LABEL COMMAND...: one run, its wall time appended to OUT/LABEL
timed() {
    local label=$1 start
    shift
    start=$(date +%s.%N)
    "$@" >/dev/null
    awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", e - s }' >>"$OUT/$label"
}
nasoone() { lua5.4 bench/run_nasoone.lua "$1" "$OUT" 1; }
nasoone_stdin() { lua5.4 bench/run_nasoone.lua - "$OUT" 1 <"$1"; }

labels=(zstd-dc nasoone-zst gzip-dc nasoone-gz lz4-dc nasoone-lz4 nasoone-stdin-zst nasoone-plain
    nasoone-pcapng)
for _ in $(seq "$RUNS"); do
    timed zstd-dc zstd -dc "$pcap.zst"
    timed nasoone-zst nasoone "$pcap.zst"
    timed gzip-dc gzip -dc "$pcap.gz"
    timed nasoone-gz nasoone "$pcap.gz"
    timed lz4-dc lz4 -dc "$pcap.lz4"
    timed nasoone-lz4 nasoone "$pcap.lz4"
    timed nasoone-stdin-zst nasoone_stdin "$pcap.zst"
    timed nasoone-plain nasoone "$pcap"
    timed nasoone-pcapng nasoone "${pcap%.pcap}.pcapng"
done

median() { sort -n "$OUT/$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-20s %10s\n' input "median s"
for label in "${labels[@]}"; do printf '%-20s %10s\n' "$label" "$(median "$label")"; done
for kind in zst:zstd gz:gzip lz4:lz4; do
    ext=${kind%%:*} tool=${kind#*:}
    awk -v a="$(median "nasoone-$ext")" -v b="$(median "$tool-dc")" -v e="$ext" \
        'BEGIN { printf "nasoone .%s / %s -dc: %.2fx\n", e, (e == "gz" ? "gzip" : e == "zst" ? "zstd" : "lz4"), a / b }'
done
awk -v a="$(median nasoone-pcapng)" -v b="$(median nasoone-plain)" \
    'BEGIN { printf "nasoone .pcapng / the classic pcap file: %.2fx\n", a / b }'
