#!/usr/bin/env bash
# burst gen stateful connection rate (figure in docs/benchmarks.md): burst gen [[server]] (CPU 0)
# and burst gen [[client]] (CPU 1), one worker each, joined by net_memif; every connection is
# one HTTP/1.1 GET of 100 bytes answered by 1,000 body bytes, then closed (server first, so it
# holds TIME-WAIT as a compact record; the client's next SYN on a tuple takes it over, RFC 6191,
# so the server's 1,048,576 records hold at most the client's 1,000,020 tuples; 65,536
# connection slots for the rest).
# Prints both reports; the client's "connects (N/s)" is the CPS.
#
# Usage: scripts/bench-gen-tcp.sh [SECONDS] [CONCURRENCY]     (5 256)
#   BURST=path   the burst binary to run (both processes; default target/release/burst), e.g.
#                an older build for a same-run before/after
#   CORES=2      workers per process (default 1): each process gets that many memif queue pairs,
#                worker k of the client talks to worker k of the server over pair k; with 2 both
#                processes use CPUs 0 and 1 (this machine has two), so the pairs share the CPUs
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conc=${2:-256}
cores=${CORES:-1}
cpus_s='[0]'; cpus_c='[1]'
if [ "$cores" -gt 1 ]; then cpus_s="[$(seq -s, 0 $((cores - 1)))]"; cpus_c=$cpus_s; fi
burst=${BURST:-target/release/burst}
[ -x "$burst" ] || cargo build -q --release -p burst --features dpdk
dir=$(mktemp -d /tmp/bench-gen-tcp.XXXXXX)
srv_pid=
cleanup() {
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
sed -e "s|/tmp/burst-memif|$dir|g" -e "s|--file-prefix=\([a-z-]*\)|--file-prefix=\1-b$$|" \
    -e 's|^response_bytes = 1024|response_bytes = 1000|' \
    -e "s|^duration = \"8s\"|duration = \"$((secs + 4))s\"|" \
    -e "s|^cores = 1|cores = $cores|" -e "s|^cpus = \[0\]|cpus = $cpus_s|" \
    -e 's|^max_connections = 131072|max_connections = 65536\nmax_time_wait = 1048576|' configs/gen/tcp-server.toml > "$dir/server.toml"
# GET / HTTP/1.1, Host, Connection: close and a 45-byte padding header: 100 bytes.
sed -e "s|/tmp/burst-memif|$dir|g" -e "s|--file-prefix=\([a-z-]*\)|--file-prefix=\1-b$$|" \
    -e 's|^sources = .*|sources = { addresses = "198.18.1.10-198.18.1.29", ports = "10000-60000" }|' \
    -e "s|^concurrency = 100|concurrency = $conc|" \
    -e "s|^cores = 1|cores = $cores|" -e "s|^cpus = \[1\]|cpus = $cpus_c|" \
    -e "s|^duration = \"3s\"|duration = \"${secs}s\"|" \
    -e 's|^check_body = true|check_body = false\nhttp = { headers = ["X-Pad: 012345678901234567890123456789012345"] }|' \
    configs/gen/tcp-client.toml > "$dir/client.toml"
timeout $((secs + 30)) "$burst" gen -c "$dir/server.toml" --quiet > "$dir/server.txt" 2> "$dir/server.log" &
srv_pid=$!
for _ in $(seq 1 100); do [ -S "$dir/t.sock" ] && break; sleep 0.2; done
timeout $((secs + 30)) "$burst" gen -c "$dir/client.toml" --plain 2> >(grep -v '^EAL\|memif_probe' >&2)
wait "$srv_pid"
srv_pid=
cat "$dir/server.txt"
