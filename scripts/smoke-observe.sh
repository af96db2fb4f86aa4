#!/usr/bin/env bash
# shellcheck disable=SC2016 # awk programs are single-quoted on purpose
# Observability against real traffic: burst as the router of the lab "router" topology with
# its HTTP service on, Prometheus metrics on 127.0.0.1 and Linux hosts on both sides. Checks,
# each with a PASS/FAIL line:
#   metrics: the endpoint answers in the OpenMetrics text format, scraped every 0.2 s while A
#   floods B with pings: counters only grow and the forwarding counter moves; once traffic
#   stops, every core's fwd.forwarded, l2.rx_frames and each port's NIC rx_packets in a scrape
#   equal `ctl stats`; labels (core, port, pool, protocol/reason, hook) as documented; the
#   filter-hook's packets counted once a rule exists;
#   capture: ping to burst's own address (both directions), TCP to burst's HTTP service and TCP
#   forwarded from A to B (both directions, on the outgoing port) open in tshark with no
#   malformed frame, no bad IP/ICMP/TCP checksum, timestamps in order, streamed with `-w -`
#   into `tshark -r -`; the byte bound (-C) ends a capture;
#   live view: `ctl stats --rates` shows the flood's packet rate on port a; `ctl top` in tmux
#   (send-keys, capture-pane) shows the cores, ports and busiest hooks with live rates, and q
#   quits it;
#   no buffer leaked; SIGTERM stops burst cleanly.
# Needs root. Uses its own lab (SMOKE_OBSERVE_PREFIX) and cleans up on every exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

P=${SMOKE_OBSERVE_PREFIX:-so$$}
P=${P:0:8}
export LAB_PREFIX=$P
A=${P}a
B=${P}b
work=$(mktemp -d)
SOCK=$work/burst.sock
BURST=${BURST:-target/release/burst}
MPORT=$((20000 + $$ % 20000))
METRICS=http://127.0.0.1:$MPORT/metrics
TMUX_SESSION=burst-top-$P
pid=""
bg_pids=()
fails=0
total=0

cleanup() {
  tmux kill-session -t "$TMUX_SESSION" 2>/dev/null
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  scripts/lab.sh down router >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { total=$((total + 1)); echo "PASS $*"; }
fail() { total=$((total + 1)); echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >>"$work/check.log" 2>&1; then pass "$what"; else fail "$what"; tail -5 "$work/check.log"; fi; }
ctl() { "$BURST" ctl --socket "$SOCK" "$@"; }
inA() { ip netns exec "$A" "$@"; }
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }
scrape() { curl -sS --max-time 5 "$METRICS"; }
# Leak check as in smoke-router.sh: each pool's in_use, read when idle after two pings.
pools() {
  ctl ping -c 2 -i 0.1 198.18.1.1 >/dev/null 2>&1
  ctl stats 2>/dev/null | awk '/^pool/ { name = $0; sub(/:$/, "", name); next } /^[^ ]/ { name = "" } name != "" && $1 == "in_use" { printf "%s%s=%s", sep, name, $2; sep = ", " }'
}
# tshark verdict on a capture file: frames, malformed or bad-checksum frames, and whether the
# timestamps are in order. Checksum validation is off by default in tshark: turn it on.
TSHARK_CHECKS=(-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE)
bad_frames() {
  tshark -n "${TSHARK_CHECKS[@]}" -r "$1" -Y '_ws.malformed || ip.checksum.status == "Bad" || icmp.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad"' 2>/dev/null | wc -l
}
in_order() {
  tshark -n -r "$1" -T fields -e frame.time_epoch 2>/dev/null | awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $1 } END { exit bad || NR == 0 }'
}
count() { tshark -n "${TSHARK_CHECKS[@]}" -r "$1" -Y "$2" 2>/dev/null | wc -l; }

for t in tshark tmux curl; do
  command -v "$t" >/dev/null || { echo "missing $t (scripts/setup.sh installs it)"; exit 1; }
done
[ -x "$BURST" ] || { echo "missing $BURST: cargo build --release -p burst --features dpdk"; exit 1; }

# The example router with our interfaces, socket and EAL prefix, the HTTP service and metrics.
sed -e "s/iface=blr0/iface=${P}r0/" -e "s/iface=blr1/iface=${P}r1/" \
  -e "s|/run/burst/router.sock|$SOCK|" -e "s/burst-router/burst-$P/" \
  configs/router.toml >"$work/router.toml"
cat >>"$work/router.toml" <<EOF

[services]
http = true

[metrics]
listen = "127.0.0.1:$MPORT"
EOF

