#!/usr/bin/env bash
# shellcheck disable=SC2016 # awk programs are single-quoted on purpose
# burst's IPsec against an independent implementation, live: scapy's SecurityAssociation
# (Debian python3-scapy, python3-cryptography; scripts/ipsec_peer.py) in the lab "router"
# topology's namespace B, burst on two af_packet ports with two workers. Checks, each with a
# PASS/FAIL line:
#   transport mode between B (198.18.2.1) and burst (198.18.2.254), AES-GCM-128: three ESP
#   pings and a UDP echo answered over ESP; a replayed, a forged, an unknown-SPI ESP packet and
#   plain traffic to the protected address get no answer;
#   transport mode with each further transform, one SA pair and one address of burst's each:
#   AES-GCM-256 with ESN (198.18.2.253), ChaCha20-Poly1305 with ESN (.252), AES-CBC-128 +
#   HMAC-SHA-256-128 without ESN (.251; scapy 2.5 leaves the ESN high half out of an ESP HMAC):
#   an ESP ping and a UDP echo answered over ESP each;
#   a valid ESP datagram with next header 4 (IPv4) on the transport SA gets no answer;
#   tunnel mode between burst (for A's 198.18.1.0/24) and B (scapy as the gateway of
#   198.19.0.0/16) with every transform, one SA pair and one far /24 each: AES-GCM-128
#   (198.19.0.5, the catch-all /16), AES-GCM-256 with ESN (198.19.1.5), ChaCha20-Poly1305 with
#   ESN (.2.5), AES-CBC-256 + HMAC-SHA-256-128 (.3.5), NULL + HMAC-SHA-256-128 (.4.5): A's Linux
#   pings each and gets UDP answers through the tunnel; scapy's far hosts ping A through each
#   tunnel and get the answer over ESP; a plain packet from 198.19.0.0/16 is dropped;
#   AH (RFC 4302, HMAC-SHA-256-128) with scapy's SecurityAssociation(AH): transport mode with
#   burst's 198.18.2.250 (a ping and a UDP echo answered with AH) and a tunnel for 198.19.5.0/24
#   (A pings and gets UDP echo through it, scapy's far host pings A through it);
#   the counters of every drop (esp.in_replay, esp.in_icv, esp.in_unknown_spi,
#   esp.in_bad_next_header, ipsec.drop_plain_to_protected) and of the work
#   (ipsec.in_decrypted, ipsec.out_secured);
#   `ctl trace` shows the IPsec verdict; `ctl ipsec` names the AES-GCM implementation
#   (intel-ipsec-mb) and lists the SAs' counters (packets, a replay
#   drop, an ICV failure, the AH SA's packets) and the policies' hits; `ctl ipsec sa add` and
#   `sa delete` add and remove an SA at run time; burst stops cleanly.
# Needs root and target/release/burst (cargo build --release -p burst --features dpdk). Uses its
# own lab (SMOKE_IPSEC_PREFIX), addresses in 198.18.0.0/15 only, and cleans up on every exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

P=${SMOKE_IPSEC_PREFIX:-si$$}
P=${P:0:8}
export LAB_PREFIX=$P
A=${P}a
B=${P}b
work=$(mktemp -d)
SOCK=$work/burst.sock
BURST=${BURST:-target/release/burst}
PY=/usr/bin/python3
pid=""
gw_pid=""
fails=0
total=0

