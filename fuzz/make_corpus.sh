#!/usr/bin/env bash
# fuzz/make_corpus.sh OUT_DIR - seed corpora for the fuzzers in fuzz/.
#
#   OUT_DIR/capture/  whole capture files: ../shared/pcaps/*.pcap *.pcapng (when that folder
#                     exists beside the repository), spec/fixtures/*.pcap *.pcapng and
#                     examples/data/sample.pcap
#   OUT_DIR/report/   the reports those captures give (*.expected.csv), each behind one byte of
#                     fuzz_report's options
#   OUT_DIR/decode/   single frames of those captures, classic pcap and pcapng alike, each
#                     prefixed with one byte naming its link layer the way fuzz_decode reads it:
#                     the value of enum decode_link, read from csrc/decode.h by name, for the
#                     capture's link type (LINKTYPE_* in the file header, as libpcap maps it):
#
#       LINKTYPE                       enum decode_link          (value when this was written)
#       1   ETHERNET                   DECODE_LINK_ETHERNET      1
#       113 LINUX_SLL                  DECODE_LINK_SLL           2
#       276 LINUX_SLL2                 DECODE_LINK_SLL2          3
#       101 RAW (12: DLT_RAW on Linux) DECODE_LINK_RAW           4
#       228 IPV4                       DECODE_LINK_IPV4          5
#       229 IPV6                       DECODE_LINK_IPV6          6
#       0   NULL                       DECODE_LINK_NULL          7
#       108 LOOP                       DECODE_LINK_LOOP          8
#       9   PPP, 50 PPP_HDLC           DECODE_LINK_PPP           9
#       51  PPP_ETHER                  DECODE_LINK_PPPOE         10
#       104 C_HDLC                     DECODE_LINK_CHDLC         11
#       239 NFLOG                      DECODE_LINK_NFLOG         12
#     Frames of other link types are left out (DECODE_LINK_UNSUPPORTED, 0, is covered by the
#     fuzzer's own mutations), as are links the enum no longer has.
#
#     Frames are cut to 2048 bytes (headers are what matters; fuzz_decode runs with a small
#     -max_len) and deduplicated on their link byte and first 256 bytes. Files are named by
#     content hash: running the script again into the same folder adds nothing twice.
#     fuzz/run.sh merges these seeds (libFuzzer -merge=1) into the corpus it fuzzes with.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out/capture" "$out/decode" "$out/report"

