#!/usr/bin/env bash
# burst as a host on the lab "host" topology, with the Linux kernel as the peer (grout-style
# smoke test). Checks, each with a PASS/FAIL line:
#   Linux pings burst (also -s 1472 -M do); arping gets answers; Linux's neighbour table learns
#   our MAC; burst ctl ping reaches Linux; burst ctl arp -a lists Linux's MAC as dynamic; static
#   entries add/delete; route add/print/delete change where our own traffic goes; both workers
#   serve traffic; a Linux host already holding our address makes burst disable it and log the
#   conflicting MAC; SIGTERM shuts down cleanly (socket removed).
# Needs root. Uses its own lab (LAB_PREFIX) and cleans up on exit.
set -uo pipefail
cd "$(dirname "$0")/.."

export LAB_PREFIX=${LAB_PREFIX:-bs$$}
LAB_PREFIX=${LAB_PREFIX:0:8}
NS=${LAB_PREFIX}peer
IF=${LAB_PREFIX}h0
work=$(mktemp -d)
SOCK=$work/burst.sock
BURST=${BURST:-target/release/burst}
pid=""
fails=0

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  scripts/lab.sh down host >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >>"$work/check.log" 2>&1; then pass "$what"; else fail "$what"; tail -5 "$work/check.log"; fi; }
ctl() { "$BURST" ctl --socket "$SOCK" "$@"; }
# Leak check: the buffers out of each packet pool (`ctl stats` sections "pool", "pool rx
# PORT": in_use), as "pool=N, pool rx p0=M". Read once burst is ready and idle, and again at
# the end: af_packet posts no buffers in its rx ring, TCP copies payload into its own rings, and
# reassembly, pending and socket queues drain, so the figures must come back to the baseline
# (AF_XDP's fill ring holds the same count at both readings; per-core caches count as available).
# A device may keep transmitted buffers until its next transmit (AF_XDP's completion ring), so
# each reading follows two pings to a peer: the second one's transmit frees what came before,
# and exactly its own frame is held at both readings.
LEAK_PEER=198.18.0.1
pools() {
  ctl ping -c 2 -i 0.1 "$LEAK_PEER" >/dev/null 2>&1
  ctl stats 2>/dev/null | awk '/^pool/ { name = $0; sub(/:$/, "", name); next } /^[^ ]/ { name = "" } name != "" && $1 == "in_use" { printf "%s%s=%s", sep, name, $2; sep = ", " }'
}
# leak_check BASELINE: waits up to 10 s for in-flight buffers to come home, then PASS/FAIL.
leak_check() {
  local base=$1 now=""
  for _ in $(seq 1 50); do now=$(pools); [ -n "$base" ] && [ "$now" = "$base" ] && break; sleep 0.2; done
  if [ -n "$base" ] && [ "$now" = "$base" ]; then pass "no buffer leaked: pool in use back at its baseline ($now)"
  else fail "buffers leaked or held: pool in use at start ($base), at the end ($now)"; fi
}

# A configuration for this lab: the example host config with our interface, socket and prefix.
sed -e "s/iface=blh0/iface=$IF/" -e "s|/run/burst/host.sock|$SOCK|" -e "s/burst-host/burst-$LAB_PREFIX/" \
  configs/host.toml >"$work/host.toml"

start() {
  "$BURST" run -c "$work/host.toml" >"$work/burst.log" 2>&1 &
  pid=$!
  # Ready when the control socket answers and the address finished duplicate detection.
  for _ in $(seq 1 100); do
    if grep -q "address ready\|address conflict" "$work/burst.log" 2>/dev/null && [ -S "$SOCK" ]; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "burst did not start:"; cat "$work/burst.log"; return 1
}

stop() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  return $rc
}

scripts/lab.sh up host >/dev/null
start || exit 1
sleep 0.5
base=$(pools)

