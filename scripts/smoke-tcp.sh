#!/usr/bin/env bash
# shellcheck disable=SC2016 # awk programs are single-quoted on purpose
# burst's TCP against the Linux kernel (issue 6 interop acceptance), on the lab "host" topology
# with burst running configs/host.toml (2 workers, af_packet). Checks, each with a PASS/FAIL line:
#   HTTP: curl gets the configured body, reuses one keep-alive connection for several URLs,
#   404 for another path, `Connection: close` answered and then closed by burst; daytime and
#   qotd over TCP; 100 MiB (SMOKE_TCP_MIB) through the echo service both ways at once, sha256 of
#   sent == received, throughput printed; 100 MiB pushed into discard; a chargen read checked
#   against the RFC 864 line pattern; the same echo under impairment (1 % and 5 % random loss
#   each way, 5 ms delay each way, 5 ms + 0..2 ms jitter each way, which reorders), each bounded
#   by SMOKE_TCP_IMPAIRED_TIMEOUT (300 s), printing throughput and both stacks' retransmission
#   counters; 200 concurrent connections (all ESTABLISHED at once in `netstat -a`, 4 KiB echoed
#   and verified on each) that all end, leaving only listeners and TIME_WAIT; `netstat -a` /
#   `netstat -s` sane; SIGTERM within a deadline, socket removed.
#
# Impairment: this kernel has no sch_netem (nor fq, etf or a BPF qdisc). The impaired transfers
# run from a second namespace (<P>cli, 198.19.0.2) routed through the peer namespace, and the
# peer's FORWARD path impairs them: nftables `numgen random mod 1000 < N drop` for loss, NFQUEUE
# (iptables) with a small Python delay line for delay and reordering. Not the sender's own
# output path: there a dropped packet is reported to Linux's TCP as a local transmit failure
# (retried at once, not a loss), and a queued one stays charged to the socket (TCP Small Queues
# then allow only two packets in flight).
#
# Needs root, nc (netcat-openbsd), curl, nft, iptables. Uses its own lab (SMOKE_TCP_PREFIX) and
# cleans up on every exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

P=${SMOKE_TCP_PREFIX:-st$$}
P=${P:0:8}
export LAB_PREFIX=$P
NS=${P}peer
IF=${P}h0
work=$(mktemp -d)
SOCK=$work/burst.sock
BURST=${BURST:-target/release/burst}
PY=/usr/bin/python3
MIB=${SMOKE_TCP_MIB:-100}
BYTES=$((MIB * 1048576))
IMPAIRED_TIMEOUT=${SMOKE_TCP_IMPAIRED_TIMEOUT:-300}
URL=http://198.18.0.2
CLI=${P}cli
pid=""
conns_pid=""
delay_pids=()
fails=0
total=0

