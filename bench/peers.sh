#!/usr/bin/env bash
# bench/peers.sh - nasoone's IPFIX records against the flow tools', capture by capture, read
# back the same way (nfcapd stores both, nfdump prints them).
#
#   bench/peers.sh 5-tuple CAPTURE...  nasoone --key 5-tuple, its IPFIX at nfcapd, against
#                                      `nfpcapd -r CAPTURE`: per (addresses, protocol, ports),
#                                      packets, IP bytes and TCP flags
#   bench/peers.sh biflow CAPTURE...   nasoone --key 5-tuple --biflow against `softflowd -b -v 10`
#                                      (bidirectional IPFIX): per connection (its two endpoints
#                                      and protocol, whichever way round each tool put them), the
#                                      packets and IP bytes each way
#
# Each tool's records are summed per key over all its records (both export a connection in
# several records when timeouts cut it). ICMP is compared per address pair and protocol: the
# tools key an echo request and its reply differently. Prints one line per capture ("agree", or
# how many keys differ and the first few) and a summary; the differences and the rules that
# explain them are in docs/report.md. Exits 0 (this measures, it does not judge), 2 when a tool
# is missing. Needs nfdump (nfcapd, nfpcapd) and softflowd: apt-get install -y nfdump softflowd.
# Environment: BENCH_BUILD_DIR (default build/), PEERS_SHOW (differing keys shown, default 5),
# NASOONE_LUA (the interpreter that runs bin/nasoone, default lua5.4: the specs give theirs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
mode=${1:-}
shift || true
case "$mode" in
5-tuple) peer=nfpcapd ;;
biflow) peer=softflowd ;;
*)
    echo "usage: bench/peers.sh 5-tuple|biflow CAPTURE..." >&2
    exit 2
    ;;