captures=()
shared="$repo/../shared/pcaps"
if [ -d "$shared" ]; then
  for f in "$shared"/*.pcap "$shared"/*.pcapng; do
    [ -f "$f" ] && captures+=("$f")
  done
fi
for f in "$repo"/spec/fixtures/*.pcap "$repo"/spec/fixtures/*.pcapng \
         "$repo/examples/data/sample.pcap"; do
  [ -f "$f" ] && captures+=("$f")
done
if [ ${#captures[@]} -eq 0 ]; then
  echo "make_corpus: no capture files found" >&2
  exit 1
fi

for f in "${captures[@]}"; do
  # spec/fixtures and ../shared/pcaps could share a name: prefix the folder's
  cp "$f" "$out/capture/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# and a few compressed, for the byte stream's decoders (the small ones: inputs stay short)
for f in "$repo"/spec/fixtures/*.pcap; do
  name=$(basename "$f")
  gzip -c "$f" >"$out/capture/gzip-$name.gz"
  if command -v zstd >/dev/null; then zstd -q -c "$f" >"$out/capture/zstd-$name.zst"; fi
  if command -v lz4 >/dev/null; then lz4 -q -c "$f" >"$out/capture/lz4-$name.lz4"; fi
done

# fuzz_report: the reports these captures must give, each behind an options byte (0: the
# report's order; 0x39: by source, top 10, an address filter)
for f in "$shared"/*.expected.csv "$repo"/spec/fixtures/*.expected.csv \
         "$repo"/examples/data/*.expected.csv; do
  [ -f "$f" ] || continue
  name=$(basename "$(dirname "$f")")-$(basename "$f")
  { printf '\000'; cat "$f"; } >"$out/report/$name"
  { printf '\071'; cat "$f"; } >"$out/report/x39-$name"
done

# the later layouts, made from the project's own rows: the extended CSV with the interface
# column of several devices, and the biflow CSV (reverse directions that sent nothing), so the
# fuzzer starts inside their parsers
for f in "$repo"/examples/data/*.expected.csv "$repo"/spec/fixtures/*.expected.csv; do
  [ -f "$f" ] || continue
  name=$(basename "$f" .expected.csv)
  awk 'NR == 1 { print $0 "; ip bytes; tcp flags; interface"; next }
       { print $0 "; 0; -; eth" NR % 2 }' "$f" | { printf '\000'; cat; } >"$out/report/interface-$name.csv"
  awk 'NR == 1 { print $0 "; ip bytes; tcp flags; reverse first; reverse last; reverse bytes; " \
                 "reverse packets; reverse ip bytes; reverse tcp flags"; next }
       { print $0 "; 0; -; 0; 0; 0; 0; 0; -" }' "$f" | { printf '\071'; cat; } >"$out/report/biflow-$name.csv"
done

python3 - "$repo/csrc/decode.h" "$out/decode" "${captures[@]}" <<'PY'
import hashlib, os, re, struct, sys

# capture file link type -> enum decode_link name; the numbers come from decode.h below
LINKTYPE_TO_LINK = {
    1: "DECODE_LINK_ETHERNET", 113: "DECODE_LINK_SLL", 276: "DECODE_LINK_SLL2",
    101: "DECODE_LINK_RAW", 12: "DECODE_LINK_RAW", 228: "DECODE_LINK_IPV4",
    229: "DECODE_LINK_IPV6", 0: "DECODE_LINK_NULL", 108: "DECODE_LINK_LOOP",
    9: "DECODE_LINK_PPP", 50: "DECODE_LINK_PPP", 51: "DECODE_LINK_PPPOE",
    104: "DECODE_LINK_CHDLC", 239: "DECODE_LINK_NFLOG",
}

def enum_values(header):
    """Values of enum decode_link's members: implicit numbering, `= N` honoured."""
    text = open(header).read()
    body = re.search(r"enum\s+decode_link\s*\{(.*?)\}", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    values, next_value = {}, 0
    for item in body.split(","):
        m = re.match(r"\s*(\w+)\s*(?:=\s*(\d+))?\s*$", item)
        if not m:
            continue
        if m.group(2) is not None:
            next_value = int(m.group(2))
        values[m.group(1)] = next_value
        next_value += 1
    return values

values = enum_values(sys.argv[1])
if values.get("DECODE_LINK_UNSUPPORTED") != 0 or "DECODE_LINK_ETHERNET" not in values:
    sys.exit("make_corpus: cannot read enum decode_link from " + sys.argv[1])
LINK_BYTE = {lt: values[name] for lt, name in LINKTYPE_TO_LINK.items() if name in values}
MAX_FRAME = 2048
KEY_BYTES = 256

def pcap_frames(data):
    """(linktype, frame) of a classic pcap file; stops at a cut record."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    if len(data) < 24:
        return
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x03FFFFFF
    pos = 24
    while pos + 16 <= len(data):
        caplen = struct.unpack(e + "I", data[pos + 8:pos + 12])[0]
        pos += 16
        if pos + caplen > len(data):
            return
        yield linktype, data[pos:pos + caplen]
        pos += caplen

def pcapng_frames(data):
    """(linktype, frame) of the enhanced and simple packet blocks of a pcapng file."""
    pos, e, links, snaplens = 0, "<", [], []
    while pos + 12 <= len(data):
        btype = struct.unpack(e + "I", data[pos:pos + 4])[0]
        if btype == 0x0A0D0D0A:  # section header: byte order, new interface list
            bom = data[pos + 8:pos + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            links, snaplens = [], []
        blen = struct.unpack(e + "I", data[pos + 4:pos + 8])[0]
        if blen < 12 or pos + blen > len(data):
            return
        body = data[pos + 8:pos + blen - 4]
        if btype == 1 and len(body) >= 8:  # interface description
            links.append(struct.unpack(e + "H", body[0:2])[0])
            snaplens.append(struct.unpack(e + "I", body[4:8])[0])
        elif btype == 6 and len(body) >= 20:  # enhanced packet
            iface, caplen = struct.unpack(e + "I", body[0:4])[0], struct.unpack(e + "I", body[12:16])[0]
            if iface < len(links) and 20 + caplen <= len(body):
                yield links[iface], body[20:20 + caplen]
        elif btype == 3 and len(body) >= 4 and links:  # simple packet: interface 0
            wire = struct.unpack(e + "I", body[0:4])[0]
            caplen = min(wire, len(body) - 4, snaplens[0] or wire)
            yield links[0], body[4:4 + caplen]
        pos += blen

out, files = sys.argv[2], sys.argv[3:]
seen, written, skipped = set(), 0, 0
for path in files:
    with open(path, "rb") as f:
        data = f.read()
    frames = pcapng_frames(data) if data[:4] == b"\x0a\x0d\x0d\x0a" else pcap_frames(data)
    for linktype, frame in frames:
        link = LINK_BYTE.get(linktype)
        if link is None:
            skipped += 1
            continue
        seed = bytes([link]) + frame[:MAX_FRAME]
        key = seed[:1 + KEY_BYTES]
        if key in seen:
            continue
        seen.add(key)
        name = hashlib.sha1(seed).hexdigest()
        with open(os.path.join(out, name), "wb") as f:
            f.write(seed)
        written += 1
print(f"make_corpus: {written} frame seeds from {len(files)} captures"
      f" ({skipped} frames of unsupported link types left out)")
PY
echo "make_corpus: $(find "$out/capture" -type f | wc -l) capture seeds in $out/capture," \
  "$(find "$out/decode" -type f | wc -l) frame seeds in $out/decode," \
  "$(find "$out/report" -type f | wc -l) report seeds in $out/report"
