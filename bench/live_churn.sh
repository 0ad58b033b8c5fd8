#!/usr/bin/env bash
# bench/live_churn.sh - live capture under flow churn: trafgen sends UDP through a veth pair (its
# peer in a network namespace made here, addresses 10.213.0.0/30 given here), nasoone and
# `tcpdump -w /dev/null -B 16384` capture the other end at once, and the rate steps up until
# either drops or the generator's ceiling is reached.
#
# usage: bench/live_churn.sh few|churn COUNT RATE [RATE...]
#   few    16 flows (source ports 4000-4015)
#   churn  a new flow in every packet (the source address counts up)
#   COUNT  packets sent per rate; RATE packets/s, or "top" (trafgen as fast as it can)
# Environment: BENCH_BUILD_DIR (default build/), BENCH_PARSERS (nasoone's parser threads,
# default nasoone's: one per core less one), BENCH_IDLE (flow limits: idle_timeout in seconds,
# which runs the keeper), BENCH_INTERVAL (its report interval, default 1 s), BENCH_TCPDUMP=0
# (nasoone alone: the generator then gets more of the 2 cores).
# Needs root, iproute2, netsniff-ng (trafgen) and tcpdump. Prints, per rate: what trafgen sent
# (packets/s), nasoone's received, kernel drops (dropped) and own drops (queue_dropped), and
# tcpdump's captured and dropped; stops after the first rate where either lost a packet.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -ge 3 ] || { echo "usage: bench/live_churn.sh few|churn COUNT RATE [RATE...]" >&2; exit 2; }
mode=$1 count=$2
shift 2
case "$mode" in
few) source_fields="saddr=10.213.0.2), udp(sport=dinc(4000, 4015), dport=53)" ;;
churn) source_fields="saddr=dinc()), udp(sport=4000, dport=53)" ;;
*) echo "bench/live_churn.sh: the mode is few or churn" >&2; exit 2 ;;
esac
for tool in ip trafgen tcpdump; do
    command -v "$tool" >/dev/null || { echo "bench/live_churn.sh: $tool is needed (apt-get install -y iproute2 netsniff-ng tcpdump)" >&2; exit 2; }
done
build=${BENCH_BUILD_DIR:-build}
# shellcheck source=bench/veth_pair.sh
source bench/veth_pair.sh
veth_pair churn
# 60-byte frames to another MAC than here's: nothing answers them
echo "{ eth(da=02:02:02:02:02:02, sa=04:04:04:04:04:04), ipv4(daddr=10.213.0.1, $source_fields, fill(0x61, 18) }" \
    >"$work/flows.cfg"
capture_lua=$work/capture.lua
# BENCH_PARSERS=N: set_parsers(N); BENCH_IDLE=S: set_flow_limits{ idle_timeout = S } (the keeper runs)
sed "s/assert(cap:start())/if os.getenv('BENCH_PARSERS') then assert(cap:set_parsers(tonumber(os.getenv('BENCH_PARSERS')))) end\nif os.getenv('BENCH_IDLE') then assert(cap:set_flow_limits({ idle_timeout = tonumber(os.getenv('BENCH_IDLE')) })) end\nassert(cap:start())/" \
    bench/live_capture.lua >"$capture_lua"
printf "%-8s %-12s %-52s %s\n" "rate" "sent pkt/s" "nasoone" "tcpdump -w /dev/null"
for rate in "$@"; do
    coproc NASOONE { LUA_PATH='lua/?.lua;;' LUA_CPATH="$build/?.so;;" \
        lua5.4 "$capture_lua" "$here" "$work/report.csv" "${BENCH_INTERVAL:-1}"; }
    read -r ready <&"${NASOONE[0]}"
    [ "$ready" = ready ] || { echo "nasoone did not start" >&2; exit 1; }
    tcpdump_pid=""
    if [ "${BENCH_TCPDUMP:-1}" != 0 ]; then
        tcpdump -i "$here" -w /dev/null -B 16384 2>"$work/tcpdump.err" &
        tcpdump_pid=$!
    fi
    sleep 1
    if [ "$rate" = top ]; then speed=(); else speed=(-b "${rate}pps"); fi
    ip netns exec "$ns" trafgen --dev "$peer" --conf "$work/flows.cfg" -n "$count" -P 1 "${speed[@]}" \
        >"$work/trafgen.out" 2>&1
    sleep 1
    echo stop >&"${NASOONE[1]}"
    read -r nasoone_stats <&"${NASOONE[0]}"
    wait "$NASOONE_PID" 2>/dev/null || true
    td="(not run)"
    td_lost=0
    if [ -n "$tcpdump_pid" ]; then
        kill -INT "$tcpdump_pid"
        wait "$tcpdump_pid" || true
        captured=$(grep -oE '^[0-9]+ packets captured' "$work/tcpdump.err" | cut -d' ' -f1)
        dropped=$(grep -oE '^[0-9]+ packets dropped by kernel' "$work/tcpdump.err" | cut -d' ' -f1)
        td="captured=$captured dropped=$dropped"
        td_lost=$((count - captured + dropped))
    fi
    # trafgen: "N sec, M usec on CPU0 (COUNT packets)"
    sent=$(grep -oE '[0-9]+ sec, [0-9]+ usec' "$work/trafgen.out" | awk -v n="$count" '{ printf "%.0f", n / ($1 + $3 / 1e6) }')
    nas=$(echo "$nasoone_stats" | grep -oE '(^| )(received|dropped|queue_dropped)=[0-9]+' | tr -d '\n')
    printf "%-8s %-12s %-52s %s\n" "$rate" "$sent" "$nas" "$td"
    received=$(echo "$nasoone_stats" | grep -oE '(^| )received=[0-9]+' | cut -d= -f2)
    kernel=$(echo "$nasoone_stats" | grep -oE '(^| )dropped=[0-9]+' | cut -d= -f2)
    if [ "$received" -lt "$count" ] || [ "$kernel" -gt 0 ] || [ "$td_lost" -gt 0 ]; then
        echo "first rate with a loss: $rate"
        break
    fi
done