cleanup() {
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  scripts/lab.sh down router >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { total=$((total + 1)); echo "PASS $*"; }
fail() { total=$((total + 1)); echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >>"$work/check.log" 2>&1; then pass "$what"; else fail "$what"; tail -5 "$work/check.log"; fi; }
ctl() { "$BURST" ctl --socket "$SOCK" "$@"; }
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
# Sum of one counter over the cores of `ctl stats`.
counter() { ctl stats | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }

$PY -c 'import scapy.layers.ipsec, cryptography' 2>/dev/null || {
  echo "smoke-ipsec: FAIL: needs python3-scapy and python3-cryptography"; exit 1; }
[ -x "$BURST" ] || { echo "smoke-ipsec: FAIL: no $BURST (cargo build --release -p burst --features dpdk)"; exit 1; }

# The example router configuration with our interfaces, socket and EAL file prefix, a route
# to the tunnel's far subnet, the UDP echo service, and the [ipsec] section (keys as
# scripts/ipsec_peer.py has them).
sed -e "s/iface=blr0/iface=${P}r0/" -e "s/iface=blr1/iface=${P}r1/" \
  -e "s|/run/burst/router.sock|$SOCK|" -e "s/burst-router/burst-$P/" \
  -e 's|"198.18.2.254/24"\]|"198.18.2.254/24", "198.18.2.253/24", "198.18.2.252/24", "198.18.2.251/24", "198.18.2.250/24"]|' \
  configs/router.toml >"$work/ipsec.toml"
cat >>"$work/ipsec.toml" <<'EOF'

[[route]]
prefix = "198.19.0.0/16"
via = "198.18.2.1"

[services]
echo = true

# Transport mode: B <-> burst's address on b.
[[ipsec.sa]]
spi = 0x1001
direction = "in"
algorithm = "aes-gcm-128"
key = "000102030405060708090a0b0c0d0e0f10111213"

[[ipsec.sa]]
spi = 0x2001
direction = "out"
algorithm = "aes-gcm-128"
key = "202122232425262728292a2b2c2d2e2f30313233"

# Tunnel mode: 198.18.1.0/24 (A, behind burst) <-> 198.19.0.0/16 (behind B).
[[ipsec.sa]]
spi = 0x1002
direction = "in"
mode = "tunnel"
tunnel_src = "198.18.2.1"
tunnel_dst = "198.18.2.254"
algorithm = "aes-gcm-128"
key = "404142434445464748494a4b4c4d4e4f50515253"

[[ipsec.sa]]
spi = 0x2002
direction = "out"
mode = "tunnel"
tunnel_src = "198.18.2.254"
tunnel_dst = "198.18.2.1"
algorithm = "aes-gcm-128"
key = "606162636465666768696a6b6c6d6e6f70717273"

# One transport-mode SA pair per further transform, each with its own address of burst's
# (scripts/ipsec_peer.py algorithms; keys: byte i is (spi & 0xff) * 8 + i, auth + 0x80).
[[ipsec.sa]]
spi = 0x1011
direction = "in"
algorithm = "aes-gcm-256"
key = "88898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaab"
esn = true

[[ipsec.sa]]
spi = 0x2011
direction = "out"
algorithm = "aes-gcm-256"
key = "88898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaab"
esn = true

[[ipsec.policy]]
direction = "in"
src = "198.18.2.1/32"
dst = "198.18.2.253/32"
action = "secure"
sa = 0x1011

[[ipsec.policy]]
direction = "out"
src = "198.18.2.253/32"
dst = "198.18.2.1/32"
action = "secure"
sa = 0x2011

[[ipsec.sa]]
spi = 0x1012
direction = "in"
algorithm = "chacha20-poly1305"
key = "909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3"
esn = true

[[ipsec.sa]]
spi = 0x2012
direction = "out"
algorithm = "chacha20-poly1305"
key = "909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3"
esn = true

[[ipsec.policy]]
direction = "in"
src = "198.18.2.1/32"
dst = "198.18.2.252/32"
action = "secure"
sa = 0x1012

[[ipsec.policy]]
direction = "out"
src = "198.18.2.252/32"
dst = "198.18.2.1/32"
action = "secure"
sa = 0x2012

[[ipsec.sa]]
spi = 0x1013
direction = "in"
algorithm = "aes-cbc-128-hmac-sha256"
key = "98999a9b9c9d9e9fa0a1a2a3a4a5a6a7"
auth_key = "18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"

[[ipsec.sa]]
spi = 0x2013
direction = "out"
algorithm = "aes-cbc-128-hmac-sha256"
key = "98999a9b9c9d9e9fa0a1a2a3a4a5a6a7"
auth_key = "18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"

[[ipsec.policy]]
direction = "in"
src = "198.18.2.1/32"
dst = "198.18.2.251/32"
action = "secure"
sa = 0x1013

[[ipsec.policy]]
direction = "out"
src = "198.18.2.251/32"
dst = "198.18.2.1/32"
action = "secure"
sa = 0x2013

# Tunnel mode with each further transform: 198.18.1.0/24 <-> 198.19.N.0/24, one SA pair each
# (scripts/ipsec_peer.py TUNNELS; keys: byte i is (spi & 0xff) * 8 + i, auth + 0x80). Their
# policies come before the catch-all 198.19.0.0/16 ones (first match wins).

[[ipsec.sa]]
spi = 0x1021
direction = "in"
mode = "tunnel"
tunnel_src = "198.18.2.1"
tunnel_dst = "198.18.2.254"
algorithm = "aes-gcm-256"
key = "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b"
esn = true

[[ipsec.sa]]
spi = 0x2021
direction = "out"
mode = "tunnel"
tunnel_src = "198.18.2.254"
tunnel_dst = "198.18.2.1"
algorithm = "aes-gcm-256"
key = "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b"
esn = true

[[ipsec.policy]]
direction = "in"
src = "198.19.1.0/24"
dst = "198.18.1.0/24"
action = "secure"
sa = 0x1021

[[ipsec.policy]]
direction = "out"
src = "198.18.1.0/24"
dst = "198.19.1.0/24"
action = "secure"
sa = 0x2021

[[ipsec.sa]]
spi = 0x1022
direction = "in"
mode = "tunnel"
tunnel_src = "198.18.2.1"
tunnel_dst = "198.18.2.254"
algorithm = "chacha20-poly1305"
key = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233"
esn = true

[[ipsec.sa]]
spi = 0x2022
direction = "out"
mode = "tunnel"
tunnel_src = "198.18.2.254"
tunnel_dst = "198.18.2.1"
algorithm = "chacha20-poly1305"
key = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233"
esn = true

[[ipsec.policy]]
direction = "in"
src = "198.19.2.0/24"
dst = "198.18.1.0/24"
action = "secure"
sa = 0x1022

[[ipsec.policy]]
direction = "out"
src = "198.18.1.0/24"
dst = "198.19.2.0/24"
action = "secure"
sa = 0x2022

[[ipsec.sa]]
spi = 0x1023
direction = "in"
mode = "tunnel"
tunnel_src = "198.18.2.1"
tunnel_dst = "198.18.2.254"
algorithm = "aes-cbc-256-hmac-sha256"
key = "18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
auth_key = "98999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"

[[ipsec.sa]]
spi = 0x2023
direction = "out"
mode = "tunnel"
tunnel_src = "198.18.2.254"
tunnel_dst = "198.18.2.1"
algorithm = "aes-cbc-256-hmac-sha256"
key = "18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
auth_key = "98999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"

[[ipsec.policy]]
direction = "in"
src = "198.19.3.0/24"
dst = "198.18.1.0/24"
action = "secure"
sa = 0x1023

[[ipsec.policy]]
direction = "out"
src = "198.18.1.0/24"
dst = "198.19.3.0/24"
action = "secure"
sa = 0x2023

[[ipsec.sa]]
spi = 0x1024
direction = "in"
mode = "tunnel"
tunnel_src = "198.18.2.1"
tunnel_dst = "198.18.2.254"
algorithm = "null-hmac-sha256"
auth_key = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

[[ipsec.sa]]
spi = 0x2024
direction = "out"
mode = "tunnel"
tunnel_src = "198.18.2.254"
tunnel_dst = "198.18.2.1"
algorithm = "null-hmac-sha256"
auth_key = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

[[ipsec.policy]]
direction = "in"
src = "198.19.4.0/24"
dst = "198.18.1.0/24"
action = "secure"
sa = 0x1024

[[ipsec.policy]]
direction = "out"
src = "198.18.1.0/24"
dst = "198.19.4.0/24"
action = "secure"
sa = 0x2024

# AH (RFC 4302, HMAC-SHA-256-128): transport mode with burst's 198.18.2.250, and a tunnel for
# 198.19.5.0/24 (keys as ipsec_peer.py's alg_keys: auth byte i is (spi & 0xff) * 8 + 0x80 + i).
[[ipsec.sa]]
spi = 0x1031
direction = "in"
protocol = "ah"
auth_key = "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627"

[[ipsec.sa]]
spi = 0x2031
direction = "out"
protocol = "ah"
auth_key = "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627"

[[ipsec.policy]]
direction = "in"
src = "198.18.2.1/32"
dst = "198.18.2.250/32"
action = "secure"
sa = 0x1031

[[ipsec.policy]]
direction = "out"
src = "198.18.2.250/32"
dst = "198.18.2.1/32"
action = "secure"
sa = 0x2031

[[ipsec.sa]]
spi = 0x1025
direction = "in"
protocol = "ah"
mode = "tunnel"
tunnel_src = "198.18.2.1"
tunnel_dst = "198.18.2.254"
auth_key = "a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7"

[[ipsec.sa]]
spi = 0x2025
direction = "out"
protocol = "ah"
mode = "tunnel"
tunnel_src = "198.18.2.254"
tunnel_dst = "198.18.2.1"
auth_key = "a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7"

[[ipsec.policy]]
direction = "in"
src = "198.19.5.0/24"
dst = "198.18.1.0/24"
action = "secure"
sa = 0x1025

[[ipsec.policy]]
direction = "out"
src = "198.18.1.0/24"
dst = "198.19.5.0/24"
action = "secure"
sa = 0x2025

[[ipsec.policy]]
direction = "in"
src = "198.18.2.1/32"
dst = "198.18.2.254/32"
action = "secure"
sa = 0x1001

[[ipsec.policy]]
direction = "in"
src = "198.19.0.0/16"
dst = "198.18.1.0/24"
action = "secure"
sa = 0x1002

[[ipsec.policy]]
direction = "in"
action = "permit"

[[ipsec.policy]]
direction = "out"
src = "198.18.2.254/32"
dst = "198.18.2.1/32"
action = "secure"
sa = 0x2001

[[ipsec.policy]]
direction = "out"
src = "198.18.1.0/24"
dst = "198.19.0.0/16"
action = "secure"
sa = 0x2002

[[ipsec.policy]]
direction = "out"
action = "permit"
EOF

scripts/lab.sh up router >/dev/null || exit 1
# B's kernel has no ESP: keep it from answering ESP with protocol unreachables (scapy reads
# the frames off the link before the kernel's input hook).
ip netns exec "$B" nft -f - <<'EOF' || { echo "smoke-ipsec: nft failed"; exit 1; }
table ip smoke_ipsec {
  chain in { type filter hook input priority 0; ip protocol { esp, ah } drop; }
}
EOF
"$BURST" run -c "$work/ipsec.toml" >"$work/burst.log" 2>&1 &
pid=$!
ready() {
  kill -0 "$pid" 2>/dev/null || { echo "burst exited"; return 0; }
  [ "$(grep -c 'address ready' "$work/burst.log")" -ge 6 ] && ctl stats >/dev/null 2>&1
}
if ! wait_for 300 ready || ! kill -0 "$pid" 2>/dev/null; then
  echo "burst did not start:"; cat "$work/burst.log"; exit 1
fi
sleep 0.5

# Transport mode, scapy in B against burst's own address.
ip netns exec "$B" $PY scripts/ipsec_peer.py transport >"$work/transport.txt" 2>&1

while read -r word rest; do
  case "$word" in
    PASS) pass "$rest" ;;
    FAIL) fail "$rest" ;;
  esac
