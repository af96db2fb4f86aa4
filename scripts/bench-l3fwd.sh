#!/usr/bin/env bash
# IPv4 forwarding on one core and two ports: burst's router mode (configs/bench-router.toml)
# against DPDK's l3fwd example in LPM mode, alternating, several rounds, same machine, same run.
#
# Both read the same 64-byte IPv4/TCP frames (60 bytes + FCS; scripts/bench-l3fwd.py pcap)
# from net_pcap vdevs in a loop (infinite_rx=1): port 0 gets 198.18.0.x -> 198.18.1.x, port 1
# the reverse, so every frame leaves by the other port. Neither has a tx_pcap: net_pcap drops
# the transmitted frames and counts them in opackets. Both are pinned to CPU 1 and their rate
# is read the same way, from DPDK telemetry (/ethdev/stats of both ports): forwarded frames
# (opackets summed) over SECONDS after a 2 s warm-up, sampled from CPU 0.
#
# A third run per round is burst with a large route table: every prefix /16../32 of
# 198.18.0.0/15 that leaves the test and transit subnets alone (260,082 routes; the address
# rule allows no more, see docs/benchmarks.md).
#
# Prints each round's rates, the medians over rounds, and the ratios burst/l3fwd and
# burst big table/burst. Exits non-zero if a tool fails to build or run, not on the ratio.
#
# Usage: scripts/bench-l3fwd.sh [ROUNDS] [SECONDS]     (default 5 rounds of 5 s each)
#   BASELINE=/path/to/an/older/burst adds that binary (same configuration) to every round, for
#   before/after comparisons of a change in the same run. BURST=/path/to/burst measures that
#   binary as "burst" instead of building the worktree's (a build kept aside while the source
#   moves on).
#   NAT=1 adds burst with NAT44 (NAPT to the pool address 198.19.1.3 on port b's subnet, not
#   one of burst's own, so all of 1024-65535 is the pool's) to every round, on traffic of
#   established TCP connections (ACK segments) translated both ways: port a's frames are the
#   inside hosts' (one session per flow, 256 by default, FLOWS=N for more, 64,512 mappings at
#   most), port b's the answers to them, sent to the public address and its preserved ports. Its median is compared with plain burst's of the same run (same frame
#   size and flow count; plain burst's frames are SYNs, which forwarding does not look at).
#   With BASELINE too, the baseline binary runs the NAT configuration as well.
#   FLOWS above 4096: net_pcap holds every frame of its pcap in a buffer of the port's pool,
#   so every burst run gets a pool of 2 x FLOWS + 16384 small buffers (256-byte data room,
#   MTU 200, enough EAL memory) and the NAT run a conntrack table of FLOWS + 4096 sessions;
#   l3fwd and the large route table, whose pools are fixed, are left out, and the warm-up is
#   WARM seconds (default 10 then, 2 otherwise: the NAT run creates every session first).
#   OBSERVE=1 adds three burst runs per round, each with its worker pinned to CPU 1 and its
#   control thread on CPU 0 (`[eal] cpus = [1]`, as a deployment places them: the control
#   thread serves scrapes and drains captures): the reference with nothing observed, with
#   [metrics] on and scraped every second (curl on CPU 0), and with `burst ctl capture` of
#   both directions of port a running (to /dev/null) — the capture must drop and count, not
#   slow forwarding. Their ratios are to that reference. CAPTURE_RATE sets the capture's
#   --max-rate (frames per second per worker, default: ctl capture's own, 10000).
#   OBSERVE_ONLY=1 runs only those three (no l3fwd, no plain or large-table burst); BUSY0=1
#   adds a fourth with CPU 0 kept busy by `yes`, to tell the control thread's CPU use from
#   the worker's own cost.
#   NEW=1 measures new NAT sessions per second end to end (and nothing else): port a's pcap is
#   FLOWS unique TCP SYNs (default 3,000,000: 64,512 inside endpoints, one mapping each, to
#   up to 47 destination ports), read once in a loop; port b reads one frame and then
#   nothing. Every SYN forwarded in the window created its session (the full path: IPv4
#   input, route, firewall-hook, session and mapping), so the rate is new sessions per
#   second; the run fails if the pcap looped before the window ended (raise FLOWS).
#   NAT_ONLY=1 runs only burst with NAT (and BASELINE with NAT): for before/after pairs of a
#   NAT change, without the plain runs (no ratio to plain forwarding is printed then).
#   LOG_DIR=DIR keeps each run's output (DIR/NAME.rROUND.log: burst's counters at exit).
#   PERF_DIR=DIR records a profile of CPU 1 (perf record -g) over each sampled window, one
#   file per run and round (DIR/NAME.rROUND.data), for `perf report -i`.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
secs=${2:-5}
new=${NEW:-}
flows=${FLOWS:-$([ -n "$new" ] && echo 3000000 || echo 256)}
many=""
[ "$flows" -gt 4096 ] && many=1
warm=${WARM:-$([ -n "$new" ] && echo 1 || { [ -n "$many" ] && echo 10 || echo 2; })}
cpu=1
helper=scripts/bench-l3fwd.py

