#!/usr/bin/env bash
# Software segmentation judged by tshark: a 64 KiB TCP super-segment handed to a port without
# TSO (crates/port/examples/tso_pcap.rs) must arrive as MSS-sized segments that tshark decodes
# with no checksum error, no sequence anomaly (tcp.analysis.*), PSH only on the last, and whose
# payloads concatenate to the original bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(mktemp --suffix=.pcap)
trap 'rm -f "$out"' EXIT
cargo run -q -p burst-port --example tso_pcap -- "$out"

prefs=(-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o tcp.relative_sequence_numbers:FALSE)
fail() { echo "check-tso: FAIL: $*"; exit 1; }

frames=$(tshark -r "$out" "${prefs[@]}" -T fields -e frame.number 2>/dev/null | wc -l)
[ "$frames" -eq 46 ] || fail "expected 46 segments (65483 bytes / 1448), got $frames"
bad=$(tshark -r "$out" "${prefs[@]}" -Y 'tcp.checksum.status != 1 || ip.checksum.status != 1 || tcp.analysis.flags' 2>/dev/null | wc -l)
[ "$bad" -eq 0 ] || fail "$bad segment(s) with a bad checksum or a tshark sequence analysis flag"
short=$(tshark -r "$out" "${prefs[@]}" -Y 'tcp.len != 1448' -T fields -e frame.number 2>/dev/null | tr '\n' ' ')
[ "$short" = "46 " ] || fail "only the last segment may be shorter than the MSS (got frames: $short)"
psh=$(tshark -r "$out" "${prefs[@]}" -Y 'tcp.flags.push == 1' -T fields -e frame.number 2>/dev/null | tr '\n' ' ')
[ "$psh" = "46 " ] || fail "PSH must be on the last segment only (got frames: $psh)"
python3 - "$out" <<'PY' || fail "payload differs from the original"
import subprocess, sys
hexes = subprocess.run(["tshark", "-r", sys.argv[1], "-T", "fields", "-e", "tcp.payload"],
                       capture_output=True, text=True, check=True).stdout.split()
data = bytes.fromhex("".join(h.replace(":", "") for h in hexes))
want = bytes(i % 251 for i in range(65483))
sys.exit(0 if data == want else 1)
PY
echo "check-tso: ok: 46 segments, checksums good, sequence contiguous, payload byte-exact"
