#!/usr/bin/env bash
# TCP goodput under random loss (issue 21): burst against the Linux kernel, and Linux against
# Linux across the same impaired hop in the same run. Not a timed test; prints figures.
#
# Topology: the lab "host" topology (burst 198.18.0.2 on <P>h0, af_packet, 2 workers,
# configs/host.toml) and two more namespaces routed through the peer namespace, whose forward
# path is the impaired hop (as scripts/smoke-tcp.sh does; this kernel has no netem):
#   <P>cli  198.19.0.2  the Linux end of every transfer (client)
#   <P>lsrv 198.19.2.2  a Linux server: chargen-like sender on 19, discard on 9 (Python, the
#                       kernel's TCP doing the work)
# Cells, each RUNS times (default 5), medians, BYTES per transfer (default: by loss rate, below):
#   burst → Linux   cli reads BYTES from burst's chargen       vs  Linux → Linux (lsrv's 19)
#   Linux → burst   cli writes BYTES into burst's discard      vs  Linux → Linux (lsrv's 9)
# at each loss rate in LOSSES (percent each way, default "0 1 3 5 10": nftables `numgen random`
# in the peer's forward hook, both directions), without delay and, with DELAY=1, also with
# 2 ms + 0..3 ms jitter each way (the NFQUEUE delay line from smoke-tcp.sh; reorders; being
# Python it caps the rate, the same cap for both stacks; DELAY=only runs just those cells). A
# transfer that does not finish within TIMEOUT (default 120 s) counts as 0.
#
# BYTES per transfer: by default 16 MiB at 0 %, 64 MiB at 1 %, 16 MiB at 3 %, 8 MiB at 5 % and
# 4 MiB from 10 % (BYTES=N sets N for every cell). From 1 % loss a transfer that meets a
# retransmission timeout takes several times longer (a 200 ms RTO against ~20 ms for 4 MiB at
# 1 %), so with a fixed 4 MiB each run was either fast or slow and a median of 5 moved by 10x
# between runs of the script, for Linux as much as for burst; a transfer long enough to meet
# several loss episodes and timeouts averages them, while every cell still takes 1-5 minutes.
#
# Same start for every transfer: each Linux end is a fresh namespace per invocation and keeps
# no per-destination metrics between connections (net.ipv4.tcp_no_metrics_save=1, and the
# cache is flushed before every transfer), so Linux's RTT / reordering seeds do not depend on
# the cells or runs before; burst keeps no per-destination TCP state between connections.
#
# LINUX_CC (default cubic, burst's default algorithm): the congestion control of the Linux ends,
# set on their sockets (TCP_CONGESTION); the host's default may be another (e.g. bbr, which does
# not back off on random loss). LINUX_CC= keeps the host's default.
#
# RPS (default 1): the lab's veths deliver in the sender's context, so without it the whole Linux
# side of a transfer (the peer's forwarding and nftables, the client's TCP receive) runs on the
# sending core, which for burst is its busy-polling worker (measured: 76 % of burst's core in the
# kernel at 0 % loss). With RPS=1 burst's worker is pinned to CPU 1 and the peer namespace's
# interfaces steer what they receive to CPU 0 (rps_cpus), for burst's transfers and Linux ↔ Linux
# alike; RPS=0 is the behaviour before (figures of 2026-12-06).
#
# PCAP=DIR: a capture of every cell (tcpdump -i any in the peer namespace, 128-byte snaplen, so
# each packet is seen on the way in and, unless the loss rule drops it, on the way out) written
# to DIR/d<delay>-l<loss>-<pid>.pcap; the figures of a cell with a capture are not comparable.
#
# BURST_TCP: extra `[tcp]` keys for burst, e.g. BURST_TCP='min_rto = "200ms"' (Linux's floor),
# or BURST_TCP='loss_detection = "dupack"' for the RFC 6675 behaviour before RACK.
#
# Usage: sudo scripts/bench-loss.sh [RUNS]        (needs root, nft, iptables, python3 and
#   target/release/burst built with --features dpdk: scripts/run.sh builds it)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

RUNS=${1:-5}
P=${BENCH_LOSS_PREFIX:-bq$$}
P=${P:0:8}
export LAB_PREFIX=$P
NS=${P}peer
CLI=${P}cli
LSRV=${P}lsrv
IF=${P}h0
work=$(mktemp -d)
SOCK=$work/burst.sock
BURST=${BURST:-target/release/burst}
PY=/usr/bin/python3
BYTES=${BYTES:-}
# bytes_for LOSS: the transfer size of a cell (see above).
bytes_for() {
  if [ -n "$BYTES" ]; then echo "$BYTES"; return; fi
  awk -v l="$1" 'BEGIN { m = l < 0.5 ? 16 : l < 2 ? 64 : l < 4 ? 16 : l < 7 ? 8 : 4; printf "%d", m * 1048576 }'
}
LOSSES=${LOSSES:-0 1 3 5 10}
TIMEOUT=${TIMEOUT:-120}
export LINUX_CC=${LINUX_CC-cubic}
pid=""
bg_pids=()

cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  ip netns del "$CLI" 2>/dev/null
  ip netns del "$LSRV" 2>/dev/null
  scripts/lab.sh down host >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

inNS() { ip netns exec "$NS" "$@"; }
inCLI() { ip netns exec "$CLI" "$@"; }
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
ctl() { "$BURST" ctl --socket "$SOCK" "$@"; }
counter() { ctl netstat -s | awk -v k="$1" '$1 == k && !f { print $3; f = 1 }'; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

# --- burst and the lab ---------------------------------------------------------------------------
# CORES (default 2, as configs/host.toml): burst's workers, one af_packet queue pair each; on a
# small machine 1 leaves a core to the Linux side.
CORES=${CORES:-2}
RPS=${RPS:-1}
cpus=""
[ "$RPS" = 1 ] && [ "$CORES" = 1 ] && cpus='cpus = [1]'
sed -e "s/iface=blh0/iface=$IF/" -e "s|/run/burst/host.sock|$SOCK|" -e "s/burst-host/burst-$P/" \
  -e "s/qpairs=2/qpairs=$CORES/" -e "s/^cores = 2/cores = $CORES${cpus:+\\n$cpus}/" configs/host.toml >"$work/host.toml"
if [ -n "${BURST_TCP:-}" ]; then printf '\n[tcp]\n%s\n' "$BURST_TCP" >>"$work/host.toml"; fi
scripts/lab.sh up host >/dev/null || exit 1
"$BURST" run -c "$work/host.toml" >"$work/burst.log" 2>&1 &
pid=$!
ready() { kill -0 "$pid" 2>/dev/null || return 0; grep -q 'address ready' "$work/burst.log" && ctl stats >/dev/null 2>&1; }
if ! wait_for 300 ready || ! kill -0 "$pid" 2>/dev/null; then echo "burst did not start:"; cat "$work/burst.log"; exit 1; fi

# leg NAMESPACE PEER-IF ROUTER-ADDR HOST-ADDR
leg() {
  ip netns add "$1" &&
    ip -n "$NS" link add "$2" type veth peer name eth0 netns "$1" &&
    ip -n "$NS" addr add "$3/24" dev "$2" && ip -n "$NS" link set "$2" up &&
    ip -n "$1" link set lo up && ip -n "$1" addr add "$4/24" dev eth0 &&
    ip -n "$1" link set eth0 up && ip -n "$1" route add default via "$3" || return 1
  inNS ethtool -K "$2" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1
  ip netns exec "$1" ethtool -K eth0 tx off rx off sg off tso off gso off gro off >/dev/null 2>&1
  return 0
}
leg "$CLI" eth1 198.19.0.1 198.19.0.2 && leg "$LSRV" eth2 198.19.2.1 198.19.2.2 &&
  inNS sysctl -qw net.ipv4.ip_forward=1 || { echo "could not build the routed namespaces"; exit 1; }
for n in "$CLI" "$LSRV"; do
  ip netns exec "$n" sysctl -qw net.ipv4.tcp_no_metrics_save=1 || { echo "tcp_no_metrics_save in $n failed"; exit 1; }
done
if [ "$RPS" = 1 ]; then
  for i in eth0 eth1 eth2; do
    inNS sh -c "echo 1 > /sys/class/net/$i/queues/rx-0/rps_cpus" || { echo "rps_cpus on $i failed"; exit 1; }
  done
fi

cat >"$work/srv.py" <<'EOF'
# Linux's side of the comparison: on 19 sends a repeating 64 KiB pattern until the client
# closes (like chargen); on 9 reads until EOF, then closes (like discard). One thread each.
import os, socket, threading
def serve(port, handle):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if os.environ.get("LINUX_CC"):  # accepted sockets inherit it
        l.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, os.environ["LINUX_CC"].encode())
    l.bind(("0.0.0.0", port)); l.listen(16)
    while True:
        c, _ = l.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()
def chargen(c):
    buf = bytes(range(32, 127)) * 690
    try:
        while True:
            c.sendall(buf)
    except OSError:
        pass
    c.close()
def discard(c):
    while c.recv(1 << 16):
        pass
    c.close()
threading.Thread(target=serve, args=(9, discard), daemon=True).start()
serve(19, chargen)
EOF
ip netns exec "$LSRV" "$PY" "$work/srv.py" >"$work/srv.log" 2>&1 &
bg_pids+=($!)

