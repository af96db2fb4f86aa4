#!/usr/bin/env bash
# shellcheck disable=SC2016 # awk programs are single-quoted on purpose
# burst to burst over an ESP tunnel, live (issue 18's acceptance): two burst processes, each its
# own DPDK EAL (--no-huge --no-pci --no-shconf, its own file prefix) on af_packet ports, with
# Linux hosts in namespaces behind them:
#
#   [<P>l: 198.18.10.1] - <P>l0 [burst 1: 198.18.10.254 | 198.18.20.1] <P>w1
#        ==== wan veth pair: ESP tunnel, AES-GCM-128, SPI 0x3001 (1->2) and 0x3002 (2->1) ====
#   <P>w2 [burst 2: 198.18.20.2 | 198.19.10.254] <P>r0 - [<P>r: 198.19.10.1]
#
# burst 1 runs in namespace <P>g1 with <P>l0 and <P>w1, burst 2 in <P>g2 with <P>r0 and <P>w2
# (see gw_ns below for why). burst 1 protects 198.18.10.0/24 <-> 198.19.10.0/24 with burst 2. Checks, each with a PASS/FAIL:
#   L pings R and R pings L through the tunnel;
#   100 MiB over TCP (OpenBSD nc) from L to R, sha256 equal on both ends (Linux's PMTU
#   discovery learns the MTU left after ESP from burst 1's fragmentation-needed);
#   tshark on the wan (both ends, <P>w1 and <P>w2) during the pings and the first seconds of the transfer (at most
#   CAPTURE_FRAMES frames), given both SAs in its esp_sa table: every ESP frame decrypted with
#   a good ICV, no malformed frame, and no datagram of L or R in the clear on the wan;
#   `burst ctl stats` of both: ipsec.out_secured and ipsec.in_decrypted > 0, and no ipsec./esp.
#   drop (ipsec.drop_frag_needed, the PMTU signal, is printed, not a failure); clean stops.
#
# The hosts' veths keep Linux's default offloads (partial checksums, TSO): burst completes
# the partial checksums and cuts the TSO super-frames in software before sealing, since ESP
# seals whole datagrams.
#
# Needs root, tshark, nc (OpenBSD), target/release/burst (cargo build --release -p burst
# --features dpdk). Its own namespaces and links (SMOKE_IPSEC_TUNNEL_PREFIX, at most 8
# characters), addresses in 198.18.0.0/15 only, inside those namespaces only; every wait is
# bounded; cleans up on every exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

P=${SMOKE_IPSEC_TUNNEL_PREFIX:-st$$}
P=${P:0:8}
L=${P}l
R=${P}r
G1=${P}g1
G2=${P}g2
work=$(mktemp -d)
BURST=${BURST:-target/release/burst}
SIZE_MIB=${SIZE_MIB:-100}
CAPTURE_FRAMES=${CAPTURE_FRAMES:-4000}
L_IP=198.18.10.1 R_IP=198.19.10.1
# SA keys (AES-GCM-128: 16-byte key then 4-byte salt).
K12=808182838485868788898a8b8c8d8e8f90919293
K21=a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3
pids=()
fails=0
total=0

cleanup() {
  local p
  for p in "${pids[@]}"; do
    if kill "$p" 2>/dev/null; then
      for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
  done
  local ns
  for ns in "$L" "$R" "$G1" "$G2"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { total=$((total + 1)); echo "PASS $*"; }
fail() { total=$((total + 1)); echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >>"$work/check.log" 2>&1; then pass "$what"; else fail "$what"; tail -5 "$work/check.log"; fi; }
ctl() { local n=$1; shift; "$BURST" ctl --socket "$work/b$n.sock" "$@"; }
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }

for t in tshark nc sha256sum; do
  command -v "$t" >/dev/null || { echo "smoke-ipsec-tunnel: FAIL: needs $t"; exit 1; }
done
[ -x "$BURST" ] || { echo "smoke-ipsec-tunnel: FAIL: no $BURST (cargo build --release -p burst --features dpdk)"; exit 1; }
[ "${#P}" -le 8 ] || exit 2

# Topology. Each burst runs in a namespace of its own (<P>g1, <P>g2) with its two veth ends:
# DPDK's af_packet derives its PACKET_FANOUT group id from the process id and the ifindex,
# and two processes' ids can collide in one namespace (EINVAL at start). The DPDK ends carry no
# kernel address (burst owns them) and no IPv6.
gw_ns() { # gw_ns NS
  ip netns add "$1" || return 1
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip -n "$1" link set lo up
}
host() { # host NS GW_NS DPDK_END ADDR GW
  local ns=$1 g=$2 dev=$3 addr=$4 gw=$5
  ip netns add "$ns" || return 1
  ip -n "$g" link add "$dev" type veth peer name eth0 netns "$ns" || return 1
  ip -n "$g" link set "$dev" up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$ns" addr add "$addr" dev eth0
  ip -n "$ns" route add default via "$gw"
}
setup() {
  gw_ns "$G1" && gw_ns "$G2" &&
    host "$L" "$G1" "${P}l0" "$L_IP/24" 198.18.10.254 &&
    host "$R" "$G2" "${P}r0" "$R_IP/24" 198.19.10.254 &&
    ip -n "$G1" link add "${P}w1" type veth peer name "${P}w2" netns "$G2" &&
    ip -n "$G1" link set "${P}w1" up && ip -n "$G2" link set "${P}w2" up
}
setup || { echo "smoke-ipsec-tunnel: lab setup failed"; exit 1; }

