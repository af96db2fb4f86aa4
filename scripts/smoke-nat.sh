#!/usr/bin/env bash
# shellcheck disable=SC2016 # awk programs are single-quoted on purpose
# burst as a NAT router (NAPT masquerading to its own outside address, a port forward, the
# stateful firewall on the outside port) between two Linux inside hosts and one outside host,
# each in its own network namespace; then the same traffic through a Linux router namespace
# doing nftables masquerade, and the two session lists compared. Checks, each a PASS/FAIL line:
#   ping, traceroute (hop 1 burst, hop 2 B's translated port unreachable), UDP echo, UDP to a
#   closed port refused (translated ICMP error), 100 MiB TCP byte-exact, curl A -> B; B sees
#   only the pool address (tcpdump); RFC 4787: one inside port to two destinations keeps its
#   public port; address- and port-dependent filtering (B from another port does not reach A);
#   hairpinning between A and A2 through their public endpoints; a port forward (B curls the
#   public address, A's server answers); the firewall drops unsolicited inbound (counted), an
#   exception lets it in; `ctl nat`, `ctl conntrack`, `ctl trace` (firewall-hook verdict); a
#   flood of unique flows fills a worker's table (refusals counted, an established session
#   keeps working, resident memory flat);
#   `conntrack -L` of the Linux masquerade vs `ctl conntrack` for the same UDP, ICMP and TCP
#   flows (TCP with its state: a connection closed, one reset, one open); no buffer
#   leaked; SIGTERM.
# Needs root. Creates and removes its own namespaces, bridge and veths (prefix SMOKE_NAT_PREFIX).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

P=${SMOKE_NAT_PREFIX:-sn$$}
P=${P:0:6}
A=${P}a
A2=${P}a2
B=${P}b
LR=${P}lr
LA=${P}la
LB=${P}lb
work=$(mktemp -d)
SOCK=$work/burst.sock
BURST=${BURST:-target/release/burst}
PY=/usr/bin/python3
pid=""
bg_pids=()
fails=0
total=0

cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  for ns in "$A" "$A2" "$B" "$LR" "$LA" "$LB"; do ip netns del "$ns" 2>/dev/null; done
  for l in "${P}r0" "${P}r1" "${P}s0" "${P}s1" "${P}s2" "${P}br"; do ip link del "$l" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { total=$((total + 1)); echo "PASS $*"; }
fail() { total=$((total + 1)); echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >>"$work/check.log" 2>&1; then pass "$what"; else fail "$what"; tail -5 "$work/check.log"; fi; }
ctl() { "$BURST" ctl --socket "$SOCK" "$@"; }
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
listening() { ip netns exec "$1" ss -Hl "sport = :$2" | grep -q .; }
# listening_at NS ADDR PORT: a socket bound to ADDR:PORT listens (each of several servers).
listening_at() { ip netns exec "$1" ss -Hln "sport = :$3" | grep -qF " $2:$3 "; }
stat_sum() { ctl stats | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }
pools() {
  ctl stats 2>/dev/null | awk '/^pool/ { name = $0; sub(/:$/, "", name); next } /^[^ ]/ { name = "" } name != "" && $1 == "in_use" { printf "%s%s=%s", sep, name, $2; sep = ", " }'
}

# ns NAME: a namespace with lo up and IPv6 off.
ns() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
}
# veth LOCAL NS ADDR [GW]: LOCAL in the root namespace, eth0 in NS with ADDR.
veth() {
  ip link add "$1" type veth peer name eth0 netns "$2"
  ip link set "$1" up
  ethtool -K "$1" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
  sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" 2>/dev/null || true
  ip -n "$2" link set eth0 up
  ip netns exec "$2" ethtool -K eth0 tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
  [ -n "$3" ] && ip -n "$2" addr add "$3" dev eth0
  if [ -n "${4:-}" ]; then ip -n "$2" route add default via "$4"; fi
}

# Inside: A 198.18.1.1 and A2 198.18.1.2 on a bridge with burst's port a (r0 <-> s0).
# Outside: B 198.18.2.1 and .2 on burst's port b, with no route to the inside: it can only
# ever answer the public address.
ns "$A"; ns "$A2"; ns "$B"
ip link add "${P}br" type bridge
ip link set "${P}br" up
ip link add "${P}r0" type veth peer name "${P}s0"
for l in "${P}r0" "${P}s0"; do
  ip link set "$l" up
  ethtool -K "$l" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
  sysctl -qw "net.ipv6.conf.$l.disable_ipv6=1" 2>/dev/null || true
