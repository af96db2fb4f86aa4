#!/usr/bin/env bash
# TCP bulk goodput and connection rate: two burst TcpStacks against smoltcp 0.14 (Loopback
# device, two sockets), each in one thread on an in-memory link, MTU 1500, software checksums,
# same run (benches/src/bin/tcpbench). burst's bulk runs twice: one segment per poll_transmit,
# and with TSO (super-segments of up to 44 MSS cut into wire segments in software by the
# harness, as the port layer's fallback does; every wire segment still verified). Alternating, several rounds, pinned to CPU 1; prints each
# round, the medians and the ratio burst/smoltcp. Then instructions per data segment from
# valgrind (cachegrind): the difference in instructions between an 8 MiB and a 32 MiB transfer
# divided by the difference in data segments, so setup costs cancel out.
#
# Usage: scripts/bench-tcp.sh [ROUNDS]      (default 5)
#   BULK_BYTES (default 1 GiB) and CPS_CONNS (default 50000) size each run.
# Exits 0 when it ran; goals missed are reported, not errors.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bulk_bytes=${BULK_BYTES:-1073741824}
cps_conns=${CPS_CONNS:-50000}

cargo build -q --release -p burst-benches --bin tcpbench
tb=target/release/tcpbench
pin=()
if command -v taskset >/dev/null && taskset -c 1 true 2>/dev/null; then pin=(taskset -c 1); fi

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }
# The value of `key=` in a tcpbench output line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
run() { timeout 120 "${pin[@]}" "$tb" "$@"; }
# glibc returns freed heap tops to the kernel (brk) once more than 128 KiB are free; burst
# allocates (and zeroes) its rings per connection, so every connection then faults its pages
# back in. The third CPS column shows the rate with trimming off.
notrim=glibc.malloc.trim_threshold=1099511627776

# Once, not timed: every byte received compared with what was sent.
"$tb" burst-bulk $((8 << 20)) --check >/dev/null
"$tb" burst-bulk-tso $((8 << 20)) --check >/dev/null
"$tb" smoltcp-bulk $((8 << 20)) --check >/dev/null
echo "load before: $(uptime | sed 's/.*load average/load average/')"
echo "bulk: $bulk_bytes bytes per run; connections: $cps_conns per run; pinned: ${pin[*]:-no}"
bb_all=(); bt_all=(); sb_all=(); bc_all=(); sc_all=(); bn_all=()
for r in $(seq 1 "$rounds"); do
  bb=$(run burst-bulk "$bulk_bytes" | field gbps)
  bt=$(run burst-bulk-tso "$bulk_bytes" | field gbps)
  sb=$(run smoltcp-bulk "$bulk_bytes" | field gbps)
  bc=$(run burst-cps "$cps_conns" | field cps)
  sc=$(run smoltcp-cps "$cps_conns" | field cps)
  bn=$(GLIBC_TUNABLES=$notrim run burst-cps "$cps_conns" | field cps)
  printf 'round %d: bulk burst %6.2f Gbit/s  burst TSO %6.2f Gbit/s  smoltcp %6.2f Gbit/s | conn/s burst %7.0f  smoltcp %7.0f  burst (no heap trim) %7.0f\n' \
    "$r" "$bb" "$bt" "$sb" "$bc" "$sc" "$bn"
  bb_all+=("$bb"); bt_all+=("$bt"); sb_all+=("$sb"); bc_all+=("$bc"); sc_all+=("$sc"); bn_all+=("$bn")
done
bbm=$(printf '%s\n' "${bb_all[@]}" | median)
btm=$(printf '%s\n' "${bt_all[@]}" | median)
sbm=$(printf '%s\n' "${sb_all[@]}" | median)
bcm=$(printf '%s\n' "${bc_all[@]}" | median)
scm=$(printf '%s\n' "${sc_all[@]}" | median)
bnm=$(printf '%s\n' "${bn_all[@]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
bulk_ratio=$(ratio "$bbm" "$sbm")
tso_ratio=$(ratio "$btm" "$sbm")
printf 'median over %d rounds: bulk burst %.2f Gbit/s, smoltcp %.2f Gbit/s, ratio %s\n' "$rounds" "$bbm" "$sbm" "$bulk_ratio"
printf 'median over %d rounds: bulk burst TSO %.2f Gbit/s, ratio to smoltcp %s\n' "$rounds" "$btm" "$tso_ratio"
printf 'median over %d rounds: conn/s burst %.0f, smoltcp %.0f, ratio %s (burst without heap trimming %.0f, ratio %s)\n' \
  "$rounds" "$bcm" "$scm" "$(ratio "$bcm" "$scm")" "$bnm" "$(ratio "$bnm" "$scm")"
echo "load after: $(uptime | sed 's/.*load average/load average/')"

# Instructions per data segment. Under valgrind every iteration of a `rep movsb`/`rep stosb`
# counts as one instruction, and glibc copies blocks above ~2 KiB (the applications' writes)
# with them: raise glibc's thresholds so memcpy/memset use their vector loops, whose
# instruction counts reflect the work (same setting for both stacks).
ips_burst=""; ips_tso=""
if command -v valgrind >/dev/null; then
  small=$((8 << 20)); large=$((32 << 20))
  export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=2147483647:glibc.cpu.x86_rep_stosb_threshold=2147483647
  for stack in burst burst-tso smoltcp; do
    case $stack in burst-tso) mode=burst-bulk-tso ;; *) mode=$stack-bulk ;; esac
    declare -A ir=() segs=()
    for size in $small $large; do
      out=$("${pin[@]}" valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
              "$tb" "$mode" "$size" 2>&1)
      ir[$size]=$(printf '%s\n' "$out" | sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d ,)
      segs[$size]=$(printf '%s\n' "$out" | grep '^mode=' | field data_segments)
    done
    ips=$(awk -v a="${ir[$small]}" -v b="${ir[$large]}" -v c="${segs[$small]}" -v d="${segs[$large]}" \
            'BEGIN {printf "%.0f", (b - a) / (d - c)}')
    printf 'instructions per data segment, %s: %s  (%s - %s instructions over %s - %s data segments)\n' \
      "$stack" "$ips" "${ir[$large]}" "${ir[$small]}" "${segs[$large]}" "${segs[$small]}"
    [ "$stack" = burst ] && ips_burst=$ips
    [ "$stack" = burst-tso ] && ips_tso=$ips
    unset ir segs
  done
  unset GLIBC_TUNABLES
else
  echo "valgrind not found (scripts/setup.sh installs it): no instruction counts"
fi

goal() { if [ "$1" = 1 ]; then echo met; else echo MISSED; fi; }
echo "goal goodput >= 2x smoltcp: $(goal "$(awk -v r="$bulk_ratio" 'BEGIN {print (r >= 2)}')") (ratio $bulk_ratio)"
echo "goal goodput >= 2x smoltcp, TSO: $(goal "$(awk -v r="$tso_ratio" 'BEGIN {print (r >= 2)}')") (ratio $tso_ratio)"
if [ -n "$ips_burst" ]; then
  echo "goal <= 2000 instructions per data segment: $(goal "$(awk -v i="$ips_burst" 'BEGIN {print (i <= 2000)}')") ($ips_burst)"
  echo "goal <= 2000 instructions per wire segment, TSO: $(goal "$(awk -v i="$ips_tso" 'BEGIN {print (i <= 2000)}')") ($ips_tso)"
fi
