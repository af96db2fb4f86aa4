#!/usr/bin/env bash
# shellcheck disable=SC2016 # awk programs are single-quoted on purpose
# burst against Linux peers whose veths keep their default offloads, as a user's own lab has
# them (scripts/lab.sh with LAB_OFFLOADS=default): the Linux side sends partial TCP/UDP
# checksums and TSO super-frames, and af_packet hands burst kernel-reassembled datagrams.
# Checks, each with a PASS/FAIL line:
#   host lab (MTU 9000 veths, burst MTU 9000): curl to burst's HTTP service; UDP to a closed
#   port answered with port unreachable; a 3000-byte UDP echo; a 4000-byte ping both ways;
#   a 9000-byte (jumbo, DF) ping both ways; 20 MiB TCP echo byte-exact; p0.rx_partial_csum
#   counted; with partial_checksums = false curl fails and burst logs the hint naming the fix.
#   router lab: ping and a 4000-byte ping A -> B; traceroute (UDP probes) through burst; UDP
#   to a closed port in B gets B's port unreachable (burst completed the checksum); 100 MiB
#   TCP A -> B byte-exact through burst, with super-frames cut (p0.rx_super_frames).
# Needs root. Uses its own labs (prefix SMOKE_OFFLOADS_PREFIX) and cleans up on every exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

P=${SMOKE_OFFLOADS_PREFIX:-so$$}
P=${P:0:8}
export LAB_PREFIX=$P LAB_OFFLOADS=default
work=$(mktemp -d)
SOCK=$work/burst.sock
BURST=${BURST:-target/release/burst}
PY=/usr/bin/python3
pid=""
nc_pid=""
fails=0
total=0

stop_burst() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=""
}
cleanup() {
  [ -n "$nc_pid" ] && kill "$nc_pid" 2>/dev/null && wait "$nc_pid" 2>/dev/null
  stop_burst
  scripts/lab.sh down all >/dev/null 2>&1
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
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }
# Sum of one counter over the cores of `ctl stats`.
stat() { ctl stats | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }

# start CONFIG: runs burst and waits until its addresses are ready (at most 30 s).
start() {
  "$BURST" run -c "$1" >"$work/burst.log" 2>&1 &
  pid=$!
  local want=$2
  ready() {
    kill -0 "$pid" 2>/dev/null || return 0
    [ "$(grep -c 'address ready' "$work/burst.log")" -ge "$want" ] && ctl stats >/dev/null 2>&1
  }
  if ! wait_for 300 ready || ! kill -0 "$pid" 2>/dev/null; then
    echo "burst did not start:"; cat "$work/burst.log"; exit 1
  fi
  sleep 0.5
  base=$(pools)
}

# ---- host lab: veths at MTU 9000 with default offloads ----
# The example host config with our interface, socket and file prefix, jumbo MTU (buffers to
# match), and (second run) partial checksums refused.
host_config() {
  sed -e "s/iface=blh0/iface=${P}h0/" -e "s|/run/burst/host.sock|$SOCK|" \
    -e "s/burst-host/burst-$P/" -e 's/^mtu = 1500$/mtu = 9000/' \
    -e 's/^cores = 2$/cores = 2\nmbuf_data_room = 9216/' configs/host.toml
}
host_config >"$work/host.toml"
grep -q '^mtu = 9000' "$work/host.toml" && grep -q '^mbuf_data_room = 9216' "$work/host.toml" \
  || { echo "could not set the jumbo MTU in the host config"; exit 1; }
LAB_MTU=9000 scripts/lab.sh up host >/dev/null || exit 1
PEER=${P}peer
inP() { ip netns exec "$PEER" "$@"; }
LEAK_PEER=198.18.0.1
start "$work/host.toml" 1

check "the peer's veth keeps checksum offload and TSO (ethtool -k)" \
  sh -c "ip netns exec $PEER ethtool -k eth0 | grep -q '^tx-checksumming: on' && ip netns exec $PEER ethtool -k eth0 | grep -q '^tcp-segmentation-offload: on'"
check "curl http://198.18.0.2/ (burst's HTTP service)" \
  sh -c "ip netns exec $PEER curl -sS --max-time 5 http://198.18.0.2/ | grep -q 'burst says hello'"
udp_probe() {
  inP "$PY" - "$@" <<'EOF'
import socket, sys
port, size, want = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(("198.18.0.2", port))
s.send(bytes(i % 251 for i in range(size)))
try:
    got = s.recv(65535)
    ok = want == "echo" and got == bytes(i % 251 for i in range(size))
except ConnectionRefusedError:
    ok = want == "refused"
sys.exit(0 if ok else 1)
EOF
}
check "UDP to closed port 4444: port unreachable (ConnectionRefusedError)" udp_probe 4444 10 refused
check "UDP echo of 3000 bytes (a datagram af_packet's kernel reassembled)" udp_probe 7 3000 echo
check "Linux pings burst with 4000 bytes" inP ping -c 2 -i 0.3 -W 2 -s 4000 198.18.0.2
check "burst pings Linux with 4000 bytes (ctl ping -s 4000)" \
  sh -c "'$BURST' ctl --socket '$SOCK' ping -c 2 -s 4000 198.18.0.1 | tee /dev/stderr | grep -q ' 0% packet loss'"
check "Linux pings burst with a 9000-byte frame (-M do -s 8972)" inP ping -c 2 -i 0.3 -W 2 -M do -s 8972 198.18.0.2
check "burst pings Linux with a 9000-byte frame (ctl ping -M do -s 8972)" \
  sh -c "'$BURST' ctl --socket '$SOCK' ping -c 2 -M do -s 8972 198.18.0.1 | tee /dev/stderr | grep -q ' 0% packet loss'"
