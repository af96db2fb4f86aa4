#!/usr/bin/env bash
# Cross-checks burst's decoder against tshark on the Linux-captured fixtures:
#  1. tshark (an independent decoder) finds no bad checksum in any fixture;
#  2. `burst decode --verify` parses every frame, verifies checksums and re-emits byte-exact;
#  3. the fields burst decodes equal the fields tshark decodes, frame by frame.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=crates/wire/tests/data/linux
cargo build -q -p burst
burst=target/debug/burst

# Same columns, same order as `burst decode --fields` (crates/burst/src/decode.rs).
fields=(frame.number eth.src eth.dst vlan.id arp.opcode arp.src.proto_ipv4 arp.dst.proto_ipv4
  ip.src ip.dst ip.proto ip.id ip.ttl ip.len ip.frag_offset udp.srcport udp.dstport
  tcp.srcport tcp.dstport tcp.seq_raw tcp.ack_raw tcp.flags tcp.window_size_value tcp.len
  tcp.options.mss_val tcp.options.wscale.shift tcp.options.sack_le icmp.type icmp.code igmp.type)
targs=()
for f in "${fields[@]}"; do targs+=(-e "$f"); done
prefs=(-o ip.defragment:FALSE -o tcp.relative_sequence_numbers:FALSE -o tcp.analyze_sequence_numbers:FALSE
  -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE)

fail=0
frames=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for pcap in "$dir"/*.pcap; do
  name=$(basename "$pcap")
  bad=$(tshark -r "$pcap" "${prefs[@]}" -Y 'ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad" || igmp.checksum.status == "Bad"' 2>/dev/null | wc -l)
  if [ "$bad" -ne 0 ]; then
    echo "FAIL $name: tshark finds $bad frame(s) with a bad checksum"; fail=1
  fi
  if ! "$burst" decode --verify "$pcap" >"$tmp/verify" 2>&1; then
    echo "FAIL $name: burst decode --verify"; cat "$tmp/verify"; fail=1
  fi
  tshark -r "$pcap" "${prefs[@]}" -T fields -E occurrence=f "${targs[@]}" 2>/dev/null >"$tmp/tshark"
  "$burst" decode --fields "$pcap" >"$tmp/burst"
  if ! diff -u "$tmp/tshark" "$tmp/burst" >"$tmp/diff"; then
    echo "FAIL $name: burst and tshark decode different fields (- tshark, + burst):"; cat "$tmp/diff"; fail=1
  fi
  n=$(wc -l <"$tmp/burst")
  frames=$((frames + n))
  echo "ok   $name: $n frames agree with tshark"
done
if [ "$frames" -lt 50 ]; then
  echo "FAIL: only $frames fixture frames"; fail=1
fi
exit $fail
