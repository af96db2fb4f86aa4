#!/usr/bin/env bash
# burst gen's stateful TCP/HTTP load end to end (in scripts/test.sh): two `burst gen`
# processes on the two ends of a veth pair (net_af_packet, each end in a namespace this script
# creates), one a [[server]] (configs/gen/tcp-server.toml, 1 KiB answers)
# and one a [[client]] (configs/gen/tcp-client.toml, 100 connections held, bodies checked).
#   1. client -> server: requests > 0, no failure, every body byte checked, the client
#      received exactly the bytes the server sent, the server answered every response counted;
#   2. client -> a port nobody listens on: every failure is "refused", nothing else;
#   3. client alone (no server process, no ARP answer): failures counted as timeouts and the
#      run ends on time.
# Its own namespaces, veth pair and file prefixes; everything it starts is stopped on exit.
# Not memif: DPDK 22.11's memif PMD unmaps the shared regions when the peer disconnects while
# the lcore may still be inside rx_burst, and the process left behind can die of SIGSEGV (seen
# here once in 12 runs when a client process ended); af_packet shares no memory between the
# two processes. The benchmark (scripts/bench-gen-tcp.sh) still uses memif.
set -euo pipefail
cd "$(dirname "$0")/.."
burst=target/release/burst
[ -x "$burst" ] || cargo build -q --release -p burst --features dpdk
tag=$$
dir=$(mktemp -d /tmp/smoke-gen-tcp.XXXXXX)
nss=sgts$tag nsc=sgtc$tag
srv_pid=
cleanup() {
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; fi
  ip netns del "$nss" 2>/dev/null || true
  ip netns del "$nsc" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "smoke-gen-tcp: FAIL: $*" >&2; [ -f "$dir/server.log" ] && tail -20 "$dir/server.log" >&2; exit 1; }
json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
# Each end of the pair in its own namespace, no address on either (the kernel stays out).
ip netns add "$nss"
ip netns add "$nsc"
ip link add sgt0 netns "$nss" type veth peer name sgt1 netns "$nsc"
for x in "$nss sgt0" "$nsc sgt1"; do
  set -- $x
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$1" ip link set "$2" up
done
# The example configs use memif; here each end is an af_packet vdev on its veth.
rewrite() {
  sed -e "s|--vdev=net_memif0,[^\"]*|--vdev=net_af_packet0,iface=$3|" -e 's|"net_memif0"|"net_af_packet0"|' \
    -e "s|--file-prefix=\([a-z-]*\)|--file-prefix=\1-$tag|" "$1" > "$2"
}
rewrite configs/gen/tcp-server.toml "$dir/server.toml" sgt0
rewrite configs/gen/tcp-client.toml "$dir/client.toml" sgt1
# Keep-alive of 10 requests, at most 400,000 requests (40,000 connections): the server keeps
# each closed connection in TIME-WAIT for 30 s, so its table (131072) bounds the connections of
# the runs below.
sed -i 's|^check_body = true|check_body = true\nrequests = 400000\nhttp = { requests_per_conn = 10 }|' "$dir/client.toml"
sed -i 's|^duration = "8s"|duration = "10s"|' "$dir/server.toml"

start_server() {
  # The server outlives the two client runs (10 s, bounded by its [test] duration).
  timeout 30 ip netns exec "$nss" "$burst" gen -c "$dir/server.toml" --plain --json "$dir/server.json" > "$dir/server.txt" 2> "$dir/server.log" &
  srv_pid=$!
  # Ready once its first live line is out (the port is started and polled by then).
  for _ in $(seq 1 50); do grep -q "srv req/s" "$dir/server.log" 2>/dev/null && return; kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.2; done
  fail "the server printed no live line within 10 s"
}

