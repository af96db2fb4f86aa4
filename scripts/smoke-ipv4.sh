#!/usr/bin/env bash
# IPv4 behaviour against Linux and scapy on the lab "host" topology, plus a Linux router behind
# the peer with an MTU 1280 hop:
#
#   [burst 198.18.0.2] <-> [peer 198.18.0.1 | forwards | 198.18.3.1 mtu 1280] <-> [far 198.18.3.2]
#
# Checks, each with a PASS/FAIL line (the Linux side checks with scapy or tcpdump, never with
# burst's own parsers):
#   host: burst joins 100 groups and its IGMPv3 reports (at start and answering a general query)
#   are valid and name all of them; it sends 3 router solicitations at start; a scapy router
#   advertisement installs a default route with the advertised preference (`ctl route print`,
#   `ctl rdisc`) that carries traffic; `ctl ping -s 1400 -M do` through the 1280 hop gets the
#   router's "Frag needed" first and the path MTU cache's answer on the second try, and a UDP
#   echo reply to the far host leaves burst already fragmented to 1280; a 3000-byte UDP datagram
#   from Linux reaches the echo socket and comes back whole; an outbound deny rule blocks
#   `ctl ping` from burst itself until deleted.
#   router: advertisements every few seconds with the configured preference and lifetime, an
#   answer to a solicitation, and a last advertisement with lifetime 0 at SIGTERM.
# Needs root. Uses its own lab (LAB_PREFIX) and cleans up on every exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

P=${SMOKE_IPV4_PREFIX:-si$$}
P=${P:0:8}
export LAB_PREFIX=$P
NS=${P}peer
FAR=${P}far
IF=${P}h0
work=$(mktemp -d)
SOCK=$work/burst.sock
BURST=${BURST:-target/release/burst}
PY=/usr/bin/python3
PEER="$PY $PWD/scripts/peer_ipv4.py"
pid=""
dump_pid=""
fails=0
total=0

cleanup() {
  [ -n "$dump_pid" ] && kill "$dump_pid" 2>/dev/null && wait "$dump_pid" 2>/dev/null
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  ip netns del "$FAR" 2>/dev/null
  scripts/lab.sh down host >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { total=$((total + 1)); echo "PASS $*"; }
fail() { total=$((total + 1)); echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >>"$work/check.log" 2>&1; then pass "$what"; else fail "$what"; tail -5 "$work/check.log"; fi; }
ctl() { "$BURST" ctl --socket "$SOCK" "$@"; }
inPeer() { ip netns exec "$NS" "$@"; }
inFar() { ip netns exec "$FAR" "$@"; }
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
# Leak check as in smoke-host.sh: the pools' in_use once ready and again at the end (each
# reading after two pings, so a device holding its last transmitted frame holds one both times).
pools() {
  ctl ping -c 2 -i 0.1 198.18.0.1 >/dev/null 2>&1
  ctl stats 2>/dev/null | awk '/^pool/ { name = $0; sub(/:$/, "", name); next } /^[^ ]/ { name = "" } name != "" && $1 == "in_use" { printf "%s%s=%s", sep, name, $2; sep = ", " }'
}
leak_check() {
  local base=$1 now=""
  for _ in $(seq 1 50); do now=$(pools); [ -n "$base" ] && [ "$now" = "$base" ] && break; sleep 0.2; done
  if [ -n "$base" ] && [ "$now" = "$base" ]; then pass "no buffer leaked: pool in use back at its baseline ($now)"
  else fail "buffers leaked or held: pool in use at start ($base), at the end ($now)"; fi
}

# tcpdump FILE FILTER: captures on the peer's eth0 until stop_dump; returns once it listens.
dump() {
  inPeer tcpdump -i eth0 -n -U --immediate-mode -w "$1" "$2" 2>"$work/tcpdump.err" &
  dump_pid=$!
  wait_for 50 grep -q "listening on" "$work/tcpdump.err" || { echo "tcpdump did not start"; cat "$work/tcpdump.err"; }
}
stop_dump() { [ -n "$dump_pid" ] && kill "$dump_pid" 2>/dev/null && wait "$dump_pid" 2>/dev/null; dump_pid=""; }

start() {
  "$BURST" run -c "$1" >"$work/burst.log" 2>&1 &
  pid=$!
  ready() {
    kill -0 "$pid" 2>/dev/null || return 0
    grep -q "address ready" "$work/burst.log" && ctl stats >/dev/null 2>&1
  }
  if ! wait_for 300 ready || ! kill -0 "$pid" 2>/dev/null; then
    echo "burst did not start:"; cat "$work/burst.log"; exit 1
  fi
}

stop() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  return $rc
}