done <"$work/transport.txt"
grep -q '^PASS transport: ESP ping 1' "$work/transport.txt" || fail "transport: the scapy peer ran"

# Transport mode with each further transform (one address of burst's per SA pair).
ip netns exec "$B" $PY scripts/ipsec_peer.py algorithms >"$work/algorithms.txt" 2>&1
while read -r word rest; do
  case "$word" in
    PASS) pass "$rest" ;;
    FAIL) fail "$rest" ;;
  esac
done <"$work/algorithms.txt"
[ "$(grep -c '^PASS' "$work/algorithms.txt")" -eq 8 ] || { fail "algorithms: the scapy peer ran all eight checks"; tail -5 "$work/algorithms.txt"; }

# Tunnel mode, scapy as B's gateway for 198.19.0.0/16.
ip netns exec "$B" $PY -u scripts/ipsec_peer.py gateway >"$work/gateway.txt" 2>&1 &
gw_pid=$!
wait_for 100 grep -q 'gateway: ready' "$work/gateway.txt"
sleep 0.5
check "tunnel: A pings 198.19.0.5 through the tunnel" \
  ip netns exec "$A" ping -c 3 -i 0.3 -W 2 198.19.0.5
udp_echo() {
  ip netns exec "$A" $PY - "${1:-198.19.0.5}" <<'EOF'
import socket, sys
far = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"udp through the tunnel", (far, 7))
data, peer = s.recvfrom(2048)
assert data == b"udp through the tunnel" and peer == (far, 7), (data, peer)
EOF
}
check "tunnel: UDP from A to 198.19.0.5 answered through the tunnel" udp_echo
# The same, once per further transform: each far /24 has its own SA pair (AES-GCM-256 with ESN,
# ChaCha20-Poly1305 with ESN, AES-CBC-256 + HMAC-SHA-256-128, NULL + HMAC-SHA-256-128).
for far in 198.19.1.5:aes-gcm-256 198.19.2.5:chacha20-poly1305 198.19.3.5:aes-cbc-256-hmac-sha256 198.19.4.5:null-hmac-sha256 198.19.5.5:ah; do
  addr=${far%%:*}
  alg=${far#*:}
  check "tunnel $alg: A pings $addr through the tunnel" \
    ip netns exec "$A" ping -c 2 -i 0.2 -W 2 "$addr"
  check "tunnel $alg: UDP from A to $addr answered through the tunnel" udp_echo "$addr"
done
# The trace of A's pings into the tunnel and of their answers out of it.
ip netns exec "$A" ping -c 20 -i 0.2 -W 1 198.19.0.5 >/dev/null 2>&1 &
ping_pid=$!
ctl trace 4 -w 5 >"$work/trace.txt" 2>&1
kill "$ping_pid" 2>/dev/null; wait "$ping_pid" 2>/dev/null
sed 's/^/  /' "$work/trace.txt"
check "ctl trace shows ipsec: secure (ESP, SA 0x2002)" grep -q 'ipsec: secure (ESP, SA 0x2002)' "$work/trace.txt"
check "ctl trace shows ipsec: decrypted (ESP, SA 0x1002)" grep -q 'ipsec: decrypted (ESP, SA 0x1002)' "$work/trace.txt"
# The other way: scapy's far hosts ping A through each tunnel (sequence numbers of their own).
ip netns exec "$B" $PY scripts/ipsec_peer.py tunnel-in >"$work/tunnel-in.txt" 2>&1
while read -r word rest; do
  case "$word" in
    PASS) pass "$rest" ;;
    FAIL) fail "$rest" ;;
  esac