done
ip link set "${P}s0" master "${P}br"
veth "${P}s1" "$A" 198.18.1.1/24 198.18.1.254
veth "${P}s2" "$A2" 198.18.1.2/24 198.18.1.254
ip link set "${P}s1" master "${P}br"
ip link set "${P}s2" master "${P}br"
veth "${P}r1" "$B" 198.18.2.1/24
ip -n "$B" addr add 198.18.2.2/24 dev eth0

cat >"$work/nat.toml" <<EOF
[backend]
kind = "dpdk"
[eal]
args = ["--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "512",
  "--file-prefix=burst-$P",
  "--vdev=net_af_packet0,iface=${P}r0,qpairs=2",
  "--vdev=net_af_packet1,iface=${P}r1,qpairs=2"]
cores = 2
[[port]]
name = "a"
device = "net_af_packet0"
addresses = ["198.18.1.254/24"]
offloads = false
[[port]]
name = "b"
device = "net_af_packet1"
addresses = ["198.18.2.254/24"]
offloads = false
[ipv4]
forwarding = true
[services]
echo = true
[nat]
outside = ["b"]
pool = ["198.18.2.254"]
[[port_forward]]
proto = "tcp"
outside = "198.18.2.254:8080"
inside = "198.18.1.1:80"
[firewall]
ports = ["b"]
[conntrack]
max_sessions = 4096
[control]
socket = "$SOCK"
EOF

"$BURST" run -c "$work/nat.toml" >"$work/burst.log" 2>&1 &
pid=$!
ready() {
  kill -0 "$pid" 2>/dev/null || { echo "burst exited"; return 0; }
  [ "$(grep -c 'address ready' "$work/burst.log")" -ge 2 ] && ctl stats >/dev/null 2>&1
}
if ! wait_for 300 ready || ! kill -0 "$pid" 2>/dev/null; then
  echo "burst did not start:"; cat "$work/burst.log"; exit 1
fi
sleep 0.5
base=$(pools)

# Everything B receives, to check that no inside address ever reaches it.
ip netns exec "$B" tcpdump -n -i eth0 -w "$work/b.pcap" -U ip >/dev/null 2>&1 &
bg_pids+=($!)
sleep 0.5

check "ping A -> B through the NAT" ip netns exec "$A" ping -c 3 -i 0.2 -W 1 198.18.2.1
check "ping A2 -> B through the NAT" ip netns exec "$A2" ping -c 2 -i 0.2 -W 1 198.18.2.1

ip netns exec "$A" traceroute -n -q 1 -N 1 -w 1 -m 4 198.18.2.1 >"$work/traceroute.txt" 2>&1
cat "$work/traceroute.txt" >>"$work/check.log"
check "traceroute A -> B: hop 1 is burst (198.18.1.254)" awk '$1 == 1 && $2 == "198.18.1.254" { ok = 1 } END { exit !ok }' "$work/traceroute.txt"
check "traceroute A -> B: hop 2 is B (its port unreachable translated back)" awk '$1 == 2 && $2 == "198.18.2.1" { ok = 1 } END { exit !ok }' "$work/traceroute.txt"

# A UDP server in B reporting the source it sees, on both of B's addresses.
cat >"$work/udp_server.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(("%s:%d" % peer).encode(), peer)
EOF
for addr in 198.18.2.1 198.18.2.2; do
  ip netns exec "$B" "$PY" "$work/udp_server.py" "$addr" 9999 2>>"$work/check.log" &
  bg_pids+=($!)
done
for addr in 198.18.2.1 198.18.2.2; do wait_for 100 listening_at "$B" "$addr" 9999; done
# One inside socket (port 40000) to both destinations: the public endpoint each sees.
cat >"$work/udp_client.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(2)
out = []
for dst in sys.argv[2:]:
    s.sendto(b"who am i", (dst, 9999))
    try:
        out.append(s.recvfrom(2048)[0].decode())
    except socket.timeout:
        out.append("timeout")
