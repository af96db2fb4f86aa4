#!/usr/bin/env bash
# io forwarding on two net_null ports, one forwarding core: burst's iofwd example against
# dpdk-testpmd --forward-mode=io, alternating, several rounds, same machine, same run.
# Prints each round's steady-state rate (median of the per-second rates after the first
# second), the medians over rounds, and the ratio burst/testpmd.
#
# Usage: scripts/bench-iofwd.sh [ROUNDS] [SECONDS]     (default 5 rounds of 6 s each)
# BASE=/path/to/an/older/iofwd adds that build to every round (before/after, same run).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-6}

command -v dpdk-testpmd >/dev/null || { echo "dpdk-testpmd not found (run scripts/setup.sh)"; exit 1; }
cargo build -q --release -p burst-port --features dpdk --example iofwd
iofwd=target/release/examples/iofwd
# Both forward on CPU 1; testpmd's main lcore (0) only prints statistics.
eal=(--no-huge --no-pci --no-shconf --no-telemetry -m 512 --log-level=lib.eal:error --vdev=net_null0 --vdev=net_null1)

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }

b_all=(); t_all=(); o_all=()
for r in $(seq 1 "$rounds"); do
  if [ -n "${BASE:-}" ]; then
    o=$("$BASE" --seconds "$secs" --verbose -- "${eal[@]}" -l 1 --file-prefix=bench-iofwd 2>/dev/null \
        | awk '/^rx [0-9.]+ Mpps/ {print $2}' | tail -n +2 | median)
    printf 'round %d: BASE %6.2f Mpps\n' "$r" "$o"
    o_all+=("$o")
  fi
  b=$("$iofwd" --seconds "$secs" --verbose -- "${eal[@]}" -l 1 --file-prefix=bench-iofwd 2>/dev/null \
      | awk '/^rx [0-9.]+ Mpps/ {print $2}' | tail -n +2 | median)
  # testpmd prints one "Rx-pps" line per port per second; sum the pairs, skip warm-up seconds.
  # (testpmd runs until the INT from timeout, whose exit status is not a failure here.)
  t=$({ timeout -s INT $((secs + 2)) dpdk-testpmd "${eal[@]}" -l 0,1 --file-prefix=bench-testpmd -- \
        --forward-mode=io --stats-period 1 --total-num-mbufs=16384 </dev/null 2>/dev/null || true; } \
      | awk '/Rx-pps:/ {s += $2; n++; if (n % 2 == 0) {if (s > 0) print s / 1e6; s = 0}}' \
      | tail -n +2 | median)
  printf 'round %d: burst iofwd %6.2f Mpps   testpmd io %6.2f Mpps\n' "$r" "$b" "$t"
  b_all+=("$b"); t_all+=("$t")
done
bm=$(printf '%s\n' "${b_all[@]}" | median)
tm=$(printf '%s\n' "${t_all[@]}" | median)
if [ -n "${BASE:-}" ]; then
  om=$(printf '%s\n' "${o_all[@]}" | median)
  printf 'median over %d rounds: BASE %.2f Mpps, ratio %s\n' "$rounds" "$om" "$(awk -v b="$om" -v t="$tm" 'BEGIN {printf "%.3f", (t > 0 ? b / t : 0)}')"
fi
ratio=$(awk -v b="$bm" -v t="$tm" 'BEGIN {printf "%.3f", (t > 0 ? b / t : 0)}')
printf 'median over %d rounds: burst iofwd %.2f Mpps, testpmd io %.2f Mpps, ratio %s\n' "$rounds" "$bm" "$tm" "$ratio"