cleanup() {
  [ -n "$conns_pid" ] && kill "$conns_pid" 2>/dev/null && wait "$conns_pid" 2>/dev/null
  for p in "${delay_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  # Deleting the namespaces removes their nftables and iptables rules too.
  ip netns del "$CLI" 2>/dev/null
  scripts/lab.sh down host >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { total=$((total + 1)); echo "PASS $*"; }
fail() { total=$((total + 1)); echo "FAIL $*"; fails=$((fails + 1)); }
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
inNS() { ip netns exec "$NS" "$@"; }
# Waits (at most $1 tenths of a second) until the rest of the line succeeds.
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
# One counter of `netstat -s` (summed over the cores); the first section naming it.
counter() { ctl netstat -s | awk -v k="$1" '$1 == k && !f { print $3; f = 1 }'; }
now_ns() { date +%s%N; }
# "<seconds> s, <MiB/s> MiB/s" for BYTES moved between two now_ns values.
rate() { awk -v a="$1" -v b="$2" -v n="$BYTES" 'BEGIN { s = (b - a) / 1e9; printf "%.2f s, %.1f MiB/s", s, n / 1048576 / s }'; }

# A configuration for this lab: the example host config with our interface, socket and EAL
# file prefix.
sed -e "s/iface=blh0/iface=$IF/" -e "s|/run/burst/host.sock|$SOCK|" -e "s/burst-host/burst-$P/" \
  configs/host.toml >"$work/host.toml"
# The HTTP body burst is configured to serve, byte for byte.
"$PY" -c 'import sys, tomllib; sys.stdout.write(tomllib.load(open(sys.argv[1], "rb"))["services"]["http_body"])' \
  "$work/host.toml" >"$work/body.expected" || exit 1

scripts/lab.sh up host >/dev/null || exit 1
"$BURST" run -c "$work/host.toml" >"$work/burst.log" 2>&1 &
pid=$!
ready() {
  kill -0 "$pid" 2>/dev/null || return 0
  grep -q 'address ready' "$work/burst.log" && ctl stats >/dev/null 2>&1
}
if ! wait_for 300 ready || ! kill -0 "$pid" 2>/dev/null; then
  echo "burst did not start:"; cat "$work/burst.log"; exit 1
fi
sleep 0.5
base=$(pools)

# --- 1. HTTP -----------------------------------------------------------------------------------
check "curl gets the configured HTTP body" \
  sh -c "ip netns exec $NS curl -sS --max-time 5 -o '$work/body.got' $URL/ && cmp '$work/body.expected' '$work/body.got'"
inNS curl -sv --max-time 5 -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' \
  "$URL/" "$URL/" "$URL/" >"$work/ka.out" 2>"$work/ka.err"
check "keep-alive: three GETs on one connection (num_connects $(tr '\n' ' ' <"$work/ka.out"))" \
  sh -c "[ \"\$(tr '\n' ' ' <'$work/ka.out')\" = '1 0 0 ' ] && grep -c 'Re-using existing connection' '$work/ka.err' | grep -qx 2"
check "another path: 404" sh -c "[ \"\$(ip netns exec $NS curl -s --max-time 5 -o /dev/null -w '%{http_code}' $URL/nope)\" = 404 ]"
cat >"$work/http_close.py" <<'EOF'
# GET with "Connection: close": a 200 carrying the body and "Connection: close", then burst
# closes (EOF within 5 s, before we close).
import socket, sys
body = open(sys.argv[1], "rb").read()
s = socket.create_connection(("198.18.0.2", 80), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: 198.18.0.2\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)  # socket.timeout if burst does not close
    if not chunk:
        break
    data += chunk
head, _, got = data.partition(b"\r\n\r\n")
lines = head.split(b"\r\n")
print(lines)
assert lines[0] == b"HTTP/1.1 200 OK", lines[0]
assert b"connection: close" in [l.lower() for l in lines[1:]], "no Connection: close header"
assert got == body, (got, body)
EOF
check "Connection: close answered, then burst closes the connection" \
  inNS timeout 10 "$PY" "$work/http_close.py" "$work/body.expected"
check "daytime over TCP" \
  sh -c "ip netns exec $NS timeout 5 nc -d 198.18.0.2 13 | tee /dev/stderr | grep -qE '^[A-Z][a-z]+day, [A-Z][a-z]+ [0-9]{1,2}, [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}-UTC'"
check "quote of the day over TCP" sh -c "ip netns exec $NS timeout 5 nc -d 198.18.0.2 17 | grep -q ."

# --- 2. Bulk transfers -------------------------------------------------------------------------
head -c "$BYTES" /dev/urandom >"$work/sent.bin"
sent_sum=$(sha256sum <"$work/sent.bin" | cut -d' ' -f1)
# Echo: nc sends the file and reads the echo at the same time; -N half-closes after the file,
# burst closes once it has echoed everything, nc exits at that EOF.
t0=$(now_ns); inNS timeout 60 nc -N 198.18.0.2 7 <"$work/sent.bin" >"$work/recv.bin"; rc=$?; t1=$(now_ns)
check "echo: $MIB MiB each way at once, sha256 equal (nc rc $rc; $(rate "$t0" "$t1") each way)" \
  sh -c "[ $rc = 0 ] && [ \"\$(sha256sum <'$work/recv.bin' | cut -d' ' -f1)\" = $sent_sum ]"
t0=$(now_ns); inNS timeout 60 nc -N 198.18.0.2 9 <"$work/sent.bin"; rc=$?; t1=$(now_ns)
check "discard: $MIB MiB pushed, burst closes after our FIN (nc rc $rc; $(rate "$t0" "$t1"))" test "$rc" = 0
cat >"$work/chargen.py" <<'EOF'
# Reads N bytes from chargen and compares them with RFC 864's pattern: 72-character lines of the
# 95 printable ASCII characters (space to tilde), line i starting at character i mod 95, CR LF.
import socket, sys
n = int(sys.argv[1])
ring = bytes(range(32, 127)) * 2
expected = bytearray()
i = 0
while len(expected) < n:
    expected += ring[i % 95:i % 95 + 72] + b"\r\n"
    i += 1
s = socket.create_connection(("198.18.0.2", 19), timeout=5)
got = bytearray()
while len(got) < n:
    chunk = s.recv(min(65536, n - len(got)))
    if not chunk:
        sys.exit("chargen closed after %d bytes" % len(got))
    got += chunk
s.close()
if got != expected[:n]:
    at = next(k for k in range(n) if got[k] != expected[k])
    sys.exit("pattern differs at byte %d: %r" % (at, bytes(got[at:at + 80])))
EOF
check "chargen: 4 MiB read, RFC 864 line pattern" inNS timeout 30 "$PY" "$work/chargen.py" 4194304

# --- 3. Echo under impairment ------------------------------------------------------------------
# A second Linux namespace (CLI, 198.19.0.2/24) routed through the peer namespace (198.19.0.1,
# forwarding on; burst's default route is 198.18.0.1). Impairing the peer's forward path hits
# only transit packets: a true wire loss or delay for both stacks (see the header).
inCLI() { ip netns exec "$CLI" "$@"; }
setup_router() {
  ip netns add "$CLI" &&
    ip -n "$NS" link add eth1 type veth peer name eth0 netns "$CLI" &&
    ip -n "$NS" addr add 198.19.0.1/24 dev eth1 && ip -n "$NS" link set eth1 up &&
    ip -n "$CLI" link set lo up && ip -n "$CLI" addr add 198.19.0.2/24 dev eth0 &&
    ip -n "$CLI" link set eth0 up && ip -n "$CLI" route add default via 198.19.0.1 &&
    inNS sysctl -qw net.ipv4.ip_forward=1 || return 1
  inNS ethtool -K eth1 tx off rx off sg off tso off gso off gro off >/dev/null 2>&1
  inCLI ethtool -K eth0 tx off rx off sg off tso off gso off gro off >/dev/null 2>&1
  inCLI curl -sS --max-time 5 -o /dev/null "$URL/"
}
check "a Linux client behind the peer namespace (routed) reaches burst" setup_router
cat >"$work/delay.py" <<'EOF'
# NFQUEUE delay line (no netem in this kernel): holds each packet of queue Q for DELAY ms plus a
# uniform random 0..JITTER ms (JITTER > 0 reorders), then accepts it. Raw nfnetlink; exits
# after SECONDS. Touches READY once bound.
import heapq, os, random, select, socket, struct, sys, time
q, delay, jitter = int(sys.argv[1]), float(sys.argv[2]) / 1e3, float(sys.argv[3]) / 1e3
end, ready = time.monotonic() + float(sys.argv[4]), sys.argv[5]
NFNL_SUBSYS_QUEUE, MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 3, 0, 1, 2
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
s.bind((0, 0))
def attr(t, payload):
    a = struct.pack("=HH", 4 + len(payload), t) + payload
    return a + b"\0" * (-len(a) % 4)
def msg(mtype, attrs, flags=1):  # NLM_F_REQUEST
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(q)) + attrs
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | mtype, flags, 0, 0) + body
def config(attrs):
    s.send(msg(MSG_CONFIG, attrs, 1 | 4))  # NLM_F_ACK
    err = struct.unpack_from("=i", s.recv(65536), 16)[0]
    if err:
        sys.exit("nfqueue %d config: %s" % (q, os.strerror(-err)))
