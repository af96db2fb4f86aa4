#!/usr/bin/env bash
# burst gen stateful concurrency held (issue 14, figure in docs/benchmarks.md): burst gen
# [[server]] (CPU 0) and burst gen [[client]] (CPU 1), one worker each, joined by net_memif.
# The client holds CONCURRENCY connections open (closed loop, ramped up linearly over RAMP
# seconds, then held HOLD seconds). "Held" means open and live: each connection runs a raw
# program round (100 bytes sent, 1,000 bytes answered) and then waits DELAY seconds before its
# next one, so every connection carries traffic about every DELAY seconds and the request rate
# is about CONCURRENCY / DELAY. Buffers are small (send 1 KiB, receive 1 MSS: the rounds need no
# more) and stated in the output.
# Prints both reports, then per side: held concurrency over the HOLD seconds (min/mean, from
# the per-second series of --json), requests/s, failures by reason, the report's memory per
# connection, and the process's VmRSS/VmHWM (/proc/PID/status, sampled each second) divided by
# the connections held, as an independent check.
#
# Usage: scripts/bench-gen-conc.sh [CONCURRENCY] [HOLD] [RAMP] [DELAY]   (1000000 30 30 10)
#   BURST=path   the burst binary to run (default target/release/burst)
#   SEND=bytes RECV=bytes   the [tcp] rings (default 1024 and 1460)
set -euo pipefail
cd "$(dirname "$0")/.."
conc=${1:-1000000}
hold=${2:-30}
ramp=${3:-30}
delay=${4:-10}
send=${SEND:-1024}
recv=${RECV:-1460}
burst=${BURST:-target/release/burst}
[ -x "$burst" ] || cargo build -q --release -p burst --features dpdk
# Tuples: 64 source addresses × 50,001 ports = 3.2M for one server, far above CONCURRENCY; the
# tables get 5 % headroom for the connections closing at the end.
table=$(( conc + conc / 20 + 1024 ))
secs=$(( ramp + hold ))
dir=$(mktemp -d /tmp/bench-gen-conc.XXXXXX)
srv_pid=
cli_pid=
sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true; fi
  if [ -n "$cli_pid" ] && kill -0 "$cli_pid" 2>/dev/null; then kill "$cli_pid"; wait "$cli_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "concurrency $conc, ramp ${ramp}s, hold ${hold}s, one round (100 B → 1000 B) per connection every ${delay}s; [tcp] send_buffer $send, recv_buffer $recv, max_connections $table"
tcp="[tcp]\nmax_connections = $table\nsend_buffer = $send\nrecv_buffer = $recv\nmemory_limit = \"20GiB\""
sed -e "s|/tmp/burst-memif|$dir|g" -e "s|--file-prefix=\([a-z-]*\)|--file-prefix=\1-c$$|" \
    -e "s|^response_bytes = 1024|program = { send = 100, expect = 1000 }\nbacklog = 65536|" \
    -e "s|^duration = \"8s\"|duration = \"$((secs + 15))s\"|" \
    -e '/^\[tcp\]/d' -e "s|^max_connections = .*|$tcp|" configs/gen/tcp-server.toml > "$dir/server.toml"
sed -e "s|/tmp/burst-memif|$dir|g" -e "s|--file-prefix=\([a-z-]*\)|--file-prefix=\1-c$$|" \
    -e 's|^sources = .*|sources = { addresses = "198.18.1.10-198.18.1.73", ports = "10000-60000" }|' \
    -e "s|^concurrency = 100|concurrency = $conc\nramp = \"${ramp}s\"|" \
    -e "s|^duration = \"3s\"|duration = \"${secs}s\"|" \
    -e "s|^timeout = \"1s\"|timeout = \"10s\"|" \
    -e "s|^check_body = true|check_body = false\nprogram = { send = 100, expect = 1000, delay = \"${delay}s\", repeat = 1000000 }|" \
    -e "s|^duration = \"3s\"|duration = \"${secs}s\"|" \
    -e '/^\[tcp\]/d' -e "s|^max_connections = .*|$tcp|" configs/gen/tcp-client.toml > "$dir/client.toml"
timeout $((secs + 60)) "$burst" gen -c "$dir/server.toml" --quiet --json "$dir/server.json" > "$dir/server.txt" 2> "$dir/server.log" &
srv_pid=$!
for _ in $(seq 1 100); do [ -S "$dir/t.sock" ] && break; sleep 0.2; done
timeout $((secs + 60)) "$burst" gen -c "$dir/client.toml" --plain --json "$dir/client.json" > "$dir/client.txt" 2> "$dir/client.log" &
cli_pid=$!
# VmRSS/VmHWM of the two burst processes (the children of the timeouts), once a second.
(
  while sleep 1; do
    for side in server client; do
      [ "$side" = server ] && p=$srv_pid || p=$cli_pid
      c=$(pgrep -P "$p" | head -1) || continue
      awk -v s="$side" -v t="$(date +%s)" '/^VmRSS|^VmHWM/ {printf "%s %s %s %s\n", t, s, $1, $2}' "/proc/$c/status" 2>/dev/null
    done
  done
) > "$dir/rss.txt" &
sampler=$!
wait "$cli_pid" || echo "client exited with $?"
cli_pid=
wait "$srv_pid" || echo "server exited with $?"
srv_pid=
kill "$sampler" 2>/dev/null || true
sampler=
grep -v '^EAL\|memif_probe' "$dir/client.log" || true
cat "$dir/client.txt" "$dir/server.txt"
echo "---- held over seconds $((ramp + 1))..$secs (after the ramp)"
for side in client server; do
  [ -s "$dir/$side.json" ] || { echo "$side: no report"; continue; }
  jq -r --argjson from "$ramp" --argjson to "$secs" --arg side "$side" '
    def held: if $side == "client" then .concurrency else .srv_active end;
    def rps: if $side == "client" then .rps else .srv_rps end;
    [ .series[] | select(.second >= $from and .second < $to) ] as $w
    | if ($w | length) == 0 then "\($side): no seconds in the window" else
      "\($side): held min \([$w[] | held] | min) mean \(([$w[] | held] | add) / ($w | length) | floor) over \($w | length) s; requests/s mean \(([$w[] | rps] | add) / ($w | length) | floor); failures in the window \([$w[] | .failures] | add)" end' "$dir/$side.json"
  hwm=$(awk -v s="$side" '$2 == s && $3 == "VmHWM:" {v = $4} END {print v + 0}' "$dir/rss.txt")
  echo "$side: VmHWM $((hwm / 1024)) MiB = $(( hwm * 1024 / (conc > 0 ? conc : 1) )) B per connection held (of $conc)"
done