scripts/lab.sh up router >/dev/null || exit 1
"$BURST" run -c "$work/router.toml" >"$work/burst.log" 2>&1 &
pid=$!
ready() {
  kill -0 "$pid" 2>/dev/null || { echo "burst exited"; return 0; }
  [ "$(grep -c 'address ready' "$work/burst.log")" -ge 2 ] && ctl stats >/dev/null 2>&1 && scrape >/dev/null 2>&1
}
if ! wait_for 300 ready || ! kill -0 "$pid" 2>/dev/null; then
  echo "burst did not start:"; cat "$work/burst.log"; exit 1
fi
inA ping -c 2 -i 0.2 -W 1 198.18.2.1 >/dev/null 2>&1 # ARP both sides before the baseline
base=$(pools)

# ---- metrics
curl -sS -D "$work/headers" -o "$work/m0.txt" "$METRICS" 2>>"$work/check.log"
check "metrics: HTTP 200 in the OpenMetrics text format" \
  sh -c "grep -q '^HTTP/1.[01] 200' '$work/headers' && grep -qi '^content-type: application/openmetrics-text' '$work/headers' && tail -1 '$work/m0.txt' | grep -qx '# EOF'"
m0=$work/m0.txt
check "metrics: labelled families (core, port, pool, table, protocol/reason, histograms)" sh -c "
  grep -q '^burst_fwd_forwarded_total{core=\"0\"} ' $m0 &&
  grep -q '^burst_fwd_forwarded_total{core=\"1\"} ' $m0 &&
  grep -q '^burst_nic_rx_packets_total{port=\"a\"} ' $m0 &&
  grep -q '^burst_nic_rx_packets_total{port=\"b\"} ' $m0 &&
  grep -q '^burst_pool_in_use{pool=\"pool\"} ' $m0 &&
  grep -q '^burst_pool_low_water{pool=\"pool\"} ' $m0 &&
  grep -q '^burst_table_entries{table=\"arp_entries\"} ' $m0 &&
  grep -q '^burst_drops_total{core=\"0\",protocol=\"l2\",reason=\"not_our_mac\"} ' $m0 &&
  grep -q '^burst_rx_burst_size_bucket{le=\"+Inf\",core=\"0\"} ' $m0 &&
  grep -q '^burst_loop_seconds_count{core=\"1\"} ' $m0"

# A filter rule that permits ICMP on a: the filter-hook now looks at a's inbound packets.
ctl filter add a in --proto icmp permit >>"$work/check.log" 2>&1

# Flood A -> B (bounded: 8 s, at most 400000 pings) while scraping every 0.2 s and watching.
ip netns exec "$A" timeout 20 ping -f -w 8 -c 400000 -W 1 -q 198.18.2.1 >"$work/flood.txt" 2>&1 &
flood=$!
bg_pids+=("$flood")
sleep 0.5
ctl stats --rates --interval 1 >"$work/rates.txt" 2>&1
for i in $(seq 1 10); do scrape >"$work/s$i.txt" 2>>"$work/check.log"; sleep 0.2; done
fwd_of() { awk '/^burst_fwd_forwarded_total/ { s += $2 } END { print s + 0 }' "$1"; }
grows() {
  local prev=0 i v
  for i in $(seq 1 10); do
    v=$(fwd_of "$work/s$i.txt")
    [ "$v" -ge "$prev" ] || { echo "scrape $i: $v < $prev"; return 1; }
    prev=$v
  done
  [ "$(fwd_of "$work/s10.txt")" -gt "$(fwd_of "$work/s1.txt")" ]
}
check "metrics: 10 scrapes during the flood, fwd.forwarded only grows and moves ($(fwd_of "$work/s1.txt") -> $(fwd_of "$work/s10.txt"))" grows
sed 's/^/  /' "$work/rates.txt" | head -8
check "stats --rates: port a receives the flood (rx > 100 pps)" \
  awk '$1 == "port" && $2 == "a:" { v = $4; m = 1; if (v ~ /k$/) { m = 1000; sub(/k$/, "", v) } else if (v ~ /M$/) { m = 1e6; sub(/M$/, "", v) } if (v * m > 100) ok = 1 } END { exit !ok }' "$work/rates.txt"
check "stats --rates: the filter-hook's packet rate is shown" grep -Eq '^hook filter_in: [0-9.]+[kM]? pps' "$work/rates.txt"