config(attr(1, struct.pack("=BBH", 1, 0, 0)))  # NFQA_CFG_CMD: bind
config(attr(2, struct.pack(">IB", 0, 1)) + attr(3, struct.pack(">I", 100000)))  # metadata only; queue length
open(ready, "w").close()
held, n = [], 0
while time.monotonic() < end:
    now = time.monotonic()
    while held and held[0][0] <= now:
        s.send(msg(MSG_VERDICT, attr(2, struct.pack(">II", 1, heapq.heappop(held)[1]))))  # NF_ACCEPT
    if not select.select([s], [], [], held[0][0] - now if held else 0.1)[0]:
        continue
    while True:
        try:
            data = s.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
        off = 0
        while off + 20 <= len(data):
            ln, mtype = struct.unpack_from("=IH", data, off)
            a = off + 20
            while mtype == (NFNL_SUBSYS_QUEUE << 8) | MSG_PACKET and a + 8 <= off + ln:
                alen, atype = struct.unpack_from("=HH", data, a)
                if atype & 0x7fff == 1:  # NFQA_PACKET_HDR: packet id first
                    pid = struct.unpack_from(">I", data, a + 4)[0]
                    heapq.heappush(held, (time.monotonic() + delay + random.uniform(0, jitter), pid))
                    n += 1
                    break
                a += max(4, (alen + 3) & ~3)
            off += max(20, (ln + 3) & ~3)