esac
[ $# -gt 0 ] || { echo "bench/peers.sh: no capture given" >&2; exit 2; }
for tool in nfcapd nfdump "$peer"; do
    command -v "$tool" >/dev/null || { echo "bench/peers.sh: $tool is needed (apt-get install -y nfdump softflowd)" >&2; exit 2; }
done
BUILD=${BENCH_BUILD_DIR:-$ROOT/build}
export NASOONE_BUILD_DIR=$BUILD
LUA=${NASOONE_LUA:-lua5.4}
work=$(mktemp -d "${TMPDIR:-/tmp}/nasoone-peers.XXXXXX")
collector=""
cleanup() {
    [ -z "$collector" ] || kill "$collector" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A UDP port nothing listens on, picked at random (another process may use lo).
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        ss -Hlun "sport = :$port" | grep -q . || { echo "$port"; return; }
    done
}

# collect DIR COMMAND...: runs COMMAND, each @PORT@ in it the port of an nfcapd listening on
# 127.0.0.1, then stops nfcapd, leaving its files in DIR.
collect() {
    local dir=$1
    shift
    mkdir -p "$dir"
    PORT=$(free_port)
    nfcapd -b 127.0.0.1 -p "$PORT" -w "$dir" -t 3600 >"$dir.log" 2>&1 &
    collector=$!
    for _ in $(seq 50); do ss -Hlun "sport = :$PORT" | grep -q . && break; sleep 0.1; done
    local command=()
    for word in "$@"; do command+=("${word//@PORT@/$PORT}"); done
    "${command[@]}" >"$dir.run.log" 2>&1 || true
    sleep 1 # the last datagrams reach nfcapd's file before it stops
    kill -TERM "$collector"
    wait "$collector" 2>/dev/null || true
    collector=""
}

# nfdump's records of DIR as CSV lines: sa,da,sp,dp,pr,flg,ipkt,ibyt,opkt,obyt
records() {
    { nfdump -R "$1" -q -o csv 2>/dev/null || true; } | awk -F, 'NF > 15 { print $4","$5","$6","$7","$8","$9","$12","$13","$14","$15 }'
}

compare() {
    lua5.4 - "$mode" "$1" "$2" "${PEERS_SHOW:-5}" <<'LUA'
local mode, ours_path, theirs_path, show = arg[1], arg[2], arg[3], tonumber(arg[4])
local FLAGS = "CEUAPRSF"
local function flag_bits(text)
  local bits = 0
  for i = 1, 8 do if text:sub(i, i) ~= "." and text:sub(i, i) ~= "" then bits = bits | (1 << (8 - i)) end end
  return bits
end
local function load(path)
  local sums, f = {}, assert(io.open(path))
  for line in f:lines() do
    local sa, da, sp, dp, pr, flg, ipkt, ibyt, opkt, obyt =
      line:match("^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$")
    if sa then
      local icmp = pr == "ICMP" or pr == "ICMP6"
      if icmp then sp, dp = "", "" end
      local key, a_to_b, flip
      if mode == "biflow" then
        local a, b = sa .. " " .. sp, da .. " " .. dp
        flip = a > b
        key = (flip and b .. " <> " .. a or a .. " <> " .. b) .. " " .. pr
      else
        key = sa .. " " .. sp .. " > " .. da .. " " .. dp .. " " .. pr
      end
      local s = sums[key] or { 0, 0, 0, 0, 0 }
      sums[key] = s
      local forward = { tonumber(ipkt), tonumber(ibyt) }
      local reverse = { tonumber(opkt) or 0, tonumber(obyt) or 0 }
      if flip then forward, reverse = reverse, forward end
      s[1], s[2] = s[1] + forward[1], s[2] + forward[2]
      s[3], s[4] = s[3] + reverse[1], s[4] + reverse[2]
      if mode ~= "biflow" then s[5] = s[5] | flag_bits(flg) end
    end
  end
  f:close()
  return sums
end
local ours, theirs = load(ours_path), load(theirs_path)
local differ, keys = {}, 0
local function text(s)
  if not s then return "none" end
  if mode == "biflow" then return ("%d pkts %d B / %d pkts %d B"):format(s[1], s[2], s[3], s[4]) end
  local flags = {}
  for i = 1, 8 do flags[i] = s[5] & (1 << (8 - i)) ~= 0 and FLAGS:sub(i, i) or "." end
  return ("%d pkts %d B %s"):format(s[1], s[2], table.concat(flags))
end
local seen = {}
for _, set in ipairs({ ours, theirs }) do
  for key in pairs(set) do
    if not seen[key] then
      seen[key] = true
      keys = keys + 1
      local a, b = ours[key], theirs[key]
      if not (a and b and a[1] == b[1] and a[2] == b[2] and a[3] == b[3] and a[4] == b[4] and a[5] == b[5]) then
        differ[#differ + 1] = ("    %s: nasoone %s, peer %s"):format(key, text(a), text(b))
      end
    end
  end
end
table.sort(differ)
if #differ == 0 then
  print(("agree (%d keys)"):format(keys))
else
  print(("%d of %d keys differ"):format(#differ, keys))
  for i = 1, math.min(show, #differ) do print(differ[i]) end
end
os.exit(#differ == 0 and 0 or 1)
LUA
}

agree=0
total=0
for capture in "$@"; do
    name=$(basename "$capture")
    total=$((total + 1))
    dir="$work/$total"
    if [ "$mode" = 5-tuple ]; then
        collect "$dir/ours" "$LUA" "$ROOT/bin/nasoone" capture -r "$capture" -o "$dir/report.csv" -q --key 5-tuple \
            --ipfix "udp://127.0.0.1:@PORT@"
        mkdir -p "$dir/theirs"
        nfpcapd -r "$capture" -w "$dir/theirs" >"$dir/theirs.log" 2>&1 || true
    else
        collect "$dir/ours" "$LUA" "$ROOT/bin/nasoone" capture -r "$capture" -o "$dir/report.csv" -q --key 5-tuple \
            --biflow --ipfix "udp://127.0.0.1:@PORT@"
        collect "$dir/theirs" softflowd -r "$capture" -b -v 10 -n "127.0.0.1:@PORT@" -d
    fi
    records "$dir/ours" >"$dir/ours.csv"
    records "$dir/theirs" >"$dir/theirs.csv"
    if result=$(compare "$dir/ours.csv" "$dir/theirs.csv"); then
        agree=$((agree + 1))
    fi
    printf '%s: %s\n' "$name" "$result"
done
echo "bench/peers.sh $mode: $agree of $total captures agree with $peer"