echo "== burst gen client -> burst gen server over a veth pair"
start_server
timeout 30 ip netns exec "$nsc" "$burst" gen -c "$dir/client.toml" --plain --json "$dir/c1.json" > "$dir/c1.txt" 2> "$dir/c1.log" || { cat "$dir/c1.log"; fail "client run 1"; }
cat "$dir/c1.txt"
responses=$(json "$dir/c1.json" 'r["client"]["responses"]')
[ "$responses" -gt 0 ] || fail "no response"
[ "$(json "$dir/c1.json" 'r["client"]["failures_total"]')" -eq 0 ] || fail "failures: $(json "$dir/c1.json" 'r["client"]["failures"]')"
[ "$(json "$dir/c1.json" 'r["client"]["body_mismatches"]')" -eq 0 ] || fail "body bytes differ from the pattern"
[ "$(json "$dir/c1.json" 'r["client"]["body_bytes"]')" -eq $((responses * 1024)) ] || fail "body bytes are not responses x 1 KiB"
[ "$(json "$dir/c1.json" 'r["client"]["peak_open"]')" -eq 100 ] || fail "concurrency 100 not reached"

echo "== burst gen client -> a port nobody listens on: refused"
sed -e 's|"198.18.1.1:80"|"198.18.1.1:81"|' -e 's|^duration = "3s"|duration = "1s"|' "$dir/client.toml" > "$dir/refused.toml"
timeout 30 ip netns exec "$nsc" "$burst" gen -c "$dir/refused.toml" --plain --json "$dir/c2.json" > "$dir/c2.txt" 2> "$dir/c2.log" || { cat "$dir/c2.log"; fail "client run 2"; }
cat "$dir/c2.txt"
refused=$(json "$dir/c2.json" 'r["client"]["failures"]["refused"]')
[ "$refused" -gt 0 ] || fail "no refused connection counted"
[ "$(json "$dir/c2.json" 'r["client"]["failures_total"]')" -eq "$refused" ] || fail "failures other than refused: $(json "$dir/c2.json" 'r["client"]["failures"]')"
[ "$(json "$dir/c2.json" 'r["client"]["responses"]')" -eq 0 ] || fail "responses from a closed port"

wait "$srv_pid" || fail "the server exited with an error"
srv_pid=
cat "$dir/server.txt"
# Every byte the server sent arrived (run 1's connections; run 2 got only resets).
srv_tx=$(json "$dir/server.json" 'r["server"]["tx_bytes"]')
cli_rx=$(json "$dir/c1.json" 'r["client"]["rx_bytes"]')
[ "$srv_tx" -eq "$cli_rx" ] || fail "the server sent $srv_tx B, the client received $cli_rx B"
[ "$(json "$dir/server.json" 'r["server"]["requests"]')" -eq "$responses" ] || fail "server answered $(json "$dir/server.json" 'r["server"]["requests"]'), client counted $responses"
echo "client: $responses responses, $cli_rx B received = server's $srv_tx B sent"

echo "== burst gen client with no server: timeouts, on time"
sed -e 's|^duration = "3s"|duration = "2s"|' -e 's|^arp_timeout.*||' "$dir/client.toml" > "$dir/alone.toml"
printf 'arp_timeout = "500ms"\n' >> "$dir/alone.toml"
t0=$(date +%s%N)
timeout 30 ip netns exec "$nsc" "$burst" gen -c "$dir/alone.toml" --plain --json "$dir/c3.json" > "$dir/c3.txt" 2> "$dir/c3.log" || { cat "$dir/c3.log"; fail "client run 3"; }
took_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$dir/c3.txt"
timeouts=$(json "$dir/c3.json" 'r["client"]["failures"]["timeout"]')
[ "$timeouts" -gt 0 ] || fail "no timeout counted"
[ "$(json "$dir/c3.json" 'r["client"]["failures_total"]')" -eq "$timeouts" ] || fail "failures other than timeouts"
# 2 s of load + 1 s client timeout + 0.5 s ARP wait, plus the EAL's start: at most 8 s.
[ "$took_ms" -le 8000 ] || fail "the run against no server took $took_ms ms"
echo "no server: $timeouts timeouts, ended in $took_ms ms"
echo "smoke-gen-tcp: ok"
