#!/usr/bin/env bash
# ipfix_collector_check.sh - checks IPFIX output with real collectors.
#
#   ipfix_collector_check.sh FILE [DATA_RECORDS]
#       ipfixDump (libfixbuf-tools) must decode every message of the IPFIX file FILE with
#       nothing on stderr (ipfixDump exits 0 even on a broken file, so its stderr is the
#       verdict); with DATA_RECORDS, the file must hold exactly that many data records.
#
#   ipfix_collector_check.sh --sender PROGRAM [ARG...]
#       PROGRAM [ARG...] TARGET sends flow records to TARGET (udp://HOST:PORT or file:PATH)
#       and prints, one line per IPFIX data record, what a collector must show:
#         protocol,source,source_port,destination,destination_port,packets,ip_bytes,first_ms,last_ms
#       (tests/ipfix_send does). Checked twice: to an IPFIX file, read by ipfixDump as above;
#       and over UDP to nfcapd (nfdump) on 127.0.0.1, a free port and a folder of its own, then
#       read back with nfdump, which must show exactly those lines (in any order).
#
# Prints what it checked; exit status 0 when everything matched, 1 when not, 2 on a usage or
# setup error (a tool missing, nfcapd not starting).
set -euo pipefail

die() {
  echo "ipfix_collector_check: $*" >&2
  exit 2
}

fail() {
  echo "ipfix_collector_check: FAILED: $*" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null || die "$1 not found (install $2)"
}

# ipfixDump FILE [DATA_RECORDS]: decodes with no error; prints the file's stats line
check_ipfixdump() {
  local file=$1 want=${2:-} out err stats records
  need ipfixDump libfixbuf-tools
  out=$(mktemp) err=$(mktemp)
  ipfixDump --in "$file" --out "$out" 2>"$err" || { rm -f "$out" "$err"; fail "ipfixDump $file exited with an error"; }
  if [ -s "$err" ]; then
    cat "$err" >&2
    rm -f "$out" "$err"
    fail "ipfixDump $file reported errors"
  fi
  stats=$(grep -F '*** File Stats:' "$out" | tail -n 1 || true)
  rm -f "$out" "$err"
  [ -n "$stats" ] || fail "ipfixDump $file printed no file statistics"
  # *** File Stats: 2 Messages, 7 Data Records, 2 Template Records ***
  records=$(sed -n 's/.* \([0-9][0-9]*\) Data Records.*/\1/p' <<<"$stats")
  if [ -n "$want" ] && [ "$records" != "$want" ]; then
    fail "ipfixDump $file: $records data records, expected $want ($stats)"
  fi
  stats=${stats//\*/}
  echo "ipfixDump --in $file: no error;${stats% }"
}

if [ $# -ge 1 ] && [ "$1" != "--sender" ]; then
  [ $# -le 2 ] || die "usage: $0 FILE [DATA_RECORDS] | --sender PROGRAM [ARG...]"
  [ -r "$1" ] || die "cannot read $1"
  check_ipfixdump "$@"
  exit 0
fi
[ $# -ge 2 ] || die "usage: $0 FILE [DATA_RECORDS] | --sender PROGRAM [ARG...]"
shift
sender=("$@")
need nfcapd nfdump
need nfdump nfdump

work=$(mktemp -d "${TMPDIR:-/tmp}/ipfix_check.XXXXXX")
nfcapd_pid=
cleanup() {
  if [ -n "$nfcapd_pid" ]; then
    kill -TERM "$nfcapd_pid" 2>/dev/null || true
    wait "$nfcapd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. an IPFIX file, read by ipfixDump
"${sender[@]}" "file:$work/records.ipfix" >"$work/expected_file.txt" ||
  fail "${sender[*]} file:$work/records.ipfix failed"
check_ipfixdump "$work/records.ipfix" "$(wc -l <"$work/expected_file.txt")"

# 2. UDP to nfcapd on a free port. nfcapd exits when it cannot bind: another port then.
mkdir "$work/nfcapd"
port=
for _ in 1 2 3 4 5 6 7 8 9 10; do
  candidate=$((20000 + RANDOM % 40000))
  if command -v ss >/dev/null && [ -n "$(ss -Hlun "sport = :$candidate" 2>/dev/null)" ]; then
    continue
  fi
  # -B: a burst of records must fit its socket buffer (the kernel caps it at rmem_max)
  nfcapd -b 127.0.0.1 -p "$candidate" -w "$work/nfcapd" -t 60 -B 8388608 >"$work/nfcapd.log" 2>&1 &
  nfcapd_pid=$!
  for _ in $(seq 50); do # up to 5 s for "Startup nfcapd."
    grep -q 'Startup nfcapd' "$work/nfcapd.log" 2>/dev/null && break
    kill -0 "$nfcapd_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$nfcapd_pid" 2>/dev/null && grep -q 'Startup nfcapd' "$work/nfcapd.log"; then
    port=$candidate
    break
  fi
  wait "$nfcapd_pid" 2>/dev/null || true
  nfcapd_pid=
done
[ -n "$port" ] || { cat "$work/nfcapd.log" >&2; die "nfcapd did not start"; }

"${sender[@]}" "udp://127.0.0.1:$port" >"$work/expected_udp.txt" ||
  fail "${sender[*]} udp://127.0.0.1:$port failed"
# nfcapd reads what is queued on its socket, then SIGTERM makes it write and close its file
sleep 0.5
kill -TERM "$nfcapd_pid"
wait "$nfcapd_pid" 2>/dev/null || true
nfcapd_pid=
grep -q 'Sequence Errors: 0,' "$work/nfcapd.log" ||
  { cat "$work/nfcapd.log" >&2; fail "nfcapd saw sequence errors (lost or reordered messages)"; }

# %tsr is the start in s.mmm since the epoch, %td the duration in s.mmm; nfdump 1.7.1's %ter
# prints the end's milliseconds wrong (modulo 100), so the end is start + duration. -N: plain
# numbers (protocol 6, not TCP; 120000000, not 120.0 M).
nfdump -R "$work/nfcapd" -q -N -o 'fmt:%pr,%sa,%sp,%da,%dp,%pkt,%byt,%tsr,%td' >"$work/nfdump.txt" 2>"$work/nfdump.err" ||
  { cat "$work/nfdump.err" >&2; fail "nfdump could not read nfcapd's files"; }
awk -F, '
  function ms(text) { gsub(/ /, "", text); split(text, part, "."); return part[1] * 1000 + part[2] }
  NF == 9 {
    for (i = 1; i <= NF; i++) gsub(/ /, "", $i)
    first = ms($8)
    printf "%s,%s,%s,%s,%s,%s,%s,%.0f,%.0f\n", $1, $2, $3, $4, $5, $6, $7, first, first + ms($9)
  }' "$work/nfdump.txt" | sort >"$work/seen.txt"
sort "$work/expected_udp.txt" >"$work/expected_sorted.txt"
if ! diff -u "$work/expected_sorted.txt" "$work/seen.txt" >"$work/diff.txt"; then
  head -n 40 "$work/diff.txt" >&2
  fail "nfdump shows other records than were sent (- sent, + nfdump)"
fi
echo "nfcapd on udp://127.0.0.1:$port, read with nfdump: all $(wc -l <"$work/seen.txt") data records exact"