cat >"$work/cli.py" <<'EOF'
# read HOST PORT N: Mbit/s until N bytes arrived; write HOST PORT N: Mbit/s until N bytes were
# sent and the server closed after our FIN (so all of it arrived). Times from the established
# connection: a lost SYN or SYN-ACK costs the client's 1 s SYN timer whichever stack serves,
# which at 4 MiB would outweigh the transfer and scatter the runs.
import os, socket, sys, time
mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket()
if os.environ.get("LINUX_CC"):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, os.environ["LINUX_CC"].encode())
s.settimeout(30)
s.connect((host, port))
t0 = time.monotonic()
if mode == "read":
    got = 0
    while got < n:
        b = s.recv(min(1 << 16, n - got))
        if not b:
            sys.exit("closed after %d bytes" % got)
        got += len(b)
else:
    buf = b"x" * (1 << 16)
    left = n
    while left:
        left -= s.send(buf[:min(left, len(buf))])
    s.shutdown(socket.SHUT_WR)
    while s.recv(1 << 16):
        pass
t1 = time.monotonic()
s.close()
print("%.1f" % (n * 8 / (t1 - t0) / 1e6))
EOF
ready_lsrv() { inCLI "$PY" -c 'import socket; socket.create_connection(("198.19.2.2", 9), timeout=1).close()' 2>/dev/null; }
wait_for 50 ready_lsrv || { echo "Linux server did not start"; cat "$work/srv.log"; exit 1; }

# --- impairment -----------------------------------------------------------------------------------
cat >"$work/delay.py" <<'EOF'
# NFQUEUE delay line (from scripts/smoke-tcp.sh): holds each packet of queue Q for DELAY ms
# plus a uniform 0..JITTER ms (reorders), then accepts it. Exits after SECONDS.
import heapq, os, random, select, socket, struct, sys, time
q, delay, jitter = int(sys.argv[1]), float(sys.argv[2]) / 1e3, float(sys.argv[3]) / 1e3
end, ready = time.monotonic() + float(sys.argv[4]), sys.argv[5]
NFNL_SUBSYS_QUEUE, MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 3, 0, 1, 2
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)
s.bind((0, 0))
def attr(t, payload):
    a = struct.pack("=HH", 4 + len(payload), t) + payload
    return a + b"\0" * (-len(a) % 4)
def msg(mtype, attrs, flags=1):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(q)) + attrs
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | mtype, flags, 0, 0) + body
def config(attrs):
    s.send(msg(MSG_CONFIG, attrs, 1 | 4))
    err = struct.unpack_from("=i", s.recv(65536), 16)[0]
    if err:
        sys.exit("nfqueue %d config: %s" % (q, os.strerror(-err)))
config(attr(1, struct.pack("=BBH", 1, 0, 0)))
config(attr(2, struct.pack(">IB", 0, 1)) + attr(3, struct.pack(">I", 100000)))
open(ready, "w").close()
held = []
while time.monotonic() < end:
    now = time.monotonic()
    while held and held[0][0] <= now:
        s.send(msg(MSG_VERDICT, attr(2, struct.pack(">II", 1, heapq.heappop(held)[1]))))
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
                if atype & 0x7fff == 1:
                    pid = struct.unpack_from(">I", data, a + 4)[0]
                    heapq.heappush(held, (time.monotonic() + delay + random.uniform(0, jitter), pid))
                    break
                a += max(4, (alen + 3) & ~3)
            off += max(20, (ln + 3) & ~3)
EOF
delay_pids=()
delay_on() {
  local q
  for q in 1 2; do
    rm -f "$work/delay$q.ready"
    ip netns exec "$NS" "$PY" "$work/delay.py" "$q" 2 3 100000 "$work/delay$q.ready" >>"$work/delay.log" 2>&1 &
    delay_pids+=($!); bg_pids+=($!)
  done
  wait_for 50 test -e "$work/delay1.ready" -a -e "$work/delay2.ready" &&
    inNS iptables -A FORWARD -p tcp -s 198.19.0.2 -j NFQUEUE --queue-num 1 &&
    inNS iptables -A FORWARD -p tcp -d 198.19.0.2 -j NFQUEUE --queue-num 2
}
delay_off() {
  inNS iptables -F FORWARD 2>/dev/null
  local p
  for p in "${delay_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  delay_pids=()
}
loss_set() { # percent each way
  inNS nft delete table inet benchloss 2>/dev/null
  [ "$1" = 0 ] && return 0
  local pm
  pm=$(awk -v p="$1" 'BEGIN { printf "%d", p * 10 }')
  inNS nft -f - <<EOF
table inet benchloss {
  chain forward {
    type filter hook forward priority -10; policy accept;
    meta l4proto tcp numgen random mod 1000 < $pm counter drop
  }
}
EOF
}