print(" ".join(out))
EOF
seen=$(ip netns exec "$A" "$PY" "$work/udp_client.py" 40000 198.18.2.1 198.18.2.2)
echo "A:40000 seen by B as: $seen" >>"$work/check.log"
check "UDP through the NAT: B sees 198.18.2.254:40000 (port preserved)" test "${seen%% *}" = "198.18.2.254:40000"
check "RFC 4787 REQ-1: same inside port to two destinations keeps its mapping ($seen)" test "$seen" = "198.18.2.254:40000 198.18.2.254:40000"

# UDP to a closed port: B's port unreachable reaches A translated (connected socket refused).
cat >"$work/refused.py" <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("198.18.2.1", 9))
s.send(b"x")
try:
    s.recv(100)
except ConnectionRefusedError:
    raise SystemExit(0)
raise SystemExit(1)
EOF
check "UDP to B's closed port: ICMP port unreachable translated back (ECONNREFUSED)" ip netns exec "$A" "$PY" "$work/refused.py"

# Filtering (address- and port-dependent): B from another port to A's public endpoint does not
# reach A's socket.
cat >"$work/listen_once.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
try:
    print(s.recvfrom(2048)[1])
except socket.timeout:
    print("nothing")
EOF
ip netns exec "$A" "$PY" "$work/listen_once.py" 40000 3 >"$work/filtered.txt" &
lpid=$!
sleep 0.5
ip netns exec "$B" "$PY" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("198.18.2.1", 5555)); s.sendto(b"unsolicited", ("198.18.2.254", 40000))'
wait "$lpid"
check "filtering: B from port 5555 to A's mapping 198.18.2.254:40000 does not reach A" grep -qx nothing "$work/filtered.txt"

# Hairpinning: A (port 41000) and A2 (port 41001) first learn their public endpoints from B's
# server (which opens their mappings, as a rendezvous server would), then reach each other at
# them (each sends first: address- and port-dependent filtering lets the other's packet in then).
cat >"$work/hairpin.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(1)
s.sendto(b"who am i", ("198.18.2.1", 9999))
print("public endpoint", s.recvfrom(100)[0].decode())
s.settimeout(0.3)
peer = ("198.18.2.254", int(sys.argv[2]))
for _ in range(15):
    s.sendto(b"hello from %s" % sys.argv[1].encode(), peer)
    try:
        data, src = s.recvfrom(100)
        print("%s:%d %s" % (src[0], src[1], data.decode()))
        s.sendto(b"bye", peer)
        raise SystemExit(0)
    except socket.timeout:
        pass
print("nothing")
raise SystemExit(1)
EOF
ip netns exec "$A2" "$PY" "$work/hairpin.py" 41001 41000 >"$work/hairpin2.txt" &
hp=$!
ip netns exec "$A" "$PY" "$work/hairpin.py" 41000 41001 >"$work/hairpin1.txt"
wait "$hp"
cat "$work/hairpin1.txt" "$work/hairpin2.txt" >>"$work/check.log"
check "hairpinning: A hears A2 from its public endpoint 198.18.2.254:41001" grep -q '^198.18.2.254:41001 ' "$work/hairpin1.txt"

# 100 MiB over TCP A -> B, byte-exact.
head -c 104857600 /dev/urandom >"$work/100M"
timeout 150 ip netns exec "$B" nc -l -p 5001 -d >"$work/100M.recv" 2>>"$work/check.log" &
nc_pid=$!
bg_pids+=($nc_pid)
if wait_for 50 listening "$B" 5001; then
  t0=$(date +%s.%N)
  timeout 120 ip netns exec "$A" nc -N -w 10 198.18.2.1 5001 <"$work/100M" 2>>"$work/check.log"
  rc=$?
  t1=$(date +%s.%N)
  [ "$rc" -eq 0 ] || kill "$nc_pid" 2>/dev/null
  wait "$nc_pid" 2>/dev/null
  sent=$(sha256sum <"$work/100M" | cut -d' ' -f1)
  got=$(sha256sum <"$work/100M.recv" | cut -d' ' -f1)
  rate=$(awk -v a="$t0" -v b="$t1" 'BEGIN { s = b - a; printf "%.1f s, %.0f Mbit/s", s, 104857600 * 8 / s / 1e6 }')
  check "100 MiB nc A -> B through the NAT byte-exact (sender rc $rc, $rate)" test "$rc" -eq 0 -a "$sent" = "$got"