check "Linux pings burst" ip netns exec "$NS" ping -c 3 -i 0.2 -W 1 198.18.0.2
check "Linux pings burst with 1472 bytes and DF" ip netns exec "$NS" ping -c 2 -i 0.2 -W 1 -s 1472 -M do 198.18.0.2
check "arping gets answers" ip netns exec "$NS" arping -c 2 -w 3 -I eth0 198.18.0.2
our_mac=$(cat "/sys/class/net/$IF/address")
peer_mac=$(ip netns exec "$NS" cat /sys/class/net/eth0/address)
check "Linux's neighbour table learned our MAC ($our_mac)" \
  sh -c "ip -n $NS neigh show 198.18.0.2 | grep -qi '$our_mac'"
check "burst ctl ping reaches Linux" ctl ping -c 3 198.18.0.1
check "burst ctl arp -a lists Linux's MAC as dynamic" \
  sh -c "'$BURST' ctl --socket '$SOCK' arp -a | grep -i '198.18.0.1 ' | grep -i '${peer_mac//:/-}' | grep -q dynamic"
check "static ARP entry added" sh -c "'$BURST' ctl --socket '$SOCK' arp -s 198.18.0.77 02:00:00:00:00:77 p0 && '$BURST' ctl --socket '$SOCK' arp -a | grep '198.18.0.77 ' | grep -q static"
check "static ARP entry deleted" sh -c "'$BURST' ctl --socket '$SOCK' arp -d 198.18.0.77 && ! '$BURST' ctl --socket '$SOCK' arp -a | grep -q '198.18.0.77 '"

# Routes change where our own traffic goes: without the default route 198.19.5.5 is
# unreachable; with a route via Linux our echo request reaches Linux's link.
check "route delete (default)" ctl route delete 0.0.0.0/0
check "no route: ping says net unreachable" sh -c "'$BURST' ctl --socket '$SOCK' ping -c 1 198.19.5.5 | grep -q 'net unreachable'"
check "route add 198.19.0.0/16 via Linux" ctl route add 198.19.0.0/16 via 198.18.0.1 metric 5
check "route print shows it" sh -c "'$BURST' ctl --socket '$SOCK' route print | grep '198.19.0.0' | grep -q '198.18.0.1'"
timeout 10 ip netns exec "$NS" tcpdump -i eth0 -n -c 1 -w "$work/routed.pcap" 'icmp and dst host 198.19.5.5' 2>"$work/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 1 50); do grep -q listening "$work/tcpdump.err" && break; sleep 0.1; done
ctl ping -c 1 -W 1 198.19.5.5 >/dev/null 2>&1
wait $tcpdump_pid
check "our echo to 198.19.5.5 went out via Linux" sh -c "tcpdump -r '$work/routed.pcap' -n 2>/dev/null | grep -q '198.19.5.5'"
check "route delete 198.19.0.0/16" ctl route delete 198.19.0.0/16
check "deleted: net unreachable again" sh -c "'$BURST' ctl --socket '$SOCK' ping -c 1 198.19.5.5 | grep -q 'net unreachable'"

# UDP: the simple services (enabled in configs/host.toml) and a closed port.
check "UDP echo (nc -u) returns the same bytes" \
  sh -c "[ \"\$(echo 'hello burst' | ip netns exec $NS nc -u -w 1 198.18.0.2 7)\" = 'hello burst' ]"
check "daytime answers" sh -c "echo x | ip netns exec $NS nc -u -w 1 198.18.0.2 13 | grep -q UTC"
check "quote of the day answers" sh -c "echo x | ip netns exec $NS nc -u -w 1 198.18.0.2 17 | grep -q ."
check "chargen answers" sh -c "echo x | ip netns exec $NS nc -u -w 1 198.18.0.2 19 | grep -qF '!\"#\$%'"
check "closed UDP port: Linux reports connection refused" ip netns exec "$NS" /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(('198.18.0.2', 4444))
s.send(b'x')
try:
    s.recv(10)
except ConnectionRefusedError:
    raise SystemExit(0)
raise SystemExit('no ICMP port unreachable')
"