print("queue %d delayed %d packets" % (q, n))
EOF
impair_on() { # kind (loss|delay) permille-or-delay-ms [jitter-ms]
  if [ "$1" = loss ]; then
    inNS nft -f - <<EOF
table inet smoketcp {
  chain forward {
    type filter hook forward priority -10; policy accept;
    ip saddr 198.18.0.2 tcp sport 7 numgen random mod 1000 < $2 counter drop
    ip daddr 198.18.0.2 tcp dport 7 numgen random mod 1000 < $2 counter drop
  }
}
EOF
  else
    local q
    for q in 1 2; do
      rm -f "$work/delay$q.ready"
      ip netns exec "$NS" timeout "$((IMPAIRED_TIMEOUT + 30))" "$PY" "$work/delay.py" "$q" "$2" "$3" "$((IMPAIRED_TIMEOUT + 20))" \
        "$work/delay$q.ready" >>"$work/check.log" 2>&1 &
      delay_pids+=($!) # (not through inNS: $! must be the process itself, not a subshell)
    done
    wait_for 50 test -e "$work/delay1.ready" -a -e "$work/delay2.ready" &&
      inNS iptables -A FORWARD -p tcp -s 198.18.0.2 --sport 7 -j NFQUEUE --queue-num 1 &&
      inNS iptables -A FORWARD -p tcp -d 198.18.0.2 --dport 7 -j NFQUEUE --queue-num 2
  fi
}
impair_off() {
  inNS nft delete table inet smoketcp 2>/dev/null
  inNS iptables -F FORWARD 2>/dev/null
  local p
  for p in "${delay_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  delay_pids=()
}
LINUX_COUNTERS='TcpRetransSegs|TcpExtTCPFastRetrans|TcpExtTCPTimeouts|TcpExtTCPSackRecovery|TcpExtTCPLostRetransmit|TcpExtTCPDSACKRecv|TcpExtTCPDSACKOldSent|TcpExtTCPSACKReorder|TcpExtTCPOFOQueue'
export NSTAT_HISTORY=$work/nstat.history # not the shared /tmp/.nstat.u0
# kind value [jitter] label
for run in "loss 10 - 1 % loss each way" "loss 50 - 5 % loss each way" \
  "delay 5 0 5 ms delay each way (RTT 10 ms)" "delay 5 2 5 ms + 0..2 ms jitter each way (reordering)"; do
  read -r kind value jitter label <<<"$run"
  if ! impair_on "$kind" "$value" "$jitter" >>"$work/check.log" 2>&1; then
    fail "echo with $label: could not set up the impairment"; tail -5 "$work/check.log"; impair_off; continue
  fi
  inCLI nstat -n
  r0=$(counter retrans_segs); i0=$(counter segs_in); o0=$(counter segs_out)
  rm -f "$work/recv.bin"
  t0=$(now_ns); inCLI timeout "$IMPAIRED_TIMEOUT" nc -N 198.18.0.2 7 <"$work/sent.bin" >"$work/recv.bin"; rc=$?; t1=$(now_ns)
  r1=$(counter retrans_segs); i1=$(counter segs_in); o1=$(counter segs_out)
  check "echo: $MIB MiB each way with $label, sha256 equal (nc rc $rc; $(rate "$t0" "$t1") each way)" \
    sh -c "[ $rc = 0 ] && [ \"\$(sha256sum <'$work/recv.bin' | cut -d' ' -f1)\" = $sent_sum ]"
  drops=""
  [ "$kind" = loss ] && drops="; nft dropped $(inNS nft list table inet smoketcp | grep -o 'packets [0-9]*' | cut -d' ' -f2 | paste -sd/) (burst's/Linux's)"
  echo "     burst: segs_in +$((i1 - i0)), segs_out +$((o1 - o0)), retrans_segs +$((r1 - r0))$drops"
  echo "     Linux: $(inCLI nstat | grep -E "^($LINUX_COUNTERS) " | awk '{ printf "%s %s  ", $1, $2 } END { if (!NR) printf "no retransmissions" }')"
  impair_off
done

# --- 4. 200 concurrent connections -------------------------------------------------------------
cat >"$work/conns.py" <<'EOF'
# Opens N connections to burst's echo, all before any closes; echoes 4 KiB on each and checks
# it; writes READY and waits (bounded) for GO; then half-closes each and waits for burst's FIN.
import os, socket, sys, time
n, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
socks = []
for i in range(n):
    s = socket.create_connection(("198.18.0.2", 7), timeout=10)
    socks.append(s)