# ---- ctl top in tmux, while the flood runs
tmux new-session -d -s "$TMUX_SESSION" -x 160 -y 40 "$BURST ctl --socket $SOCK top -d 0.5 -n 60"
sleep 2.5
tmux capture-pane -p -t "$TMUX_SESSION" >"$work/top.txt" 2>>"$work/check.log"
sed -n '1,24p' "$work/top.txt"
check "ctl top: the cores, ports and busiest hooks panes" \
  sh -c "grep -q 'burst top' '$work/top.txt' && grep -q ' ports ' '$work/top.txt' && grep -q 'busiest hooks' '$work/top.txt'"
check "ctl top: port a shows a live receive rate" \
  awk '$0 ~ /│ *a / { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+[kM]?$/ && $i + 0 > 0) ok = 1 } END { exit !ok }' "$work/top.txt"
check "ctl top: filter_in among the busiest hooks with a rate" grep -Eq 'filter_in +[0-9.]+[kM]? pps' "$work/top.txt"
tmux send-keys -t "$TMUX_SESSION" q
quit_top() { ! tmux has-session -t "$TMUX_SESSION" 2>/dev/null; }
check "ctl top: q quits it" wait_for 50 quit_top

wait "$flood" 2>/dev/null
bg_pids=()
grep -E 'packets transmitted' "$work/flood.txt"
# Traffic stopped: what a scrape says equals what ctl stats says.
sleep 0.3
scrape >"$work/m1.txt"
ctl stats >"$work/stats1.txt"
equal() {
  local bad=0 core v m
  for core in 0 1; do
    for k in fwd.forwarded l2.rx_frames; do
      v=$(awk -v c="core $core:" -v k="$k" '$0 == c { in_c = 1; next } /^[^ ]/ { in_c = 0 } in_c && $1 == k { print $2 }' "$work/stats1.txt")
      m=$(awk -v n="burst_${k/./_}_total{core=\"$core\"}" '$1 == n { print $2 }' "$work/m1.txt")
      echo "core $core $k: ctl $v, metrics $m"
      [ -n "$v" ] && [ "$v" = "$m" ] || bad=1
    done
  done
  for port in a b; do
    v=$(awk -v c="port $port:" '$0 == c { in_p = 1; next } /^[^ ]/ { in_p = 0 } in_p && $1 == "rx_packets" { print $2 }' "$work/stats1.txt")
    m=$(awk -v n="burst_nic_rx_packets_total{port=\"$port\"}" '$1 == n { print $2 }' "$work/m1.txt")
    echo "port $port rx_packets: ctl $v, metrics $m"
    [ -n "$v" ] && [ "$v" = "$m" ] || bad=1
  done
  return $bad
}
check "metrics equal ctl stats once traffic stops (fwd.forwarded, l2.rx_frames per core; NIC rx per port)" equal
check "metrics: the filter-hook's packets counted (burst_hook_packets_total{hook=\"filter_in\"} > 0)" \
  awk '/^burst_hook_packets_total\{.*hook="filter_in"/ { s += $2 } END { exit !(s > 0) }' "$work/m1.txt"
ctl filter delete a in 0 >>"$work/check.log" 2>&1

# ---- capture: ping to burst's own address, both directions of port a
ctl capture a both -c 6 -W 10 -w "$work/ping.pcapng" icmp 2>"$work/ping.err" &
cap=$!
bg_pids+=("$cap")
sleep 0.5
inA ping -c 3 -i 0.2 -W 1 198.18.1.254 >/dev/null 2>&1
wait "$cap"; rc=$?
bg_pids=()
cat "$work/ping.err"
ping_frames() { [ "$rc" -eq 0 ] && [ "$(count "$work/ping.pcapng" 'icmp.type == 8')" -eq 3 ] && [ "$(count "$work/ping.pcapng" 'icmp.type == 0')" -eq 3 ]; }
check "capture ping: 6 frames, 3 requests in and 3 replies out (rc $rc)" ping_frames
clean() { [ "$(bad_frames "$1")" -eq 0 ] && in_order "$1"; }
check "capture ping: in tshark no malformed frame or bad checksum ($(bad_frames "$work/ping.pcapng") bad), timestamps in order" clean "$work/ping.pcapng"
ping_dirs() {
  [ "$(count "$work/ping.pcapng" 'icmp.type == 8 && frame.packet_flags_direction == 1')" -eq 3 ] &&
  [ "$(count "$work/ping.pcapng" 'icmp.type == 0 && frame.packet_flags_direction == 2')" -eq 3 ]
}
check "capture ping: the directions recorded (requests inbound, replies outbound)" ping_dirs