done <"$work/tunnel-in.txt"
[ "$(grep -c '^PASS' "$work/tunnel-in.txt")" -eq 6 ] || { fail "tunnel-in: the scapy peer ran all six checks"; tail -5 "$work/tunnel-in.txt"; }
# Plain traffic from the far subnet: dropped (no answer reaches A either way).
plain0=$(counter ipsec.drop_plain_to_protected)
ip netns exec "$B" $PY -c 'from scapy.all import IP, UDP, send, conf; conf.verb = 0; send(IP(src="198.19.0.5", dst="198.18.1.1")/UDP(sport=7, dport=9)/b"plain", iface="eth0")'
plain_counted() { [ "$(counter ipsec.drop_plain_to_protected)" -gt "$plain0" ]; }
wait_for 20 plain_counted
plain1=$(counter ipsec.drop_plain_to_protected)
check "tunnel: plain datagram from 198.19.0.0/16 dropped ($plain0 -> $plain1)" test "$plain1" -gt "$plain0"
kill "$gw_pid" 2>/dev/null; wait "$gw_pid" 2>/dev/null; gw_pid=""

# Counters.
ctl stats >"$work/stats.txt"
echo "non-zero ipsec./esp. counters (all cores):"
awk '$1 ~ /^(ipsec|esp)\./ && $2 != 0 { s[$1] += $2 } END { for (k in s) printf "  %-34s %d\n", k, s[k] }' "$work/stats.txt" | sort
sum() { awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }' "$work/stats.txt"; }
for c in ipsec.in_decrypted ipsec.out_secured esp.in_replay esp.in_icv esp.in_unknown_spi esp.in_bad_next_header ipsec.drop_plain_to_protected; do
  check "$c > 0 ($(sum "$c"))" test "$(sum "$c")" -gt 0