check "netstat -s sums the UDP counters" sh -c "'$BURST' ctl --socket '$SOCK' netstat -s | grep -A8 'UDP Statistics' | grep -E 'in_datagrams +=' | grep -qv '= 0'"
check "netstat -r lists the routes" sh -c "'$BURST' ctl --socket '$SOCK' netstat -r | grep -q 'On-link'"

# Multicast: a datagram to the group burst joined is received, one to another group dropped;
# an IGMP query from Linux (scapy) is answered within its max response time (2 s).
mcast() {
  ip netns exec "$NS" /usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('198.18.0.1'))
s.sendto(b'to the group', ('$1', 9))
"
}
counter() { "$BURST" ctl --socket "$SOCK" netstat -s | awk -v k="$1" '$1 == k {print $3; exit}'; }
mcast 239.1.2.3; mcast 239.1.2.3; mcast 239.9.9.9
sleep 0.3
mi=$(counter multicast_in); dn=$(counter drop_not_member)
check "datagrams to the joined group 239.1.2.3 are received ($mi)" test "${mi:-0}" -ge 2
check "datagrams to a group nobody joined are dropped ($dn)" test "${dn:-0}" -ge 1
check "ctl igmp lists the group" sh -c "'$BURST' ctl --socket '$SOCK' igmp | grep -q 239.1.2.3"
timeout 5 ip netns exec "$NS" tcpdump -l -i eth0 -n -c 1 'igmp and src host 198.18.0.2' >"$work/igmp.txt" 2>"$work/igmp.err" &
tcpdump_pid=$!
for _ in $(seq 1 50); do grep -q listening "$work/igmp.err" && break; sleep 0.1; done
ip netns exec "$NS" /usr/bin/python3 -c "
from scapy.all import Ether, IP, IPOption_Router_Alert, sendp, conf
from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mq
conf.verb = 0
q = Ether(dst='01:00:5e:00:00:01') / IP(src='198.18.0.1', dst='224.0.0.1', ttl=1, options=[IPOption_Router_Alert()]) / IGMPv3(type=0x11, mrcode=20) / IGMPv3mq(gaddr='0.0.0.0')
sendp(q, iface='eth0')
" 2>>"$work/check.log"
start_q=$(date +%s.%N)
wait $tcpdump_pid
end_q=$(date +%s.%N)
check "IGMP query answered by a report for 239.1.2.3" grep -q "igmp v3 report" "$work/igmp.txt"
check "... within the 2 s max response time" awk -v a="$start_q" -v b="$end_q" 'BEGIN { exit !((b - a) <= 2.5) }'

# Both workers served traffic (RSS / af_packet fanout spread the flows over both queues).
ip netns exec "$NS" ping -c 20 -i 0.01 -W 1 198.18.0.2 >/dev/null 2>&1
for i in 1 2 3 4 5 6; do ip netns exec "$NS" ping -c 2 -i 0.01 -W 1 -I "198.18.0.1" 198.18.0.2 >/dev/null 2>&1; done
ctl stats >"$work/stats.txt"
check "core 0 received frames" sh -c "awk '/^core 0:/{f=1} f && /l2.rx_frames/{print \$2; exit}' '$work/stats.txt' | grep -qv '^0$'"
check "core 1 received frames" sh -c "awk '/^core 1:/{f=1} f && /l2.rx_frames/{print \$2; exit}' '$work/stats.txt' | grep -qv '^0$'"

leak_check "$base"
check "SIGTERM stops burst cleanly" stop
check "control socket removed" test ! -e "$SOCK"

# Fragments: over AF_XDP (af_packet makes the kernel defragment, docs/ports.md) a 4000-byte
# ping crosses the link as three fragments each way; burst reassembles Linux's and fragments
# its own.
# The EAL's main lcore is put on the worker's CPU (`-l 1`, as configs/bench-router.toml does):
# the threads that are not workers must still keep off it.
sed -e "s/iface=blh0/iface=$IF/" -e "s|/run/burst/host-xdp.sock|$SOCK|" -e "s/burst-host-xdp/burst-x$LAB_PREFIX/" \
  -e 's/^  "--no-huge",/  "-l", "1", "--no-huge",/' configs/host-xdp.toml >"$work/host.toml"