# ---- The lab: the host topology, the peer forwarding to a far host over an MTU 1280 link.
scripts/lab.sh up host >/dev/null || exit 1
ip netns add "$FAR"
ip link add eth1 netns "$NS" type veth peer name eth0 netns "$FAR"
inPeer ip link set eth1 mtu 1280 up
inPeer ip addr add 198.18.3.1/24 dev eth1
inFar ip link set lo up
inFar ip link set eth0 mtu 1280 up
inFar ip addr add 198.18.3.2/24 dev eth0
inFar ip route add default via 198.18.3.1
inPeer sysctl -qw net.ipv4.ip_forward=1

# ---- Host: the example host configuration without its default route (router discovery
# brings one), 100 groups, router discovery on.
groups=$(seq 1 100 | sed 's/^/"239.1.0./; s/$/"/' | paste -sd, -)
sed -e "s/iface=blh0/iface=$IF/" -e "s|/run/burst/host.sock|$SOCK|" -e "s/burst-host/burst-$P/" \
  -e "s/^groups = .*/groups = [$groups]/" \
  -e '/^\[\[route\]\]/,/^$/d' configs/host.toml >"$work/host.toml"
printf '\n[router_discovery]\nenabled = true\n' >>"$work/host.toml"
grep -q '^\[\[route\]\]' "$work/host.toml" && { echo "could not remove the default route"; exit 1; }

dump "$work/start.pcap" "igmp or icmp"
start "$work/host.toml"
sleep 1  # let tcpdump write what start-up sent (solicitations, IGMP reports: all within DAD)
stop_dump
base=$(pools)
check "burst sent 3 valid router solicitations to 224.0.0.2 at start" $PEER rs-pcap "$work/start.pcap" 198.18.0.2 3
check "burst's unsolicited IGMPv3 reports at start are valid and name all 100 groups" \
  $PEER igmp-pcap "$work/start.pcap" 198.18.0.2 100
check "burst answers a general query with valid IGMPv3 reports naming all 100 groups" \
  inPeer $PEER igmp-query eth0 198.18.0.2 100 2.5
check "ctl igmp lists 100 groups" sh -c "'$BURST' ctl --socket '$SOCK' igmp | grep -c '239\.1\.0\.' | grep -qx 100"

# Router discovery, host side.
check "no default route before an advertisement" sh -c "! '$BURST' ctl --socket '$SOCK' route print | grep -q '^ *0\.0\.0\.0 '"
check "scapy sends a router advertisement (198.18.0.1, preference 7, lifetime 1800)" \
  inPeer $PEER ra-send eth0 198.18.0.1 198.18.0.1 7 1800
has_default() { ctl route print | grep '^ *0\.0\.0\.0 ' | grep '198\.18\.0\.1' | grep -q 'router-discovery (preference 7)'; }
check "ctl route print: default via 198.18.0.1, router-discovery (preference 7)" wait_for 20 has_default
ctl route print >>"$work/check.log"
check "ctl rdisc lists the router with preference 7" sh -c "'$BURST' ctl --socket '$SOCK' rdisc | tee /dev/stderr | grep '198\.18\.0\.1' | grep -q ' 7 '"
check "the discovered default route carries traffic (ctl ping 198.18.3.2 through Linux)" ctl ping -c 2 -i 0.2 198.18.3.2

# Path MTU: the Linux router's 1280 hop.
ctl ping -c 1 -W 2 -s 1400 -M do 198.18.3.2 >"$work/pmtu1.txt" 2>&1
cat "$work/pmtu1.txt" >>"$work/check.log"
check "ctl ping -s 1400 -M do: Linux says frag needed (mtu = 1280)" grep -q "From 198.18.0.1 .*fragmented.*(mtu = 1280)" "$work/pmtu1.txt"
ctl ping -c 1 -W 2 -s 1400 -M do 198.18.3.2 >"$work/pmtu2.txt" 2>&1
cat "$work/pmtu2.txt" >>"$work/check.log"
check "second try: refused by burst from its path MTU cache (no From line)" \
  sh -c "grep -q 'needs to be fragmented' '$work/pmtu2.txt' && ! grep -q '^From' '$work/pmtu2.txt'"