if ! pkg-config --exists libdpdk 2>/dev/null; then
  echo "DPDK development files not found (run scripts/setup.sh)"; exit 1
fi
[ -d /usr/share/dpdk/examples/l3fwd ] || { echo "l3fwd source not found: install dpdk-doc (scripts/setup.sh)"; exit 1; }
for t in python3 taskset timeout make patch cc; do
  command -v "$t" >/dev/null || { echo "$t not found (run scripts/setup.sh)"; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs (forwarding on CPU $cpu, sampling on CPU 0)"; exit 1; }

tmp=$(mktemp -d /tmp/bench-l3fwd.XXXXXX)
runtime=/var/run/dpdk
[ "$(id -u)" -eq 0 ] || runtime=${XDG_RUNTIME_DIR:-/tmp}/dpdk
pid=""
prefixes=()
cleanup() {
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
  for p in "${prefixes[@]}"; do rm -rf "${runtime:?}/$p"; done
}
trap cleanup EXIT

# --- l3fwd: a copy of Debian's examples/l3fwd, patched for vdevs, built with its Makefile ---
src=target/l3fwd-src
l3fwd=$src/l3fwd/build/l3fwd
stamp=$(cat scripts/l3fwd-vdev.patch /usr/share/dpdk/examples/l3fwd/main.c | sha256sum | cut -c1-16)
if [ ! -x "$l3fwd" ] || [ "$(cat "$src/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "building l3fwd in $src"
  rm -rf "$src"
  mkdir -p "$src"
  cp -r /usr/share/dpdk/examples/l3fwd /usr/share/dpdk/examples/common "$src/"
  (cd "$src/l3fwd" && patch -s -p1 --forward < ../../../scripts/l3fwd-vdev.patch && make -s >/dev/null)
  echo "$stamp" > "$src/stamp"
fi
if [ -n "${BURST:-}" ]; then
  [ -x "$BURST" ] || { echo "BURST=$BURST is not an executable"; exit 1; }
  burst=$BURST
else
  cargo build -q --release --features dpdk -p burst
  burst=target/release/burst
fi

# --- inputs: one pcap per port, addressed to the router port's MAC ---
# net_pcap's own MACs (02:70:63:61:70:<port>, "pcap"): it cannot change them, so burst's
# config keeps the device's (no `mac` key) and the frames are addressed to these.
mac0=02:70:63:61:70:00 mac1=02:70:63:61:70:01
nh0=02:00:00:00:00:10 nh1=02:00:00:00:00:20        # next hops: 198.19.0.2, 198.19.1.2
# (Only the plain runs read these: one frame each when there are none.)
pflows=$flows
[ -n "${NAT_ONLY:-}$new" ] && [ -z "${OBSERVE:-}${OBSERVE_ONLY:-}" ] && pflows=1
python3 "$helper" pcap "$tmp/port0.pcap" "$mac0" 198.18.0 198.18.1 "$pflows"
python3 "$helper" pcap "$tmp/port1.pcap" "$mac1" 198.18.1 198.18.0 "$pflows"
vdevs=("--vdev=net_pcap0,rx_pcap=$tmp/port0.pcap,infinite_rx=1" "--vdev=net_pcap1,rx_pcap=$tmp/port1.pcap,infinite_rx=1")
if [ -n "$new" ]; then
  # New connections through NAPT: every frame a SYN of its own flow; port b's one frame (an
  # answer to nothing, dropped) and then silence.
  python3 "$helper" pcap "$tmp/nat0.pcap" "$mac0" 198.18.0 198.18.1 "$flows" 2
  python3 "$helper" replies "$tmp/nat1.pcap" "$mac1" 198.18.1 198.19.1.3 1 16
elif [ -n "${NAT:-}${NAT_ONLY:-}" ]; then
  # Established connections through NAPT (ACK segments, flags 16): out, and the answers in.
  python3 "$helper" pcap "$tmp/nat0.pcap" "$mac0" 198.18.0 198.18.1 "$flows" 16
  python3 "$helper" replies "$tmp/nat1.pcap" "$mac1" 198.18.1 198.19.1.3 "$flows" 16
fi

# burst's configurations: the committed one with this run's pcaps, prefix and socket, and the
# same plus the large table.
bprefix=bench-l3fwd-burst$$
sed -e "s#target/bench-l3fwd/#$tmp/#g" -e "s#--file-prefix=burst-bench-l3fwd#--file-prefix=$bprefix#" \
    -e "s#/run/burst/bench-l3fwd.sock#$tmp/burst.sock#" configs/bench-router.toml > "$tmp/small.toml"
grep -q "$tmp/port0.pcap" "$tmp/small.toml" || { echo "configs/bench-router.toml: pcap paths not found"; exit 1; }
if [ -n "$many" ]; then
  mem=$(( (2 * flows + 16384) * 640 / 1048576 + 512 ))
  sed -i -e "s#^cores = 1\$#cores = 1\nmbufs = $((2 * flows + 16384))\nmbuf_data_room = 256#" \
      -e "s#\"-m\", \"512\"#\"-m\", \"$mem\"#" -e "s#^offloads = false\$#offloads = false\nmtu = 200#" "$tmp/small.toml"
  grep -q "^mbufs = " "$tmp/small.toml" && grep -q "^mtu = 200" "$tmp/small.toml" && grep -q "\"$mem\"" "$tmp/small.toml" ||
    { echo "configs/bench-router.toml: cannot size the pools for FLOWS=$flows"; exit 1; }
fi
gprefix=bench-l3fwd-big$$
{ sed "s#--file-prefix=$bprefix#--file-prefix=$gprefix#" "$tmp/small.toml"
  python3 "$helper" routes 198.19.0.2 198.19.1.2; } > "$tmp/big.toml"
lprefix=bench-l3fwd-l3fwd$$
oprefix=bench-l3fwd-base$$
sed "s#--file-prefix=$bprefix#--file-prefix=$oprefix#" "$tmp/small.toml" > "$tmp/base.toml"
mprefix=bench-l3fwd-metrics$$
cprefix=bench-l3fwd-capture$$
rprefix=bench-l3fwd-ref$$
# The observed runs: the worker on CPU $cpu, the control thread on the other (CPU 0).
sed -e "s#--file-prefix=$bprefix#--file-prefix=$rprefix#" -e "s#^cores = 1\$#cores = 1\ncpus = [$cpu]#" \
  "$tmp/small.toml" > "$tmp/ref.toml"
grep -q "^cpus = \[$cpu\]" "$tmp/ref.toml" || { echo "configs/bench-router.toml: no 'cores = 1' line in [eal]"; exit 1; }
{ sed "s#--file-prefix=$rprefix#--file-prefix=$mprefix#" "$tmp/ref.toml"
  printf '\n[metrics]\nlisten = "127.0.0.1:19108"\n'; } > "$tmp/metrics.toml"
sed "s#--file-prefix=$rprefix#--file-prefix=$cprefix#" "$tmp/ref.toml" > "$tmp/capture.toml"
nprefix=bench-l3fwd-nat$$
{ sed -e "s#--file-prefix=$bprefix#--file-prefix=$nprefix#" -e "s#$tmp/port\([01]\).pcap#$tmp/nat\1.pcap#" "$tmp/small.toml"
  printf '\n[nat]\noutside = ["b"]\npool = ["198.19.1.3"]\n'
  [ -n "$many" ] && printf '\n[conntrack]\nmax_sessions = %d\n' $((flows + 4096)); } > "$tmp/nat.toml"
grep -q "$tmp/nat1.pcap" "$tmp/nat.toml" || { echo "nat.toml: pcap paths not replaced"; exit 1; }
if [ -n "$new" ]; then
  sed -i "s#rx_pcap=$tmp/nat1.pcap,infinite_rx=1#rx_pcap=$tmp/nat1.pcap#" "$tmp/nat.toml"
  grep -q "rx_pcap=$tmp/nat1.pcap\"" "$tmp/nat.toml" || { echo "nat.toml: port b's infinite_rx not removed"; exit 1; }
fi
aprefix=bench-l3fwd-basenat$$
sed "s#--file-prefix=$nprefix#--file-prefix=$aprefix#" "$tmp/nat.toml" > "$tmp/basenat.toml"
prefixes=("$bprefix" "$gprefix" "$lprefix" "$oprefix" "$mprefix" "$cprefix" "$rprefix" "$nprefix" "$aprefix")
nat=${NAT:-}
observe=${OBSERVE:-}
# A job started once the tool is up (while its rate is sampled) and stopped after.
side=""
baseline=${BASELINE:-}
# OBSERVE_ONLY: the observed runs and nothing else.
if [ -n "${OBSERVE_ONLY:-}" ]; then observe=1 nat="" baseline=""; fi
nat_only=${NAT_ONLY:-}$new
[ -n "$nat_only" ] && nat=1
# The plain runs (burst, l3fwd, the large table, the baseline): not in the *_ONLY modes.
plain=1
[ -n "${OBSERVE_ONLY:-}$nat_only" ] && plain=
if [ -n "$baseline" ] && [ ! -x "$baseline" ]; then echo "BASELINE=$baseline is not an executable"; exit 1; fi

# run NAME PREFIX READY_PATTERN START_TIMEOUT CMD...: starts CMD on CPU $cpu, waits (bounded)
# for READY_PATTERN in its output and its telemetry socket, samples the rate from CPU 0, stops
# it with SIGINT. Sets rate and rx (forwarded and received Mpps); fails if the tool did not
# come up or exited with an error.
run() {
  local name=$1 prefix=$2 ready=$3 start=$4
  shift 4
  local log=$tmp/$name.log sock=$runtime/$prefix/dpdk_telemetry.v2 out i rc=0
  timeout -s INT $((start + warm + secs + 30)) taskset -c "${run_cpus:-$cpu}" "$@" >"$log" 2>&1 </dev/null &
  pid=$!
  for ((i = 0; i < start * 10; i++)); do
    if grep -q "$ready" "$log" && [ -S "$sock" ]; then break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q "$ready" "$log" || ! [ -S "$sock" ]; then
    echo "$name did not start within ${start} s; its output:" >&2; tail -20 "$log" >&2; return 1
  fi
  local side_pid=""
  if [ -n "$side" ]; then
    taskset -c 0 bash -c "$side" >"$tmp/$name.side.log" 2>&1 &
    side_pid=$!
  fi
  local perf_pid=""
  if [ -n "${PERF_DIR:-}" ]; then
    mkdir -p "$PERF_DIR"
    (sleep "$warm"; exec perf record -q -g -C "$cpu" -o "$PERF_DIR/$name.r$r.data" -- sleep "$secs") >/dev/null 2>&1 &
    perf_pid=$!
  fi
  if [ -n "$new" ]; then
    out=$(timeout -s INT 130 taskset -c 0 python3 "$helper" first-pass "$sock" "$flows" 120 0 1) || {
      echo "$name: reading telemetry failed" >&2; tail -20 "$log" >&2; return 1; }
    # What the node counted: sessions created, refusals, drops (kept with LOG_DIR).
    timeout 20 "$burst" ctl --socket "$tmp/burst.sock" stats >>"$log" 2>&1 || true
  else
  out=$(timeout -s INT $((warm + secs + 10)) taskset -c 0 python3 "$helper" rate "$sock" "$warm" "$secs" 0 1) || {
    echo "$name: reading telemetry failed" >&2; tail -20 "$log" >&2; return 1; }
  fi
  if [ -n "$perf_pid" ]; then wait "$perf_pid" || true; fi
  if [ -n "$side_pid" ]; then kill "$side_pid" 2>/dev/null || true; wait "$side_pid" 2>/dev/null || true; fi
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  pid=""
  rm -rf "${runtime:?}/$prefix"   # EAL leaves the (empty) runtime directory
  # 0: stopped by our SIGINT; 124: timeout's SIGINT. Anything else is a failure.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
    echo "$name exited with status $rc; its output:" >&2; tail -20 "$log" >&2; return 1
  fi
  echo "$name: $out" >>"$tmp/detail.log"
  if [ -n "${LOG_DIR:-}" ]; then mkdir -p "$LOG_DIR" && cp "$log" "$LOG_DIR/$name.r$r.log"; fi
  read -r rate rx q total < <(awk '{for (i = 1; i < NF; i++) v[$i] = $(i + 1)}
      END {printf "%.3f %.3f %.0f %d\n", v["rate"], v["ipackets"] / v["window"] / 1e6, v["query_ms"], v["total_opackets"]}' <<<"$out")
  # A slow telemetry answer means the CPU was shared with something else: say so.
  if [ "$q" -gt 100 ]; then echo "  ($name: a telemetry query took $q ms)" >&2; fi
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }

echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
b_all=(); l_all=(); g_all=(); o_all=(); m_all=(); c_all=(); r_all=(); n_all=(); a_all=()
for r in $(seq 1 "$rounds"); do
  if [ -n "$plain" ]; then
  run burst "$bprefix" "burst running" 30 "$burst" run -c "$tmp/small.toml"
  b=$rate brx=$rx
  l=0 lrx=0 g=0 grx=0
  if [ -z "$many" ]; then
    run l3fwd "$lprefix" "entering main loop" 30 "$l3fwd" \
        -l "$cpu" --no-huge --no-pci --no-shconf -m 512 --file-prefix="$lprefix" --log-level=lib.eal:error "${vdevs[@]}" -- \
        -p 0x3 --config="(0,0,$cpu),(1,0,$cpu)" --parse-ptype --eth-dest=0,"$nh0" --eth-dest=1,"$nh1"
    l=$rate lrx=$rx
    run burst-big "$gprefix" "burst running" 300 "$burst" run -c "$tmp/big.toml"
    g=$rate grx=$rx
  fi
  if [ -n "$many" ]; then
    printf 'round %d: burst %6.2f Mpps (rx %6.2f)\n' "$r" "$b" "$brx"
  else
    printf 'round %d: burst %6.2f Mpps (rx %6.2f)   l3fwd-lpm %6.2f Mpps (rx %6.2f)   burst, %s routes %6.2f Mpps (rx %6.2f)\n' \
      "$r" "$b" "$brx" "$l" "$lrx" 260082 "$g" "$grx"
  fi
  b_all+=("$b"); l_all+=("$l"); g_all+=("$g")
  fi
  if [ -n "$baseline" ] && [ -n "$plain" ]; then
    run baseline "$oprefix" "burst running" 30 "$baseline" run -c "$tmp/base.toml"
    printf '         baseline %s: %6.2f Mpps (rx %6.2f)\n' "$baseline" "$rate" "$rx"
    o_all+=("$rate")
  fi
  if [ -n "$nat" ]; then
    run burst-nat "$nprefix" "burst running" $([ -n "$many" ] && echo 120 || echo 30) "$burst" run -c "$tmp/nat.toml"
    if [ -n "$new" ]; then
      printf '         burst with NAT, new sessions: %6.3f M/s (frames forwarded by the end of the window: %d of %d unique)\n' "$rate" "$total" "$flows"
      [ "$total" -le "$flows" ] || { echo "the pcap looped before the window ended: raise FLOWS" >&2; exit 1; }
    else
    printf '         burst with NAT (%d sessions): %6.2f Mpps (rx %6.2f)\n' "$flows" "$rate" "$rx"
    fi
    n_all+=("$rate")
    if [ -n "$baseline" ]; then
      run baseline-nat "$aprefix" "burst running" 30 "$baseline" run -c "$tmp/basenat.toml"
      printf '         baseline with NAT: %6.2f Mpps (rx %6.2f)\n' "$rate" "$rx"
      a_all+=("$rate")
    fi
  fi
  if [ -n "$observe" ]; then
    run_cpus="0,$cpu"
    run burst-ref "$rprefix" "burst running" 30 "$burst" run -c "$tmp/ref.toml"
    ref=$rate
    side="for i in \$(seq 1 60); do curl -s -o /dev/null http://127.0.0.1:19108/metrics; sleep 1; done"
    run burst-metrics "$mprefix" "burst running" 30 "$burst" run -c "$tmp/metrics.toml"
    m=$rate
    side="$burst ctl --socket $tmp/burst.sock capture a --dir both -c 4000000000 -C 0 ${CAPTURE_RATE:+--max-rate $CAPTURE_RATE} -W $((warm + secs - 1)) -w /dev/null"
    run burst-capture "$cprefix" "burst running" 30 "$burst" run -c "$tmp/capture.toml"
    c=$rate
    if [ -n "${BUSY0:-}" ]; then
      side="timeout $((warm + secs + 5)) yes >/dev/null"
      run burst-busy0 "$rprefix" "burst running" 30 "$burst" run -c "$tmp/ref.toml"
      printf '         CPU 0 kept busy (yes): burst %6.2f Mpps\n' "$rate"
    fi
    side="" run_cpus=""
    printf '         control on CPU 0: burst %6.2f Mpps   metrics scraped every second %6.2f Mpps   capturing port a %6.2f Mpps (%s)\n' \
      "$ref" "$m" "$c" "$(tail -1 "$tmp/burst-capture.side.log" 2>/dev/null)"
    r_all+=("$ref"); m_all+=("$m"); c_all+=("$c")
  fi
done
bm=0
if [ -n "$plain" ]; then
  bm=$(printf '%s\n' "${b_all[@]}" | median)
  lm=$(printf '%s\n' "${l_all[@]}" | median)
  gm=$(printf '%s\n' "${g_all[@]}" | median)
  ratio=$(awk -v b="$bm" -v t="$lm" 'BEGIN {printf "%.3f", (t > 0 ? b / t : 0)}')
  gratio=$(awk -v b="$gm" -v t="$bm" 'BEGIN {printf "%.3f", (t > 0 ? b / t : 0)}')
  if [ -n "$many" ]; then
    printf 'median over %d rounds: burst %.2f Mpps (l3fwd and the large table left out: FLOWS=%d)\n' "$rounds" "$bm" "$flows"
  else
    printf 'median over %d rounds: burst %.2f Mpps, l3fwd-lpm %.2f Mpps, ratio burst/l3fwd %s (goal >= 1.25)\n' "$rounds" "$bm" "$lm" "$ratio"
    printf 'burst with 260082 routes: %.2f Mpps, %s of burst with the 2 test routes\n' "$gm" "$gratio"
  fi
fi
if [ -n "$baseline" ] && [ -n "$plain" ]; then
  om=$(printf '%s\n' "${o_all[@]}" | median)
  printf 'baseline %s: %.2f Mpps; this burst / baseline %s, baseline / l3fwd %s\n' "$baseline" "$om" \
    "$(awk -v b="$bm" -v t="$om" 'BEGIN {printf "%.3f", (t > 0 ? b / t : 0)}')" \
    "$(awk -v b="$om" -v t="$lm" 'BEGIN {printf "%.3f", (t > 0 ? b / t : 0)}')"
fi
if [ -n "$new" ]; then
  nm=$(printf '%s\n' "${n_all[@]}" | median)
  printf 'burst with NAT: %.3f M new sessions per second (median of %d rounds; goal >= 1)\n' "$nm" "$rounds"
elif [ -n "$nat" ]; then
  nm=$(printf '%s\n' "${n_all[@]}" | median)
  if [ -n "$plain" ]; then
    printf 'burst with NAT (%d sessions): %.2f Mpps, %s of burst without (goal >= 0.7)\n' "$flows" "$nm" \
      "$(awk -v a="$nm" -v b="$bm" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')"
  else
    printf 'burst with NAT (%d sessions): %.2f Mpps (NAT_ONLY: no plain run to compare with)\n' "$flows" "$nm"
  fi
  if [ -n "$baseline" ]; then
    am=$(printf '%s\n' "${a_all[@]}" | median)
    printf 'baseline with NAT: %.2f Mpps; this burst with NAT / baseline with NAT %s\n' "$am" \
      "$(awk -v a="$nm" -v b="$am" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')"
  fi
fi
if [ -n "$observe" ]; then
  rm_=$(printf '%s\n' "${r_all[@]}" | median)
  mm=$(printf '%s\n' "${m_all[@]}" | median)
  cm=$(printf '%s\n' "${c_all[@]}" | median)
  printf 'control on CPU 0: burst %.2f Mpps; metrics scraped every second %.2f Mpps, %s of it; capturing %.2f Mpps, %s of it\n' \
    "$rm_" "$mm" "$(awk -v a="$mm" -v b="$rm_" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')" \
    "$cm" "$(awk -v a="$cm" -v b="$rm_" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')"
fi
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