else
  fail "100 MiB nc A -> B: nc in B did not listen"
fi
rm -f "$work/100M" "$work/100M.recv"

# HTTP both ways: A -> B, and B -> the port forward 198.18.2.254:8080 -> A:80.
mkdir -p "$work/wwwb" "$work/wwwa"
echo "hello from B" >"$work/wwwb/index.html"
echo "hello from A behind the NAT" >"$work/wwwa/index.html"
ip netns exec "$B" "$PY" -m http.server 80 --bind 198.18.2.1 --directory "$work/wwwb" >/dev/null 2>&1 &
bg_pids+=($!)
ip netns exec "$A" "$PY" -m http.server 80 --bind 198.18.1.1 --directory "$work/wwwa" >/dev/null 2>&1 &
bg_pids+=($!)
wait_for 100 listening "$B" 80
wait_for 100 listening "$A" 80
check "curl A -> http://198.18.2.1/" sh -c "ip netns exec $A curl -sS --max-time 5 http://198.18.2.1/ | grep -q 'hello from B'"
check "port forward: curl B -> http://198.18.2.254:8080/ reaches A's server" sh -c "ip netns exec $B curl -sS --max-time 5 http://198.18.2.254:8080/ | grep -q 'behind the NAT'"

# The firewall on b: burst's own UDP echo service (port 7) is not reachable from outside until
# an exception lets it in.
echo_b() { ip netns exec "$B" "$PY" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); s.sendto(b"echo?", ("198.18.2.254", 7)); s.recv(100)' 2>/dev/null; }
d0=$(stat_sum fw.drop_inbound)
no_echo_b() { ! echo_b; }
check "firewall: B -> burst's UDP echo is dropped silently" no_echo_b
d1=$(stat_sum fw.drop_inbound)
check "firewall: counted in fw.drop_inbound ($d0 -> $d1)" test "$d1" -gt "$d0"
check "firewall add b --proto udp --dport 7" ctl firewall add b --proto udp --dport 7
check "firewall: the exception lets B's echo in (and its answer out)" echo_b
ctl firewall list >"$work/fw.txt" 2>&1
sed 's/^/  /' "$work/fw.txt"
check "firewall list shows the exception with hits > 0" awk '/--dport 7/ && $NF > 0 { ok = 1 } END { exit !ok }' "$work/fw.txt"

# ctl nat / conntrack / trace.
ctl nat >"$work/nat.txt" 2>&1
sed 's/^/  /' "$work/nat.txt" | head -30
check "ctl nat lists the pool and a mapping for 198.18.1.1:40000" grep -q '198.18.1.1:40000 *198.18.2.254:40000' "$work/nat.txt"
ctl conntrack >"$work/ct.txt" 2>"$work/ct.err"
check "ctl conntrack lists translated sessions" grep -q 'src=198.18.1.1 .*dst=198.18.2.254.*\[NAT\]' "$work/ct.txt"
ip netns exec "$A" ping -c 20 -i 0.2 -W 1 198.18.2.1 >/dev/null 2>&1 &
ping_pid=$!
ctl trace 2 -w 5 >"$work/trace.txt" 2>&1
kill "$ping_pid" 2>/dev/null; wait "$ping_pid" 2>/dev/null
sed 's/^/  /' "$work/trace.txt"
check "ctl trace shows the firewall-hook translating" grep -q 'firewall-hook: translated' "$work/trace.txt"

# Bounded memory: a flood of 12,000 unique flows from A:40000 (all on the worker that owns
# public port 40000) fills that worker's table (max_sessions = 4096), the refusals are counted,
# A:40000's established session to B:9999 keeps working, and burst's resident memory does not
# grow with the flood.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
full0=$(stat_sum conntrack.drop_full)
rss0=$(rss)
ip netns exec "$A" "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 40000))
for i in range(12000):
    s.sendto(b"flood", ("198.18.2.2", 10000 + i))