check "ctl ping -s 1200 -M do fits the path" ctl ping -c 1 -W 2 -s 1200 -M do 198.18.3.2
dump "$work/udp.pcap" "udp and src host 198.18.0.2"
udp_echo() {
  ip netns exec "$1" "$PY" - "$2" <<'EOF'
import socket, sys
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
data = bytes((i * 7) & 0xff for i in range(n))
s.sendto(data, ("198.18.0.2", 7))
got, _ = s.recvfrom(65535)
sys.exit(0 if got == data else 1)
EOF
}
check "far host: a 1400-byte UDP datagram to burst's echo comes back whole" udp_echo "$FAR" 1400
sleep 0.3
stop_dump
frag_sizes() {
  tshark -r "$work/udp.pcap" -T fields -e ip.len -e ip.flags.mf -e ip.frag_offset -Y "ip.dst == 198.18.3.2" 2>/dev/null
}
frag_sizes >>"$work/check.log"
check "burst's echo reply left fragmented to the 1280 path MTU (every fragment <= 1280, 2 or more)" \
  sh -c "[ \$(tshark -r '$work/udp.pcap' -Y 'ip.dst == 198.18.3.2' 2>/dev/null | wc -l) -ge 2 ] && \
    ! tshark -r '$work/udp.pcap' -T fields -e ip.len -Y 'ip.dst == 198.18.3.2' 2>/dev/null | awk '\$1 > 1280 { bad = 1 } END { exit !bad }'"
check "a 3000-byte UDP datagram from Linux reaches burst's echo socket and comes back whole" udp_echo "$NS" 3000

# Outbound filters apply to burst's own traffic (seed 000, source path).
check "ctl ping reaches Linux" ctl ping -c 1 -W 1 198.18.0.1
check "ctl filter add p0 out --dst 198.18.0.1 --proto icmp deny" ctl filter add p0 out --dst 198.18.0.1 --proto icmp deny
check "ctl ping is denied by the outbound filter" \
  sh -c "'$BURST' ctl --socket '$SOCK' ping -c 1 -W 1 198.18.0.1 | tee /dev/stderr | grep -q 'Denied by an outbound packet filter'"
check "ctl filter delete p0 out 0" ctl filter delete p0 out 0
check "ctl ping reaches Linux again" ctl ping -c 1 -W 1 198.18.0.1
leak_check "$base"
check "SIGTERM: host shuts down cleanly" stop

# ---- Router: advertisements on p0 every 4 s at most, preference 42, lifetime 12 s (auto).
sed -e '/^\[router_discovery\]/,$d' "$work/host.toml" >"$work/router.toml"
sed -i -e 's/^groups = .*/groups = []/' -e '/^addresses = \["198.18.0.2\/24"\]/a router_advertisements = true\nrouter_preference = 42' "$work/router.toml"
printf '\n[ipv4]\nforwarding = true\n\n[router_discovery]\nadvertise_interval = "4s"\n' >>"$work/router.toml"
dump "$work/router.pcap" "icmp"
start "$work/router.toml"
base=$(pools)
check "burst advertises 198.18.0.2 preference 42 lifetime 12 to 224.0.0.1 (2+ in 9 s), answers a solicitation from 198.18.0.1 to it" \
  inPeer $PEER ra-sniff eth0 198.18.0.2 9 198.18.0.2 42 12 2 solicit-from 198.18.0.1
check "ctl rdisc shows p0 advertising with preference 42" sh -c "'$BURST' ctl --socket '$SOCK' rdisc | tee /dev/stderr | grep -A2 Advertising | grep p0 | grep -q ' 42 '"
leak_check "$base"
check "SIGTERM: router shuts down cleanly" stop
sleep 0.3
stop_dump
check "its last advertisement withdraws it (lifetime 0)" $PEER ra-pcap "$work/router.pcap" 198.18.0.2 0

echo "smoke-ipv4: $((total - fails))/$total passed"
[ "$fails" -eq 0 ]
