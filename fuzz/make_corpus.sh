#!/usr/bin/env bash
# fuzz/make_corpus.sh OUT_DIR - seed corpora for the fuzzers in fuzz/.
#
#   OUT_DIR/capture/  whole capture files: ../shared/pcaps/*.pcap *.pcapng (when that folder
#                     exists beside the repository) and examples/data/sample.pcap
#   OUT_DIR/decode/   single frames of those captures, classic pcap and pcapng alike, each
#                     prefixed with one byte naming its link layer the way fuzz_decode reads it
#                     (enum decode_link in csrc/decode.h):
#
#       link byte  decode_link               capture link type (LINKTYPE_* in the file header)
#       1          DECODE_LINK_ETHERNET      1   EN10MB
#       2          DECODE_LINK_SLL           113 LINUX_SLL
#       3          DECODE_LINK_SLL2          276 LINUX_SLL2
#       4          DECODE_LINK_RAW           101 RAW (and 12, DLT_RAW's number on Linux)
#       5          DECODE_LINK_IPV4          228 IPV4
#       6          DECODE_LINK_IPV6          229 IPV6
#       7          DECODE_LINK_NULL          0   NULL
#       8          DECODE_LINK_LOOP          108 LOOP
#       (0 is DECODE_LINK_UNSUPPORTED: frames of other link types are left out)
#
#     Frames are cut to 2048 bytes (headers are what matters; fuzz_decode runs with a small
#     -max_len) and deduplicated on their link byte and first 256 bytes, so a capture of one
#     long transfer gives a handful of seeds, not thousands. Files are named by content hash:
#     running the script again into the same folder adds nothing twice.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out/capture" "$out/decode"

captures=()
shared="$repo/../shared/pcaps"
if [ -d "$shared" ]; then
  for f in "$shared"/*.pcap "$shared"/*.pcapng; do
    [ -f "$f" ] && captures+=("$f")
  done
fi
[ -f "$repo/examples/data/sample.pcap" ] && captures+=("$repo/examples/data/sample.pcap")
if [ ${#captures[@]} -eq 0 ]; then
  echo "make_corpus: no capture files found" >&2
  exit 1
fi

for f in "${captures[@]}"; do
  cp "$f" "$out/capture/$(basename "$f")"
done

python3 - "$out/decode" "${captures[@]}" <<'PY'
import hashlib, os, struct, sys

LINK_BYTE = {1: 1, 113: 2, 276: 3, 101: 4, 12: 4, 228: 5, 229: 6, 0: 7, 108: 8}
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

out, files = sys.argv[1], sys.argv[2:]
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
echo "make_corpus: $(ls "$out/capture" | wc -l) capture seeds in $out/capture," \
  "$(ls "$out/decode" | wc -l) frame seeds in $out/decode"
