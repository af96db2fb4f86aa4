#!/usr/bin/env bash
# tshark as an independent ESP decoder: with the SA keys in its esp_sa table, tshark must
# verify the ICV of, decrypt and dissect every ESP datagram burst-ipsec sent (AES-GCM-128/256,
# AES-CBC-128/256 + HMAC-SHA-256-128, NULL + HMAC-SHA-256-128; transport and tunnel mode; no
# ESN, which tshark 4.0 cannot do), finding the next header, pad length and UDP payload that
# burst put there. ChaCha20-Poly1305 is left to scripts/check-ipsec-scapy.sh: tshark 4.0's ESP
# dissector does not have it. With `ring`'s AES-GCM and, where libipsec-mb-dev is installed,
# again with intel-ipsec-mb's (feature `ipsec-mb`). No network, no root.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "check-ipsec-tshark: FAIL: $*"; exit 1; }

features=("")
[ -e /usr/include/intel-ipsec-mb.h ] && features+=(ipsec-mb)
for f in "${features[@]}"; do
echo "check-ipsec-tshark: AES-GCM on ${f:-ring}"
cargo run -q -p burst-ipsec ${f:+--features "$f"} --example esp_pcap -- "$dir/esp.pcap" "$dir/sa.txt" "$dir/expect.txt"
args=(-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE
      -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE)
while IFS= read -r sa; do args+=(-o "uat:esp_sa:$sa"); done < "$dir/sa.txt"

tshark -r "$dir/esp.pcap" "${args[@]}" -T fields -E occurrence=l \
    -e esp.icv_good -e esp.protocol -e esp.pad_len -e udp.payload > "$dir/got.txt" 2>"$dir/err.txt" \
    || fail "tshark failed: $(cat "$dir/err.txt")"
python3 - "$dir/got.txt" "$dir/expect.txt" <<'PY' || fail "tshark's decode differs from what burst sent"
import sys
# tshark: ICV good (1/0), next header (hex), pad length, UDP payload (hex, may be empty).
got = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
def parse(g):
    try:
        return [g[0] == "1", int(g[1], 0), int(g[2]), g[3] or "-"]
    except (IndexError, ValueError):  # not decrypted: no ESP trailer fields
        return ["not decrypted"]
got = [parse(g) for g in got]
want = [l.split() for l in open(sys.argv[2])]
want = [[w[0] == "1", int(w[1]), int(w[2]), w[3]] for w in want]
bad = [(i + 1, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
for b in bad[:5]:
    print("frame %d: tshark %s, burst sent %s" % b)
failed = len(bad) + abs(len(got) - len(want))
print("tshark decodes burst: %d passed, %d failed" % (len(want) - failed, failed))
sys.exit(1 if failed else 0)
PY
bad=$(tshark -r "$dir/esp.pcap" "${args[@]}" -Y '_ws.malformed || _ws.expert.severity >= warning || esp.icv_bad == 1' 2>/dev/null | wc -l)
[ "$bad" -eq 0 ] || fail "$bad frame(s) malformed, with a warning, or with a bad ICV"
done