# --- runs -----------------------------------------------------------------------------------------
one() { # mode host port -> Mbit/s or 0
  local r
  inCLI ip tcp_metrics flush all 2>/dev/null; ip netns exec "$LSRV" ip tcp_metrics flush all 2>/dev/null
  r=$(inCLI timeout "$TIMEOUT" "$PY" "$work/cli.py" "$1" "$2" "$3" "$cell_bytes" 2>>"$work/cli.err") || r=0
  echo "${r:-0}"
}
summary=()
delays="0"; [ "${DELAY:-0}" = 1 ] && delays="0 1"; [ "${DELAY:-0}" = only ] && delays="1"
echo "bench-loss: ${BYTES:-by loss rate (16/64/16/8/4 MiB at 0/1/3/5/10+ %)} bytes per transfer, $RUNS runs per cell, losses: $LOSSES %, burst: $CORES workers${cpus:+ ($cpus)}, RPS=$RPS, [tcp] ${BURST_TCP:-defaults}, Linux: ${LINUX_CC:-host default $(sysctl -n net.ipv4.tcp_congestion_control)}"
echo "load before: $(uptime | sed 's/.*load average/load average/')"
for d in $delays; do
  if [ "$d" = 1 ]; then delay_on || { echo "delay line failed"; exit 1; }; label="2 ms + 0..3 ms each way"; else label="no delay"; fi
  for loss in $LOSSES; do
    loss_set "$loss" || { echo "nft failed"; exit 1; }
    cell_bytes=$(bytes_for "$loss")
    r0=$(counter retrans_segs); t0=$(counter rto_timeouts); l0=$(counter lost_retransmits); p0=$(counter tlp_probes)
    if [ -n "${PCAP:-}" ]; then
      mkdir -p "$PCAP"
      inNS tcpdump -i any -s 128 -B 65536 -w "$PCAP/d$d-l$loss-$$.pcap" tcp >/dev/null 2>&1 &
      cap_pid=$!; sleep 1
    fi
    bs=(); ls=(); br=(); lr=()
    for r in $(seq 1 "$RUNS"); do
      bs+=("$(one read 198.18.0.2 19)"); ls+=("$(one read 198.19.2.2 19)")
      br+=("$(one write 198.18.0.2 9)"); lr+=("$(one write 198.19.2.2 9)")
      printf '%-24s loss %2s %%  run %d: burst→Linux %7s  Linux→Linux %7s | Linux→burst %7s  Linux→Linux %7s Mbit/s\n' \
        "$label" "$loss" "$r" "${bs[-1]}" "${ls[-1]}" "${br[-1]}" "${lr[-1]}"
    done
    r1=$(counter retrans_segs); t1=$(counter rto_timeouts); l1=$(counter lost_retransmits); p1=$(counter tlp_probes)
    if [ -n "${PCAP:-}" ]; then sleep 0.5; kill "$cap_pid"; wait "$cap_pid" 2>/dev/null; fi
    mbs=$(printf '%s\n' "${bs[@]}" | median); mls=$(printf '%s\n' "${ls[@]}" | median)
    mbr=$(printf '%s\n' "${br[@]}" | median); mlr=$(printf '%s\n' "${lr[@]}" | median)
    summary+=("$(printf '| %s | %s %% (%s MiB) | %s | %s | %s | %s | %s | %s | +%s / +%s / +%s / +%s |' "$label" "$loss" "$((cell_bytes >> 20))" \
      "$mbs" "$mls" "$(ratio "$mbs" "$mls")" "$mbr" "$mlr" "$(ratio "$mbr" "$mlr")" \
      "$((r1 - r0))" "$((t1 - t0))" "$((l1 - l0))" "$((p1 - p0))")")
  done
  loss_set 0
  [ "$d" = 1 ] && delay_off
done
echo "load after: $(uptime | sed 's/.*load average/load average/')"
# VERBOSE=1: burst's TCP counters (netstat -s) after all the cells.
if [ "${VERBOSE:-0}" = 1 ]; then ctl netstat -s | sed -n '/TCP Statistics/,/^$/p;/TCP Statistics/,/Reassembly/p' | sort -u; fi
echo
echo "medians of $RUNS runs, Mbit/s; burst's counters over the cell: retrans_segs / rto_timeouts / lost_retransmits / tlp_probes"
echo
echo "| path | loss each way | burst sender | Linux sender | ratio | burst receiver | Linux receiver | ratio | burst counters |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