done

# ctl ipsec: the SAs' counters and the policies' hits, over the control socket.
ctl ipsec >"$work/ipsec.txt" 2>&1
sed 's/^/  /' "$work/ipsec.txt"
check "ctl ipsec: AES-GCM on intel-ipsec-mb (a --features dpdk build)" \
  grep -q '^AES-GCM: intel-ipsec-mb' "$work/ipsec.txt"
# SA rows: spi dir proto algorithm mode packets bytes replay icv drops used/limit.
check "ctl ipsec: SA 0x1001 with its packets, a replay drop and an ICV failure" \
  awk '$1 == "0x1001" && $3 == "esp" && $6 >= 4 && $8 >= 1 && $9 >= 1 { ok = 1 } END { exit !ok }' "$work/ipsec.txt"
check "ctl ipsec: AH SA 0x2031 with the packets it sealed" \
  awk '$1 == "0x2031" && $3 == "ah" && $4 == "hmac-sha256-128" && $6 >= 2 { ok = 1 } END { exit !ok }' "$work/ipsec.txt"
check "ctl ipsec: the secure policy of SA 0x1031 has hits" \
  awk '/secure sa 0x1031/ && $NF >= 2 { ok = 1 } END { exit !ok }' "$work/ipsec.txt"
ctl ipsec sa add spi=0x3999 direction=in protocol=ah \
  auth_key=000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f >>"$work/check.log" 2>&1
check "ctl ipsec sa add: SA 0x3999 listed" sh -c "$BURST ctl --socket $SOCK ipsec | grep -q '^  0x3999 '"
ctl ipsec sa delete 0x3999 >>"$work/check.log" 2>&1
check "ctl ipsec sa delete: SA 0x3999 gone" sh -c "! $BURST ctl --socket $SOCK ipsec | grep -q '^  0x3999 '"

stop() {
  kill -TERM "$pid" || return 1
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "burst still running 10 s after SIGTERM"; return 1; fi
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  return $rc
}
check "SIGTERM: burst exits cleanly" stop

echo "smoke-ipsec: $((total - fails))/$total passed"
[ "$fails" -eq 0 ]