'
sleep 1
full1=$(stat_sum conntrack.drop_full)
sess=$(ctl stats | awk '$1 == "conntrack.sessions" && $2 > m { m = $2 } END { print m + 0 }')
rss1=$(rss)
check "flood of unique flows: one worker's table full at 4096 sessions ($sess), refusals counted in conntrack.drop_full ($full0 -> $full1)" test "$sess" -eq 4096 -a "$full1" -gt "$full0"
seen=$(ip netns exec "$A" "$PY" "$work/udp_client.py" 40000 198.18.2.1)
check "flood: the established session A:40000 -> B:9999 still works ($seen)" test "$seen" = "198.18.2.254:40000"
check "flood: burst's resident memory did not grow (VmRSS ${rss0} kB -> ${rss1} kB)" test "$((rss1 - rss0))" -lt 2048

# B never saw an inside address.
kill "${bg_pids[0]}" 2>/dev/null; wait "${bg_pids[0]}" 2>/dev/null
inside=$(tcpdump -n -r "$work/b.pcap" 2>/dev/null | grep -c '198\.18\.1\.' )
seenp=$(tcpdump -n -r "$work/b.pcap" 2>/dev/null | grep -c '198\.18\.2\.254')
check "B saw only the pool address ($seenp packets from/to 198.18.2.254, $inside with an inside address)" test "$inside" -eq 0 -a "$seenp" -gt 0

ctl stats >"$work/stats.txt"
echo "non-zero nat./fw./conntrack. counters (all cores):"
awk '$1 ~ /^(nat|fw|conntrack)\./ && $2 != 0 { s[$1] += $2 } END { for (k in s) printf "  %-32s %d\n", k, s[k] }' "$work/stats.txt" | sort

# ---- Differential: the same UDP, ICMP and TCP flows through Linux's own NAT (nftables
# masquerade) ----
# A TCP server answering each line and closing when its peer does; a client from a fixed
# source port that sends a line, reads the answer and then closes (FINs both ways:
# TIME_WAIT), resets (SO_LINGER 0: CLOSE) or stays open (ESTABLISHED) until killed.
cat >"$work/tcp_server.py" <<'EOF'
import socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
def serve(c):
    with c:
        while True:
            data = c.recv(2048)
            if not data:
                return
            c.sendall(data)
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
EOF
cat >"$work/tcp_client.py" <<'EOF'
import socket, struct, sys, time
sport, dst, dport, mode = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", sport))
s.settimeout(3)
s.connect((dst, dport))
s.sendall(b"hello\n")
print(s.recv(2048).decode().strip(), flush=True)
if mode == "reset":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
elif mode == "close":
    s.shutdown(socket.SHUT_WR)
    s.recv(2048)
    s.close()
else:
    time.sleep(60)
EOF
if command -v conntrack >/dev/null && command -v nft >/dev/null; then
  ns "$LR"; ns "$LA"; ns "$LB"
  ip link add eth1 netns "$LR" type veth peer name eth0 netns "$LA"
  ip link add eth2 netns "$LR" type veth peer name eth0 netns "$LB"
  ip -n "$LR" addr add 198.18.1.254/24 dev eth1
  ip -n "$LR" addr add 198.18.2.254/24 dev eth2
  ip -n "$LA" addr add 198.18.1.1/24 dev eth0
  ip -n "$LB" addr add 198.18.2.1/24 dev eth0
  ip -n "$LB" addr add 198.18.2.2/24 dev eth0
  for n in "$LR:eth1" "$LR:eth2" "$LA:eth0" "$LB:eth0"; do ip -n "${n%%:*}" link set "${n##*:}" up; done
  ip -n "$LA" route add default via 198.18.1.254
  ip netns exec "$LR" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$LR" nft -f - <<'EOF'