# conf N LAN_IF WAN_IF LAN_ADDR WAN_ADDR PEER_WAN LOCAL_NET REMOTE_NET SPI_OUT KEY_OUT SPI_IN KEY_IN
conf() {
  cat <<EOF
[backend]
kind = "dpdk"

[eal]
args = [
  "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "512",
  "--file-prefix=burst-$P-$1",
  "--vdev=net_af_packet0,iface=$2,qpairs=1",
  "--vdev=net_af_packet1,iface=$3,qpairs=1",
]
cores = 1
cpus = []

[[port]]
name = "lan"
device = "net_af_packet0"
addresses = ["$4"]
offloads = false

[[port]]
name = "wan"
device = "net_af_packet1"
addresses = ["$5"]
offloads = false

[[route]]
prefix = "$8"
via = "$6"

[ipv4]
forwarding = true

[control]
socket = "$work/b$1.sock"

[[ipsec.sa]]
spi = $9
direction = "out"
mode = "tunnel"
tunnel_src = "${5%/*}"
tunnel_dst = "$6"
algorithm = "aes-gcm-128"
key = "${10}"

[[ipsec.sa]]
spi = ${11}
direction = "in"
mode = "tunnel"
tunnel_src = "$6"
tunnel_dst = "${5%/*}"
algorithm = "aes-gcm-128"
key = "${12}"

[[ipsec.policy]]
direction = "in"
src = "$8"
dst = "$7"
action = "secure"
sa = ${11}

[[ipsec.policy]]
direction = "in"
action = "permit"

[[ipsec.policy]]
direction = "out"
src = "$7"
dst = "$8"
action = "secure"
sa = $9

[[ipsec.policy]]
direction = "out"
action = "permit"
EOF
}
conf 1 "${P}l0" "${P}w1" 198.18.10.254/24 198.18.20.1/30 198.18.20.2 \
  198.18.10.0/24 198.19.10.0/24 0x3001 "$K12" 0x3002 "$K21" >"$work/b1.toml"
conf 2 "${P}r0" "${P}w2" 198.19.10.254/24 198.18.20.2/30 198.18.20.1 \
  198.19.10.0/24 198.18.10.0/24 0x3002 "$K21" 0x3001 "$K12" >"$work/b2.toml"

for n in 1 2; do
  ip netns exec "${P}g$n" "$BURST" run -c "$work/b$n.toml" >"$work/b$n.log" 2>&1 &
  eval "bpid$n=$!"
  pids+=("$!")
done
ready() { # ready N
  local p; eval "p=\$bpid$1"
  kill -0 "$p" 2>/dev/null || return 2
  [ "$(grep -c 'address ready' "$work/b$1.log")" -ge 2 ] && ctl "$1" stats >/dev/null 2>&1
}
for n in 1 2; do
  if ! wait_for 300 ready "$n"; then
    echo "burst $n did not start:"; cat "$work/b$n.log"; exit 1
  fi
done

# tshark on the wan: the pings and the start of the transfer, bounded in frames and time.
# Both ends: burst's af_packet ports send with PACKET_QDISC_BYPASS, so a capture sees only
# what a veth end receives.
cap_pids=()
for n in 1 2; do
  ip netns exec "${P}g$n" tshark -i "${P}w$n" -n -q -c "$((CAPTURE_FRAMES / 2))" -a duration:40 \
    -w "$work/wan$n.pcapng" >"$work/tshark$n.log" 2>&1 &
  cap_pids+=("$!")
  pids+=("$!")
done
for n in 1 2; do
  wait_for 100 grep -q 'Capturing on' "$work/tshark$n.log" || { echo "tshark did not start:"; cat "$work/tshark$n.log"; exit 1; }
done

check "L ($L_IP) pings R ($R_IP) through the tunnel" \
  ip netns exec "$L" ping -c 3 -i 0.2 -W 3 "$R_IP"
check "R ($R_IP) pings L ($L_IP) through the tunnel" \
  ip netns exec "$R" ping -c 3 -i 0.2 -W 3 "$L_IP"

# 100 MiB over TCP from L to R.
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$work/src.bin"
ip netns exec "$R" timeout 180 nc -l "$R_IP" 5001 >"$work/dst.bin" 2>"$work/nc-r.log" &
rx_pid=$!
pids+=("$rx_pid")
listening() { ip netns exec "$R" ss -Hltn "sport = :5001" | grep -q LISTEN; }
wait_for 50 listening || echo "nc did not listen"
t0=$(date +%s.%N)
ip netns exec "$L" timeout 180 nc -N "$R_IP" 5001 <"$work/src.bin" 2>"$work/nc-l.log"
tx_rc=$?
wait "$rx_pid"; rx_rc=$?
t1=$(date +%s.%N)
src_sum=$(sha256sum <"$work/src.bin" | cut -d' ' -f1)
dst_sum=$(sha256sum <"$work/dst.bin" | cut -d' ' -f1)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "  sent $SIZE_MIB MiB in $secs s (nc rc $tx_rc/$rx_rc), received $(stat -c %s "$work/dst.bin") bytes"
check "TCP: $SIZE_MIB MiB from L to R byte-exact (sha256 $src_sum)" test "$src_sum" = "$dst_sum"