head -c 20971520 /dev/urandom >"$work/20M"
inP timeout 60 nc -N -w 10 198.18.0.2 7 <"$work/20M" >"$work/20M.back" 2>>"$work/check.log"
check "20 MiB TCP echo byte-exact (TSO super-frames delivered locally)" \
  test "$(sha256sum <"$work/20M" | cut -d' ' -f1)" = "$(sha256sum <"$work/20M.back" | cut -d' ' -f1)"
rm -f "$work/20M" "$work/20M.back"
n=$(stat p0.rx_partial_csum)
check "ctl stats: p0.rx_partial_csum counted ($n)" test "$n" -gt 0
leak_check "$base"
stop_burst

# The same with partial checksums refused: TCP fails and the log names the cause and the fix.
sed -e 's/^mtu = 9000$/mtu = 9000\npartial_checksums = false/' "$work/host.toml" >"$work/host-off.toml"
start "$work/host-off.toml" 1
check "partial_checksums = false: curl fails" sh -c "! ip netns exec $PEER curl -sS --max-time 5 -o /dev/null http://198.18.0.2/"
check "partial_checksums = false: the log names the cause and the fix" \
  grep -q 'hold only the pseudo-header sum.*partial_checksums = true.*ethtool -K IFACE tx off' "$work/burst.log"
leak_check "$base"
stop_burst
scripts/lab.sh down host >/dev/null

# ---- router lab: default offloads on both sides ----
sed -e "s/iface=blr0/iface=${P}r0/" -e "s/iface=blr1/iface=${P}r1/" \
  -e "s|/run/burst/router.sock|$SOCK|" -e "s/burst-router/burst-$P/" \
  configs/router.toml >"$work/router.toml"
scripts/lab.sh up router >/dev/null || exit 1
A=${P}a
B=${P}b
inA() { ip netns exec "$A" "$@"; }
LEAK_PEER=198.18.1.1
start "$work/router.toml" 2

check "ping A -> B through burst" inA ping -c 2 -i 0.3 -W 2 198.18.2.1
check "ping -s 4000 A -> B through burst (reassembled by af_packet, fragmented again)" \
  inA ping -c 2 -i 0.3 -W 2 -s 4000 198.18.2.1
inA traceroute -n -q 1 -N 1 -w 1 -m 5 198.18.2.1 >"$work/traceroute.txt" 2>&1
cat "$work/traceroute.txt" >>"$work/check.log"
check "traceroute (UDP probes) through burst reaches 198.18.2.1" \
  awk '$1 > 1 && $2 == "198.18.2.1" { ok = 1 } END { exit !ok }' "$work/traceroute.txt"
check "UDP A -> a closed port in B: B's port unreachable comes back" \
  inA "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.connect(("198.18.2.1", 4444)); s.send(b"x" * 100)
try: s.recv(100)
except ConnectionRefusedError: sys.exit(0)
sys.exit(1)'

head -c 104857600 /dev/urandom >"$work/100M"
timeout 150 ip netns exec "$B" nc -l -p 5001 -d >"$work/100M.recv" 2>>"$work/check.log" &
nc_pid=$!
if wait_for 50 listening "$B" 5001; then
  t0=$(date +%s.%N)
  timeout 120 ip netns exec "$A" nc -N -w 10 198.18.2.1 5001 <"$work/100M" 2>>"$work/check.log"
  rc=$?
  t1=$(date +%s.%N)
  [ "$rc" -eq 0 ] || kill "$nc_pid" 2>/dev/null
  wait "$nc_pid" 2>/dev/null; nc_pid=""
  sent=$(sha256sum <"$work/100M" | cut -d' ' -f1)
  got=$(sha256sum <"$work/100M.recv" | cut -d' ' -f1)
  rate=$(awk -v a="$t0" -v b="$t1" 'BEGIN { s = b - a; printf "%.1f s, %.0f Mbit/s", s, 104857600 * 8 / s / 1e6 }')
  check "100 MiB nc A -> B byte-exact through burst (rc $rc, $rate)" test "$rc" -eq 0 -a "$sent" = "$got"
else
  fail "100 MiB nc A -> B: nc in B did not listen"
fi
rm -f "$work/100M" "$work/100M.recv"
ctl stats >"$work/stats.txt"
echo "non-zero p0./p1. counters (all cores):"
awk '$1 ~ /^p[01]\./ && $2 != 0 { s[$1] += $2 } END { for (k in s) printf "  %-32s %d\n", k, s[k] }' "$work/stats.txt" | sort
sum() { awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }' "$work/stats.txt"; }
check "p0.rx_super_frames > 0: the peer's TSO super-frames were cut ($(sum p0.rx_super_frames))" \
  test "$(sum p0.rx_super_frames)" -gt 0
check "p0.rx_partial_csum > 0 ($(sum p0.rx_partial_csum))" test "$(sum p0.rx_partial_csum)" -gt 0
check "no frame arrived cut (p0.rx_truncated + p1.rx_truncated = 0)" \
  test "$(( $(sum p0.rx_truncated) + $(sum p1.rx_truncated) ))" -eq 0
leak_check "$base"
stop_burst

echo
if [ "$fails" -eq 0 ]; then echo "smoke-offloads: all checks passed ($total/$total PASS)"; else echo "smoke-offloads: $fails check(s) failed ($((total - fails))/$total PASS)"; fi
[ "$fails" -eq 0 ]
