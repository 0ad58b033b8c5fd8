#!/usr/bin/env bash
# bench/ipfix_collectors.sh - does every IPFIX record of a file capture reach a collector that
# runs with its default settings?
#
# A file capture makes records far faster than a link would (the 5M-packet benchmark: 191,892
# records in 1-2 s unpaced), and UDP drops what a collector's socket buffer cannot hold, with
# no word to the sender. This starts, on 127.0.0.1 and free ports, nfcapd (nfdump) and nfacctd
# (pmacct) with their default settings (no socket buffer option), exports the capture's records
# to each with the given rates (records a second; 0: unpaced), and compares what each collector
# stored with what nasoone counted: flows and packets.
#
# usage: bench/ipfix_collectors.sh [CAPTURE] [RATE...]
#   CAPTURE  default: the 5M-packet capture of bench/run.sh (made in BENCH_CACHE_DIR if missing)
#   RATE     default: the export's default rate (no option given), and 0 (unpaced)
# Environment: BENCH_CACHE_DIR (default /tmp/nasoone-bench), BENCH_BUILD_DIR (default
# build-bench/). Needs nfcapd, nfdump (apt-get install -y nfdump) and nfacctd (pmacct).
# Prints one line per collector and rate; exits 1 when a default-rate run lost a record.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
CACHE=${BENCH_CACHE_DIR:-/tmp/nasoone-bench}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
for tool in nfcapd nfdump nfacctd; do
    command -v "$tool" >/dev/null || { echo "bench/ipfix_collectors.sh: $tool is needed (apt-get install -y nfdump pmacct)" >&2; exit 2; }
done
capture=${1:-$CACHE/bench-5M.pcap}
shift || true
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(default 0)

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)" --target nasoone_lua gen_capture >/dev/null
if [ ! -f "$capture" ]; then
    mkdir -p "$(dirname "$capture")"
    "$BUILD/bench/gen_capture" "$capture" --packets 5000000 --flows 200000 >/dev/null
fi
export LUA_PATH_5_4="$ROOT/lua/?.lua" LUA_CPATH_5_4="$BUILD/?.so"
work=$(mktemp -d "${TMPDIR:-/tmp}/nasoone-collectors.XXXXXX")
collector=""
cleanup() {
    [ -z "$collector" ] || kill "$collector" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { echo $((20000 + RANDOM));  }

# export RATE PORT: runs the capture with an IPFIX export; prints "counted flows seconds"
export_to() {
    lua5.4 - "$capture" "$1" "$2" <<'LUA'
local nasoone = require("nasoone")
local file, rate, port = arg[1], arg[2], arg[3]
local cap = nasoone.new()
assert(cap:set_capture_file(file))
local options = rate ~= "default" and { rate = tonumber(rate) } or nil
assert(cap:add_export("ipfix", "udp://127.0.0.1:" .. port, options))
local started = os.time()
assert(cap:start())
assert(cap:wait(3600))
local stats = assert(cap:stop())
local export = stats.exports[1]
print(stats.counted, export.sent, export.dropped, os.time() - started)
LUA
}

status=0
for rate in "${rates[@]}"; do
    for kind in nfcapd nfacctd; do
        port=$(free_port)
        dir="$work/$kind-$rate"
        mkdir -p "$dir"
        if [ "$kind" = nfcapd ]; then
            nfcapd -b 127.0.0.1 -p "$port" -w "$dir" -t 3600 >"$dir.log" 2>&1 &
        else
            printf 'daemonize: false\nnfacctd_ip: 127.0.0.1\nnfacctd_port: %s\nplugins: print\nprint_output: csv\nprint_output_file: %s/flows.csv\nprint_output_file_append: true\nprint_refresh_time: 1\naggregate: src_host, dst_host, src_port, dst_port, proto\n' \
                "$port" "$dir" >"$dir.conf"
            nfacctd -f "$dir.conf" >"$dir.log" 2>&1 &
        fi
        collector=$!
        for _ in $(seq 50); do ss -Hlun "sport = :$port" | grep -q . && break; sleep 0.1; done
        read -r counted sent dropped seconds < <(export_to "$rate" "$port")
        sleep 2 # the collector's last messages, and nfacctd's refresh
        if [ "$kind" = nfcapd ]; then
            kill -TERM "$collector"; wait "$collector" 2>/dev/null || true
            got=$(nfdump -R "$dir" -q -o 'fmt:%pkt' 2>/dev/null | awk '{ n++; p += $1 } END { printf "%d %d", n, p }')
        else
            kill -INT "$collector"; wait "$collector" 2>/dev/null || true
            # the print plugin's csv: a header line per refresh, packets in the column so named
            got=$(awk -F, 'FNR == 1 || /^SRC_IP|^SRC_HOST/ { for (i = 1; i <= NF; i++) if ($i == "PACKETS") c = i; next }
                           { n++; p += $c } END { printf "%d %d", n, p }' "$dir"/flows.csv 2>/dev/null || echo "0 0")
        fi
        collector=""
        read -r got_rows got_packets <<<"$got"
        lost=$((counted - got_packets))
        printf '%-8s rate %-8s export %3ss: nasoone counted %d packets, sent %d records (%d dropped); collector stored %d rows, %d packets: %d packets lost\n' \
            "$kind" "$rate" "$seconds" "$counted" "$sent" "$dropped" "$got_rows" "$got_packets" "$lost"
        if [ "$rate" = default ] && [ "$lost" -ne 0 ]; then status=1; fi
    done
done
exit $status
