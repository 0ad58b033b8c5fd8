#!/usr/bin/env bash
# bench/live_rate.sh - live capture throughput: replays a capture through a veth pair (its peer
# in a network namespace made here) at given packet rates, with nasoone and `tcpdump -w
# /dev/null` capturing on the same interface at once, and prints each one's drops per rate.
# Needs root, iproute2, tcpreplay, tcpdump. The traffic stays on the pair, between the two
# addresses given to its ends: the capture is made by bench/make_live_capture.lua.
#
# usage: bench/live_rate.sh COUNT SIZE RATE [RATE...]   (COUNT frames of SIZE bytes; RATE in
#                                                       packets/s, or "top" for tcpreplay's top)
# Environment: BENCH_FLOWS (flows in the replayed capture, default 1000; COUNT or more: every
# frame a new flow), BENCH_INTERVAL (nasoone's report interval, default 1 s).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -ge 3 ] || { echo "usage: bench/live_rate.sh COUNT SIZE RATE [RATE...]" >&2; exit 2; }
count=$1 size=$2; shift 2
build=${BENCH_BUILD_DIR:-build}
# shellcheck source=bench/veth_pair.sh
source bench/veth_pair.sh
veth_pair rate
pcap=$work/replay.pcap
lua5.4 bench/make_live_capture.lua "$pcap" "$count" "$size" "${BENCH_FLOWS:-1000}"
printf "%-10s %-14s %-44s %s\n" "rate" "sent pkt/s" "nasoone" "tcpdump -w /dev/null"
for rate in "$@"; do
    # -K: the capture is loaded into memory first, so disk reads do not limit the rate
    if [ "$rate" = top ]; then speed="-K --topspeed"; else speed="-K --pps=$rate"; fi
    coproc NASOONE { LUA_PATH='lua/?.lua;;' LUA_CPATH="$build/?.so;;" \
        lua5.4 bench/live_capture.lua "$here" "$work/report.csv" "${BENCH_INTERVAL:-1}"; }
    read -r ready <&"${NASOONE[0]}"
    [ "$ready" = ready ] || { echo "nasoone did not start" >&2; exit 1; }
    tcpdump -i "$here" -w /dev/null -B 16384 2>"$work/tcpdump.err" &
    tcpdump_pid=$!
    sleep 1
    ip netns exec "$ns" tcpreplay -i "$peer" $speed "$pcap" >"$work/replay.out" 2>&1
    sleep 1
    echo stop >&"${NASOONE[1]}"
    read -r nasoone_stats <&"${NASOONE[0]}"
    kill -INT "$tcpdump_pid"; wait "$tcpdump_pid" || true
    sent=$(grep -oE 'Rated: [0-9.]+ Bps, [0-9.]+ Mbps, [0-9.]+ pps' "$work/replay.out" | grep -oE '[0-9.]+ pps' || echo "?")
    td_captured=$(grep -oE '^[0-9]+ packets captured' "$work/tcpdump.err" | cut -d' ' -f1)
    td_dropped=$(grep -oE '^[0-9]+ packets dropped by kernel' "$work/tcpdump.err" | cut -d' ' -f1)
    nas=$(echo "$nasoone_stats" | grep -oE '(^| )(received|dropped|queue_dropped|flows|reports)=[0-9]+' | tr -d '\n')
    printf "%-10s %-14s %-44s captured=%s dropped=%s\n" "$rate" "$sent" "$nas" "$td_captured" "$td_dropped"
done