payloads = [os.urandom(4096) for _ in range(n)]
for s, p in zip(socks, payloads):
    s.sendall(p)
bad = 0
for s, p in zip(socks, payloads):
    got = b""
    while len(got) < len(p):
        chunk = s.recv(len(p) - len(got))
        if not chunk:
            break
        got += chunk
    bad += got != p
print("connected %d, echo mismatches %d" % (len(socks), bad), flush=True)
open(ready, "w").close()
deadline = time.monotonic() + 30
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.05)
unclosed = 0
for s in socks:
    s.shutdown(socket.SHUT_WR)
for s in socks:
    try:
        unclosed += s.recv(1) != b""
    except socket.timeout:
        unclosed += 1
    s.close()
print("not closed by burst: %d" % unclosed, flush=True)
sys.exit(1 if bad or unclosed or len(socks) != n else 0)
EOF
ip netns exec "$NS" timeout 90 "$PY" "$work/conns.py" 200 "$work/conns.ready" "$work/conns.go" >"$work/conns.out" 2>&1 &
conns_pid=$!
wait_for 600 test -e "$work/conns.ready"
ctl netstat -a >"$work/netstat-a.txt" 2>&1
estab=$(awk '$1 == "TCP" && $2 == "198.18.0.2:7" && $4 == "ESTABLISHED"' "$work/netstat-a.txt" | wc -l)
percore=$(awk '$1 == "TCP" && $2 == "198.18.0.2:7" && $4 == "ESTABLISHED" { c[$NF]++ } END { for (k in c) printf "core %s: %d  ", k, c[k] }' "$work/netstat-a.txt")
touch "$work/conns.go"
wait "$conns_pid"; rc=$?; conns_pid=""
check "200 concurrent connections: $estab ESTABLISHED at once in netstat -a ($percore)" test "$estab" -ge 200
check "... each echoed 4 KiB intact and was closed by burst after our FIN ($(tr '\n' ';' <"$work/conns.out"))" test "$rc" = 0
# Everything but listeners and TIME_WAIT ends (burst closes echo passively: no TIME_WAIT).
leftover() { ctl netstat -a | awk '$1 == "TCP" && $4 != "LISTENING" && $4 != "TIME_WAIT"'; }
no_leftover() { [ -z "$(leftover)" ]; }
wait_for 100 no_leftover
check "afterwards only listeners and TIME_WAIT remain ($(leftover | wc -l) other rows)" no_leftover
check "... and curr_estab is 0" test "$(counter curr_estab)" = 0

# --- 5. netstat ----------------------------------------------------------------------------------
ctl netstat -a >"$work/netstat-a.txt" 2>&1
check "netstat -a: LISTENING on 7, 9, 13, 17, 19, 80 on both cores" sh -c "
  for port in 7 9 13 17 19 80; do for core in 0 1; do
    awk -v p=0.0.0.0:\$port -v c=\$core '\$1 == \"TCP\" && \$2 == p && \$4 == \"LISTENING\" && \$NF == c { f = 1 } END { exit !f }' '$work/netstat-a.txt' || exit 1
  done; done"
ctl netstat -s >"$work/netstat-s.txt" 2>&1
po=$(counter passive_opens); si=$(counter segs_in); so=$(counter segs_out)
check "netstat -s: TCP Statistics with non-zero counters (passive_opens $po, segs_in $si, segs_out $so)" \
  sh -c "grep -q 'TCP Statistics for IPv4' '$work/netstat-s.txt' && [ '${po:-0}' -ge 200 ] && [ '${si:-0}' -gt 0 ] && [ '${so:-0}' -gt 0 ]"

# --- 6. Shutdown ---------------------------------------------------------------------------------
# (kill -0 also succeeds on a child that exited but was not waited for yet.)
exited() { local st; st=$(ps -o stat= -p "$pid" 2>/dev/null); [ -z "$st" ] || [ "${st:0:1}" = Z ]; }
stop() {
  kill -TERM "$pid" || return 1
  wait_for 100 exited || { kill -KILL "$pid"; wait "$pid"; pid=""; return 1; }
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  return $rc
}
leak_check "$base"
t0=$(now_ns); stop >>"$work/check.log" 2>&1; rc=$?; t1=$(now_ns)
check "SIGTERM stops burst cleanly within 10 s (exit status $rc after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s)" \
  test "$rc" = 0
check "control socket removed" test ! -e "$SOCK"

echo
if [ "$fails" -eq 0 ]; then echo "smoke-tcp: all $total checks passed"; else echo "smoke-tcp: $fails of $total check(s) failed"; fi
[ "$fails" -eq 0 ]