grep -q '"-l", "1"' "$work/host.toml" || { echo "configs/host-xdp.toml: args line not found"; exit 1; }
start || exit 1
# Thread placement (2 CPUs or more: the worker takes the last, the others keep the rest):
# every burst thread but the worker is off the worker's CPU, including a control-socket
# connection thread caught while `ctl ping` runs.
threads() {
  local t
  for t in /proc/"$pid"/task/*; do
    printf '%s %s\n' "$(cat "$t/comm" 2>/dev/null)" "$(awk '/^Cpus_allowed_list/ {print $2}' "$t/status" 2>/dev/null)"
  done
}
if [ "$(nproc)" -ge 2 ]; then
  wcpu=$(($(nproc) - 1))
  ctl ping -c 8 -i 0.2 198.18.0.1 >/dev/null 2>&1 &
  cping=$!
  for _ in $(seq 1 30); do threads >"$work/threads.txt"; grep -q '^burst-ctl-conn ' "$work/threads.txt" && break; sleep 0.05; done
  wait "$cping"
  check "placement: the worker alone on CPU $wcpu, the control threads (socket connection included) off it" \
    awk -v w="$wcpu" '
      $1 ~ /^burst-worker/ { worker = ($2 == w) }
      $1 ~ /^burst-/ && $1 !~ /^burst-worker/ {
        n = split($2, parts, ",")
        for (i = 1; i <= n; i++) { split(parts[i], r, "-"); hi = (r[2] == "" ? r[1] : r[2]); if (w >= r[1] && w <= hi) bad = 1 }
        if ($1 == "burst-ctl-conn") conn = 1
        others++
      }
      END { exit !(worker && conn && others >= 3 && !bad) }' "$work/threads.txt"
fi
sleep 0.5
base=$(pools)
check "Linux's 4000-byte ping is answered (fragmented both ways, AF_XDP)" ip netns exec "$NS" ping -c 2 -i 0.3 -W 2 -s 4000 198.18.0.2
check "burst's own 4000-byte ping to Linux works" ctl ping -c 2 -s 4000 198.18.0.1
ro=$(counter reasm_oks); fc=$(counter fragments_created)
check "burst reassembled Linux's fragments ($ro datagrams)" test "${ro:-0}" -ge 4
check "burst fragmented its own datagrams ($fc fragments)" test "${fc:-0}" -ge 12
check "ping -M do -s 4000: fragmentation needed reported locally" sh -c "'$BURST' ctl --socket '$SOCK' ping -c 1 -s 4000 -M do 198.18.0.1 | grep -q 'needs to be fragmented'"
leak_check "$base"
stop >/dev/null 2>&1
sed -e "s/iface=blh0/iface=$IF/" -e "s|/run/burst/host.sock|$SOCK|" -e "s/burst-host/burst-$LAB_PREFIX/" \
  configs/host.toml >"$work/host.toml"

# Duplicate address: Linux already holds 198.18.0.2.
ip -n "$NS" addr add 198.18.0.2/24 dev eth0
start || exit 1
check "conflict detected and the other MAC logged ($peer_mac)" \
  sh -c "grep 'address conflict' '$work/burst.log' | grep -qi '$peer_mac'"
check "the conflicting address is not answered" sh -c "! ip netns exec $NS arping -c 2 -w 2 -I eth0 -s 198.18.0.1 198.18.0.2 2>/dev/null | grep -qi '$our_mac'"
stop >/dev/null 2>&1

echo
if [ "$fails" -eq 0 ]; then echo "smoke-host: all checks passed"; else echo "smoke-host: $fails check(s) failed"; fi
[ "$fails" -eq 0 ]
