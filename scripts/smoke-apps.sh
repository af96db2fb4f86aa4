#!/usr/bin/env bash
# The example applications (crates/apps/examples) against Linux on the lab "host" topology,
# burst with 2 workers on af_packet (whose receive hash burst cannot compute: replies to one
# worker's connections are steered to it by the other). Checks, each with a PASS/FAIL line:
#   tcp_echo: 8 concurrent Python clients get 256 KiB each echoed byte-exact; nc gets a line back;
#   udp_responder: 200 datagrams from 4 Python sockets and a 3000-byte one (fragments) answered
#   with the prefix; http_get: 300 requests to a Linux HTTP/1.1 keep-alive server (Python)
#   complete, from both workers, with latency percentiles printed; and to an HTTP/1.0 server
#   (a reconnect per request); SIGTERM stops the servers cleanly.
# Needs root. Uses its own lab (LAB_PREFIX) and cleans up on every exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

P=${SMOKE_APPS_PREFIX:-sa$$}
P=${P:0:8}
export LAB_PREFIX=$P
NS=${P}peer
IF=${P}h0
work=$(mktemp -d)
PY=/usr/bin/python3
EX=${EXAMPLES:-target/release/examples}
pid=""
srv_pid=""
fails=0
total=0

cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  scripts/lab.sh down host >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { total=$((total + 1)); echo "PASS $*"; }
fail() { total=$((total + 1)); echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >>"$work/check.log" 2>&1; then pass "$what"; else fail "$what"; tail -5 "$work/check.log"; fi; }
inPeer() { ip netns exec "$NS" "$@"; }
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }

for b in tcp_echo udp_responder http_get; do
  [ -x "$EX/$b" ] || { echo "missing $EX/$b: cargo build --release -p burst-apps --features dpdk --examples"; exit 1; }
done
# The example host configuration (2 workers on af_packet) with our interface and socket.
sed -e "s/iface=blh0/iface=$IF/" -e "s|/run/burst/host.sock|$work/burst.sock|" -e "s/burst-host/burst-$P/" \
  configs/host.toml >"$work/host.toml"
grep -q '^cores = 2' "$work/host.toml" || { echo "configs/host.toml no longer has 2 workers"; exit 1; }

scripts/lab.sh up host >/dev/null || exit 1

# start NAME ARGS...: runs an example server in the background until its address is ready.
start() {
  app_log="$work/$1.log"
  "$EX/$1" -c "$work/host.toml" "${@:2}" >"$app_log" 2>&1 &
  pid=$!
  ready() { kill -0 "$pid" 2>/dev/null || return 0; grep -q "address ready" "$app_log"; }
  if ! wait_for 300 ready || ! kill -0 "$pid" 2>/dev/null; then
    echo "$1 did not start:"; cat "$app_log"; exit 1
  fi
}
stop() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  return $rc
}

# ---- tcp_echo
start tcp_echo --port 7007
echo_clients() {
  inPeer "$PY" - <<'EOF'
import socket, threading, sys
N, SIZE = 8, 256 * 1024
ok = []
def client(i):
    data = bytes((k * 7 + i) & 0xff for k in range(SIZE))
    s = socket.create_connection(("198.18.0.2", 7007), timeout=10)
    got = bytearray()
    def rx():
        while True:
            b = s.recv(65536)
            if not b:
                break
            got.extend(b)
    t = threading.Thread(target=rx); t.start()
    s.sendall(data); s.shutdown(socket.SHUT_WR); t.join(20); s.close()
    ok.append(bytes(got) == data)
ts = [threading.Thread(target=client, args=(i,)) for i in range(N)]
[t.start() for t in ts]; [t.join(30) for t in ts]
print(f"{sum(ok)}/{N} clients echoed byte-exact")
sys.exit(0 if len(ok) == N and all(ok) else 1)
EOF
}
check "tcp_echo: 8 concurrent clients, 256 KiB each, echoed byte-exact" echo_clients
check "tcp_echo: nc gets its line back" sh -c "echo 'hello burst' | ip netns exec $NS nc -N -w 3 198.18.0.2 7007 | grep -qx 'hello burst'"
check "tcp_echo: SIGTERM stops it cleanly" stop