# The capture ends at CAPTURE_FRAMES frames (the transfer fills it) or after 40 s.
for p in "${cap_pids[@]}"; do
  for _ in $(seq 1 450); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -INT "$p" 2>/dev/null
  wait "$p" 2>/dev/null
done
mergecap -w "$work/wan.pcapng" "$work/wan1.pcapng" "$work/wan2.pcapng" || echo "mergecap failed"
# The transfer's bytes (port 5001) are read as plain data: otherwise a heuristic dissector
# (Thrift, seen once) may claim a random payload and call it malformed.
esp=(-d tcp.port==5001,data -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE
  -o "uat:esp_sa:\"IPv4\",\"198.18.20.1\",\"198.18.20.2\",\"0x00003001\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x$K12\",\"NULL\",\"\""
  -o "uat:esp_sa:\"IPv4\",\"198.18.20.2\",\"198.18.20.1\",\"0x00003002\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x$K21\",\"NULL\",\"\"")
count() { tshark -r "$work/wan.pcapng" -n "$@" 2>/dev/null | wc -l; }
frames=$(count)
n_esp=$(count -Y esp)
n_good=$(count "${esp[@]}" -Y 'esp.icv_good == 1 && (ip.src == 198.18.10.0/24 || ip.src == 198.19.10.0/24)')
n_bad=$(count "${esp[@]}" -Y '_ws.malformed || esp.icv_bad == 1 || _ws.expert.severity >= error')
n_plain=$(count -Y '!esp && (ip.addr == 198.18.10.0/24 || ip.addr == 198.19.10.0/24)')
n_1=$(count -Y 'esp.spi == 0x3001')
n_2=$(count -Y 'esp.spi == 0x3002')
echo "  wan capture: $frames frames, $n_esp ESP ($n_1 SPI 0x3001, $n_2 SPI 0x3002), $n_good decrypted with a good ICV to an L/R datagram, $n_bad malformed or bad, $n_plain plain L/R"
check "tshark: ESP both ways on the wan (SPI 0x3001: $n_1, 0x3002: $n_2)" test "$n_1" -gt 100 -a "$n_2" -gt 10
check "tshark: every ESP frame decrypted, ICV good, an L/R datagram inside ($n_good of $n_esp)" test "$n_good" -eq "$n_esp"
check "tshark: no malformed frame, no bad ICV ($n_bad)" test "$n_bad" -eq 0
if [ "$n_bad" -ne 0 ] || [ "$n_good" -ne "$n_esp" ]; then
  tshark -r "$work/wan.pcapng" -n "${esp[@]}" -Y '_ws.malformed || esp.icv_bad == 1 || _ws.expert.severity >= error || (esp && !esp.icv_good)' -V 2>&1 | head -80
fi
check "tshark: nothing of L or R in the clear on the wan ($n_plain)" test "$n_plain" -eq 0

# Counters.
for n in 1 2; do
  ctl "$n" stats >"$work/stats$n.txt"
  echo "burst $n: non-zero ipsec./esp. counters:"
  awk '$1 ~ /^(ipsec|esp)\./ && $2 != 0 { s[$1] += $2 } END { for (k in s) printf "  %-34s %d\n", k, s[k] }' "$work/stats$n.txt" | sort
  sum() { awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }' "$work/stats$n.txt"; }
  check "burst $n: ipsec.out_secured > 0 ($(sum ipsec.out_secured))" test "$(sum ipsec.out_secured)" -gt 0
  check "burst $n: ipsec.in_decrypted > 0 ($(sum ipsec.in_decrypted))" test "$(sum ipsec.in_decrypted)" -gt 0
  drops=$(awk '($1 ~ /^ipsec\.drop_/ && $1 != "ipsec.drop_frag_needed") || ($1 ~ /^esp\.(in_|out_)/ && $1 !~ /_(packets|bytes)$/) { s += $2 } END { print s + 0 }' "$work/stats$n.txt")
  check "burst $n: no ipsec./esp. drops ($drops)" test "$drops" -eq 0
done

stop() { # stop PID
  kill -TERM "$1" || return 1
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$1" 2>/dev/null; then echo "burst still running 10 s after SIGTERM"; return 1; fi
  wait "$1"
}
# shellcheck disable=SC2154 # set by eval above
check "SIGTERM: burst 1 exits cleanly" stop "$bpid1"
# shellcheck disable=SC2154
check "SIGTERM: burst 2 exits cleanly" stop "$bpid2"

echo "smoke-ipsec-tunnel: $((total - fails))/$total passed"
[ "$fails" -eq 0 ]