# ---- capture: TCP to burst's HTTP service, streamed into tshark (-w - | tshark -r -)
( ctl capture a -c 40 -W 4 -w - tcp port 80 2>"$work/http.err" | tshark -n "${TSHARK_CHECKS[@]}" -r - -w "$work/http.pcapng" >/dev/null 2>>"$work/check.log" ) &
cap=$!
bg_pids+=("$cap")
sleep 0.5
check "curl http://198.18.1.254/ (burst's HTTP service)" sh -c "ip netns exec $A curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://198.18.1.254/ | grep -qx 200"
wait "$cap"
bg_pids=()
cat "$work/http.err"
http_frames() {
  local f=$work/http.pcapng
  [ "$(count "$f" 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && frame.packet_flags_direction == 1')" -ge 1 ] &&
  [ "$(count "$f" 'tcp.flags.syn == 1 && tcp.flags.ack == 1 && frame.packet_flags_direction == 2')" -ge 1 ] &&
  [ "$(count "$f" 'http.request.method == "GET"')" -ge 1 ] &&
  [ "$(count "$f" 'http.response.code == 200')" -ge 1 ]
}
check "capture TCP streamed to tshark: SYN in, SYN-ACK out, the request and the 200 response" http_frames
check "capture TCP: no malformed frame or bad checksum ($(bad_frames "$work/http.pcapng") bad), timestamps in order" clean "$work/http.pcapng"

# ---- capture: TCP forwarded A -> B, on the outgoing port b, both directions
ip netns exec "$B" timeout 30 nc -l -p 5001 -d >/dev/null 2>&1 &
srv=$!
bg_pids+=("$srv")
wait_for 50 listening "$B" 5001
# No rate budget (--max-rate 0): the check wants the flow's first 200 frames, and with the
# default 10,000 frames/s per worker how many of them a budget lets through depends on how
# fast the transfer runs (195 in one run, the rest counted over the budget).
ctl capture b -c 200 -W 10 --max-rate 0 -w "$work/fwd.pcapng" tcp port 5001 2>"$work/fwd.err" &
cap=$!
bg_pids+=("$cap")
sleep 0.5
head -c 2000000 /dev/urandom | timeout 20 ip netns exec "$A" nc -N -w 5 198.18.2.1 5001
wait "$cap"
wait "$srv" 2>/dev/null
bg_pids=()
cat "$work/fwd.err"
fwd_frames() {
  local f=$work/fwd.pcapng
  [ "$(count "$f" 'tcp')" -eq 200 ] &&
  [ "$(count "$f" 'ip.src == 198.18.1.1 && ip.ttl == 63 && tcp.len > 0 && frame.packet_flags_direction == 2')" -ge 1 ] &&
  [ "$(count "$f" 'ip.src == 198.18.2.1 && frame.packet_flags_direction == 1')" -ge 1 ]
}
check "capture forwarded TCP on b: 200 frames, data out with TTL 63 and B's ACKs in" fwd_frames
check "capture forwarded TCP: no malformed frame or bad checksum ($(bad_frames "$work/fwd.pcapng") bad), timestamps in order" clean "$work/fwd.pcapng"

# ---- the byte bound: -C 300 ends a capture of 98-byte pings with the frame that reaches 300
# bytes (the 4th)
ctl capture a in -c 100 -C 300 -W 10 -w "$work/bytes.pcapng" icmp 2>"$work/bytes.err" &
cap=$!
bg_pids+=("$cap")
sleep 0.5
inA ping -c 6 -i 0.2 -W 1 198.18.1.254 >/dev/null 2>&1
wait "$cap"
bg_pids=()
check "capture -C 300: ends after 4 frames of 98 bytes ($(count "$work/bytes.pcapng" icmp) captured)" \
  test "$(count "$work/bytes.pcapng" icmp)" -eq 4
check "capture of an unknown port: an error that names it" sh -c "$BURST ctl --socket $SOCK capture nope 2>&1 | grep -q 'no port named nope'"

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
for _ in $(seq 1 50); do now=$(pools); [ -n "$base" ] && [ "$now" = "$base" ] && break; sleep 0.2; done
if [ -n "$base" ] && [ "$now" = "$base" ]; then pass "no buffer leaked: pool in use back at its baseline ($now)"
else fail "buffers leaked or held: pool in use at start ($base), at the end ($now)"; fi
check "SIGTERM stops burst cleanly within 10 s" stop
check "metrics endpoint closed with it" sh -c "! curl -s --max-time 2 $METRICS >/dev/null"

echo
if [ "$fails" -eq 0 ]; then echo "smoke-observe: all checks passed ($total/$total PASS)"; else echo "smoke-observe: $fails check(s) failed ($((total - fails))/$total PASS)"; fi
[ "$fails" -eq 0 ]