# ---- udp_responder
start udp_responder --port 7008 --prefix "burst:"
udp_clients() {
  inPeer "$PY" - <<'EOF'
import socket, sys
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
for s in socks:
    s.settimeout(3)
good = 0
for i in range(200):
    s = socks[i % 4]
    msg = f"datagram {i}".encode()
    s.sendto(msg, ("198.18.0.2", 7008))
    got, _ = s.recvfrom(65535)
    good += got == b"burst:" + msg
big = bytes((k * 13) & 0xff for k in range(3000))
socks[0].sendto(big, ("198.18.0.2", 7008))
got, _ = socks[0].recvfrom(65535)
print(f"{good}/200 answered, 3000-byte datagram {'answered' if got == b'burst:' + big else 'WRONG'}")
sys.exit(0 if good == 200 and got == b"burst:" + big else 1)
EOF
}
check "udp_responder: 200 datagrams from 4 sockets and a 3000-byte one answered with the prefix" udp_clients
check "udp_responder: SIGTERM stops it cleanly" stop

# ---- http_get against Linux HTTP servers (HTTP/1.1 keep-alive, then HTTP/1.0)
head -c 10000 /dev/urandom >"$work/file.bin"
serve() {
  # `ip netns exec` execs Python: $! is the server itself, which stop_server must reach.
  ip netns exec "$NS" "$PY" - "$work" "$1" <<'EOF' >"$work/server.log" 2>&1 &
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = sys.argv[2]
    def log_message(self, *a):
        pass
handler = functools.partial(H, directory=sys.argv[1])
http.server.ThreadingHTTPServer(("198.18.0.1", 8000), handler).serve_forever()
EOF
  srv_pid=$!
  wait_for 50 sh -c "ip netns exec $NS ss -Hltn 'sport = :8000' | grep -q ."
}
stop_server() { kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; srv_pid=""; }

serve HTTP/1.1
timeout 120 "$EX/http_get" -c "$work/host.toml" -n 300 http://198.18.0.1:8000/file.bin >"$work/get11.txt" 2>"$work/get11.err"
rc=$?
cat "$work/get11.txt" >>"$work/check.log"
check "http_get: 300 keep-alive requests to Linux's HTTP/1.1 server, all ok (exit $rc)" test "$rc" -eq 0
check "http_get: both workers fetched (active opens from each, replies steered)" \
  sh -c "grep -Eq '^worker 0: [1-9][0-9]* ok, 0 errors' '$work/get11.txt' && grep -Eq '^worker 1: [1-9][0-9]* ok, 0 errors' '$work/get11.txt'"
check "http_get: one connection per worker (keep-alive)" \
  sh -c "grep -Eq '^worker 0: .* 1 connections' '$work/get11.txt' && grep -Eq '^worker 1: .* 1 connections' '$work/get11.txt'"
check "http_get: 3,000,000 body bytes and latency percentiles printed" \
  sh -c "grep -q ' 3000000 body bytes' '$work/get11.txt' && grep -q '^latency us: min' '$work/get11.txt'"
grep -E "requests|latency" "$work/get11.txt"
stop_server

serve HTTP/1.0
timeout 120 "$EX/http_get" -c "$work/host.toml" -n 50 http://198.18.0.1:8000/file.bin >"$work/get10.txt" 2>"$work/get10.err"
rc=$?
cat "$work/get10.txt" >>"$work/check.log"
check "http_get: 50 requests to an HTTP/1.0 server (a connection each), all ok (exit $rc)" \
  sh -c "[ $rc -eq 0 ] && grep -Eq '^worker 0: 25 ok, 0 errors, 25 connections' '$work/get10.txt'"
stop_server

echo "smoke-apps: $((total - fails))/$total passed"
[ "$fails" -eq 0 ]