table ip nat {
  chain post { type nat hook postrouting priority srcnat; oifname "eth2" masquerade; }
}
EOF
  for addr in 198.18.2.1 198.18.2.2; do
    ip netns exec "$LB" "$PY" "$work/udp_server.py" "$addr" 9999 2>>"$work/check.log" &
    bg_pids+=($!)
  done
  for addr in 198.18.2.1 198.18.2.2; do wait_for 100 listening_at "$LB" "$addr" 9999; done
  for n in "$B" "$LB"; do
    ip netns exec "$n" "$PY" "$work/tcp_server.py" 198.18.2.1 9998 2>>"$work/check.log" &
    bg_pids+=($!)
  done
  for n in "$B" "$LB"; do wait_for 100 listening_at "$n" 198.18.2.1 9998; done
  # Fresh sessions on burst too: flush, then the same flows through both.
  ctl conntrack flush >/dev/null
  sleep 0.5
  flows() {
    ip netns exec "$1" "$PY" "$work/udp_client.py" 42000 198.18.2.1 198.18.2.2 >/dev/null
    ip netns exec "$1" "$PY" "$work/udp_client.py" 42001 198.18.2.1 >/dev/null
    ip netns exec "$1" ping -c 1 -W 1 198.18.2.2 >/dev/null
    # TCP: one connection closed by FINs, one reset, one left open.
    ip netns exec "$1" "$PY" "$work/tcp_client.py" 42010 198.18.2.1 9998 close >>"$work/tcp.$1" 2>&1
    ip netns exec "$1" "$PY" "$work/tcp_client.py" 42011 198.18.2.1 9998 reset >>"$work/tcp.$1" 2>&1
    ip netns exec "$1" "$PY" "$work/tcp_client.py" 42012 198.18.2.1 9998 open >>"$work/tcp.$1" 2>&1 &
    bg_pids+=($!)
    wait_for 50 test "$(grep -c hello "$work/tcp.$1" 2>/dev/null)" -eq 3
  }
  # Normalised: protocol (TCP: and its state), original destination and ports (or icmp),
  # reply destination address (the public address) and port (the public port): one line per
  # session.
  norm() { awk '{
      p = $1; s = ""; for (i = 1; i <= NF; i++) if ($i ~ /^(src|dst|sport|dport)=/) s = s " " $i
      n = split(s, f, " ")
      # first tuple: src dst sport dport; second: src dst sport dport
      if (p == "icmp") { print p, f[2], f[4]; next }
      if (p == "tcp") p = p " " $4
      print p, f[2], f[3], f[4], f[6], f[8]
    }' | sed 's/src=//g; s/dst=//g; s/sport=//g; s/dport=//g' | sort; }
  # Each listed half a second after its flows (the last FIN's ACK and the reset arrived; a
  # reset session lives 10 s on both).
  flows "$A"
  sleep 0.5
  ctl conntrack -s 198.18.1.1 2>/dev/null | grep -E '^(udp|icmp|tcp) ' | grep -v ':9\b' | norm >"$work/ct.burst"
  flows "$LA"
  sleep 0.5
  ip netns exec "$LR" conntrack -L 2>/dev/null | grep -E '^(udp|icmp|tcp) ' | grep 'src=198.18.1.1 ' | norm >"$work/ct.linux"
  check "TCP through burst and through Linux: three connections answered on each" \
    test "$(grep -c hello "$work/tcp.$A")" -eq 3 -a "$(grep -c hello "$work/tcp.$LA")" -eq 3
  echo "  burst ctl conntrack (normalised):"; sed 's/^/    /' "$work/ct.burst"
  echo "  linux conntrack -L (normalised):"; sed 's/^/    /' "$work/ct.linux"
  check "differential: burst's sessions equal Linux masquerade's for the same flows (UDP, ICMP, TCP with states)" diff "$work/ct.burst" "$work/ct.linux"
  check "differential: three TCP sessions compared, closed, reset and open (TIME_WAIT, CLOSE, ESTABLISHED)" \
    test "$(grep -cE '^tcp (TIME_WAIT|CLOSE|ESTABLISHED) ' "$work/ct.burst")" -eq 3
else
  fail "differential check: conntrack (conntrack-tools) or nft missing (scripts/setup.sh installs them)"
fi

stop() {
  kill -TERM "$pid" || return 1
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "burst still running 10 s after SIGTERM"; return 1; fi
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  return $rc
}
now=""
for _ in $(seq 1 50); do now=$(pools); [ "$now" = "$base" ] && break; sleep 0.2; done
check "no buffer leaked: pool in use back at its baseline ($base -> $now)" test -n "$base" -a "$now" = "$base"
check "SIGTERM stops burst cleanly within 10 s" stop
check "control socket removed" test ! -e "$SOCK"

echo
if [ "$fails" -eq 0 ]; then echo "smoke-nat: all checks passed ($total/$total PASS)"; else echo "smoke-nat: $fails check(s) failed ($((total - fails))/$total PASS)"; fi
[ "$fails" -eq 0 ]
