#!/usr/bin/env bash
# HTTP service rate: burst run (the built-in HTTP service, one worker on af_packet) against
# wrk in the lab's peer namespace, keep-alive, small body. Alternating rounds of this build
# and, with BASELINE=/path/to/older/burst, an older one in the same run: prints each round,
# the medians and the ratio new/baseline.
#
# Usage: sudo scripts/bench-http.sh [ROUNDS]    (default 5)
#   SECONDS_PER_RUN (default 5), CONNS (default 32), BASELINE (optional).
# The machine has 2 CPUs: burst's worker on CPU 1, wrk on CPU 0, the control thread shares
# CPU 0. Exits 0 when it ran; the figures are for reading, not a pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${SECONDS_PER_RUN:-5}
conns=${CONNS:-32}
BURST=${BURST:-target/release/burst}
P=${BENCH_HTTP_PREFIX:-bh$$}
P=${P:0:8}
export LAB_PREFIX=$P
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  scripts/lab.sh down host >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "bench-http: wrk missing (scripts/setup.sh installs it)"; exit 1; }
[ -x "$BURST" ] || cargo build -q --release -p burst --features dpdk

sed -e "s/iface=blh0,qpairs=2/iface=${P}h0,qpairs=1/" -e "s|/run/burst/host.sock|$work/burst.sock|" \
  -e "s/burst-host/burst-$P/" -e 's/^cores = 2/cores = 1\ncpus = [1]/' configs/host.toml >"$work/host.toml"
grep -q '^cpus = \[1\]' "$work/host.toml" || { echo "could not set cores = 1 / cpus = [1]"; exit 1; }

scripts/lab.sh up host >/dev/null

# rate BINARY: requests/s of one wrk run against BINARY's HTTP service.
rate() {
  "$1" run -c "$work/host.toml" >"$work/burst.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    grep -q "address ready" "$work/burst.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/burst.log"; exit 1; }
    sleep 0.1
  done
  # Warm up (ARP, the first connections), then measure.
  ip netns exec "${P}peer" taskset -c 0 wrk -t1 -c"$conns" -d1s http://198.18.0.2/ >/dev/null 2>&1 || true
  ip netns exec "${P}peer" taskset -c 0 wrk -t1 -c"$conns" -d"${secs}s" http://198.18.0.2/ >"$work/wrk.txt" 2>&1
  kill -TERM "$pid"; wait "$pid" || true; pid=""
  awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt"
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }
echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo "wrk -t1 -c$conns -d${secs}s keep-alive, burst 1 worker on CPU 1 (af_packet), the body of configs/host.toml"
new=(); old=()
for r in $(seq 1 "$rounds"); do
  n=$(rate "$BURST"); new+=("$n")
  line="round $r: this build $n req/s"
  if [ -n "${BASELINE:-}" ]; then
    o=$(rate "$BASELINE"); old+=("$o")
    line="$line, baseline $o req/s"
  fi
  echo "$line"
done
mn=$(printf '%s\n' "${new[@]}" | median)
echo "median: this build $mn req/s"
if [ -n "${BASELINE:-}" ]; then
  mo=$(printf '%s\n' "${old[@]}" | median)
  echo "median: baseline $mo req/s; ratio this/baseline $(awk -v a="$mn" -v b="$mo" 'BEGIN { printf "%.3f", a / b }')"
fi
