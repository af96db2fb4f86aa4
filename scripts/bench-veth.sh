#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq/awk programs are single-quoted on purpose
# The veth lab users try first without a NIC (issue 20): iperf3 TCP from one Linux namespace to
# another through a router namespace, the router being in turn
#   linux      the router namespace's kernel (addresses on r0/r1, ip_forward=1)
#   af_packet  burst (configs/router.toml) on net_af_packet ports on r0/r1, one worker
#   af_xdp     burst on net_af_xdp ports (copy mode: veths have no zero-copy) on r0/r1
# over the same veths, alternating within each round, a fresh iperf3 run of SECONDS per cell.
# Prints every run, then medians and the ratio to Linux. Not a timed test.
#
#   <P>c  eth0 198.18.1.1/24 --- r0 [ <P>r: 198.18.1.254 | 198.18.2.254 ] r1 --- eth0 198.18.2.1/24  <P>s
#         iperf3 client                   Linux, or burst inside <P>r                   iperf3 server
#
# CPUs: burst's worker is pinned to CPU 1 (`[eal] cpus = [1]`, the control thread on CPU 0),
# both iperf3 processes to CPU 0. A veth delivers in the sender's context, so without RPS the
# Linux side's receive work runs on whichever CPU sent: Linux forwarding runs all of it on the
# client's CPU 0; with burst the server's TCP receive runs on burst's CPU (inside its transmit
# system call). RPS=1 steers the endpoints' eth0 receive to CPU 0 and, for Linux, the router
# namespace's r0/r1 receive to CPU 1, so in every mode the router's work is on CPU 1 and the
# endpoints' on CPU 0. Default 0: what a user's lab does.
#
# Knobs (environment):
#   MODES      (default "linux af_packet af_xdp")
#   OFFLOADS   "off" (default: every veth's offloads off, the peers' TX offloads included, as the
#              issue measured), "default" (veths as Linux sets them: TSO super-frames and partial
#              checksums reach burst), or both ("off default") for one table each
#   RPS        0 (default) or 1, see above
#   XDP_ARGS   extra net_af_xdp devargs (e.g. ",busy_budget=0"); PKT_ARGS for net_af_packet
#   BURST_EXTRA extra configuration lines appended to burst's config (e.g. a [tcp] table);
#              EAL_EXTRA one line added to its [eal] table (e.g. 'idle_sleep = "1us"')
#   Variants, for before/after pairs in the same run: a mode DRIVER/NAME (e.g. MODES="linux
#   af_xdp af_xdp/bb0") adds the devargs in ARGS_NAME (ARGS_bb0=",busy_budget=0"), runs the
#   binary BIN_NAME if set, appends CONF_NAME to the configuration and
#   EAL_NAME to its [eal] (instead of EAL_EXTRA). NAPI_NAME="D T" sets the
#   router ends' napi_defer_hard_irqs to D and gro_flush_timeout to T ns for the cell (AF_XDP
#   busy polling: the veth's NAPI is then polled by burst's recvfrom instead of the sender's
#   softirq), back to 0 0 after. RPS_NAME=MASK (with RPS=1) steers the router ends' receive to
#   MASK for the cell (e.g. 2: af_packet's copy into its ring on burst's CPU, as Linux's
#   forwarding is; by default it stays in the sender's context). THREADED_NAME=CPU turns on
#   threaded NAPI on the router ends for the cell and pins their NAPI kernel threads to CPU
#   (AF_XDP: the veth runs its XDP receive, the copy into the umem, in that thread instead of
#   in the sending CPU's softirq); THREADED_NAME=any leaves the threads where the scheduler
#   puts them.
#   PARALLEL   iperf3 -P streams (default 1); IPERF_ARGS extra client arguments
#   BURST      the binary (default target/release/burst, built with --features dpdk)
#   KEEP=1     keep the work directory (iperf3 JSON, burst logs and `ctl stats` after each cell)
#   PERF=N     record burst's CPU 1 (`perf record -C 1`, cpu-clock) for N s of each burst cell,
#              from the iperf3 run's second second, into the work directory (implies KEEP=1);
#              PERF_CPUS=0,1 records both CPUs (`perf report --sort cpu,sym`)
#
# Usage: sudo scripts/bench-veth.sh [ROUNDS] [SECONDS]   (defaults 3 and 10; needs root,
#   iperf3 (scripts/setup.sh), jq, ethtool)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

ROUNDS=${1:-3}
SECONDS_RUN=${2:-10}
P=${BENCH_VETH_PREFIX:-bv$$}
P=${P:0:8}
C=${P}c
S=${P}s
R=${P}r
MODES=${MODES:-linux af_packet af_xdp}
OFFLOAD_SETS=${OFFLOADS:-off}
RPS=${RPS:-0}
BURST=${BURST:-target/release/burst}
case "$BURST" in /*) ;; *) BURST=$PWD/$BURST ;; esac
IPERF=${IPERF:-iperf3}
PARALLEL=${PARALLEL:-1}
work=$(mktemp -d)
SOCK=$work/burst.sock
pid=""
srv_pid=""
blog=""
cfg=""
PERF=${PERF:-0}
[ "$PERF" -gt 0 ] && KEEP=1

for t in "$IPERF" jq ethtool; do
  command -v "$t" >/dev/null || { echo "bench-veth: $t not found (scripts/setup.sh installs it)"; exit 2; }
done
[ -x "$BURST" ] || { echo "bench-veth: $BURST missing (cargo build --release --features dpdk)"; exit 2; }

stop_burst() {
  [ -n "$pid" ] || return 0
  # While the XDP program (and so the veth's NAPI) is still there: a veth without NAPI refuses
  # the write, and the flag would carry over to the next cell's NAPI.
  threaded 0 2>/dev/null
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=""
  napi 0 0 2>/dev/null
  # An AF_XDP socket's program goes with its process; make sure before the next mode.
  ip -n "$R" link set dev r0 xdp off 2>/dev/null
  ip -n "$R" link set dev r1 xdp off 2>/dev/null
}
stop_server() {
  [ -n "$srv_pid" ] || return 0
  kill "$srv_pid" 2>/dev/null
  wait "$srv_pid" 2>/dev/null
  srv_pid=""
}
cleanup() {
  stop_server
  stop_burst
  for ns in "$C" "$S" "$R"; do ip netns del "$ns" 2>/dev/null; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }
ctl() { "$BURST" ctl --socket "$SOCK" "$@"; }

# veths: the three namespaces and two veth pairs, offloads as $OFF says.
veths() {
  for ns in "$C" "$S" "$R"; do ip netns del "$ns" 2>/dev/null; ip netns add "$ns" || return 1; done
  ip -n "$R" link add r0 type veth peer name eth0 netns "$C" || return 1
  ip -n "$R" link add r1 type veth peer name eth0 netns "$S" || return 1
  local ns dev
  for ns in "$C" "$S" "$R"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  done
  for x in "$C eth0" "$S eth0" "$R r0" "$R r1"; do
    read -r ns dev <<<"$x"
    ip -n "$ns" link set "$dev" up || return 1
    if [ "$OFF" = off ]; then
      ip netns exec "$ns" ethtool -K "$dev" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1
    fi
  done
  ip -n "$C" addr add 198.18.1.1/24 dev eth0 && ip -n "$C" route add default via 198.18.1.254 &&
    ip -n "$S" addr add 198.18.2.1/24 dev eth0 && ip -n "$S" route add default via 198.18.2.254
}

# rps ROUTER-MASK: the endpoints' receive on CPU 0 and the router namespace's on the mask given
# (0 = in the sender's context), when RPS=1.
rps() {
  [ "$RPS" = 1 ] || return 0
  ip netns exec "$C" sh -c 'echo 1 > /sys/class/net/eth0/queues/rx-0/rps_cpus'
  ip netns exec "$S" sh -c 'echo 1 > /sys/class/net/eth0/queues/rx-0/rps_cpus'
  ip netns exec "$R" sh -c "echo $1 > /sys/class/net/r0/queues/rx-0/rps_cpus; echo $1 > /sys/class/net/r1/queues/rx-0/rps_cpus"
}

linux_router() {
  ip -n "$R" addr add 198.18.1.254/24 dev r0 && ip -n "$R" addr add 198.18.2.254/24 dev r1 &&
    ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
  rps 2
}
linux_router_down() {
  ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=0
  ip -n "$R" addr flush dev r0
  ip -n "$R" addr flush dev r1
}

# variant MODE VAR: the variant's ARGS/BIN/CONF/NAPI/RPS value (empty for a plain mode).
variant() {
  case "$1" in */*) local v="$2_${1#*/}"; printf '%s' "${!v:-}" ;; esac
}

# burst_config MODE: configs/router.toml for this lab, one worker on CPU 1.
burst_config() {
  local a b more
  more=$(variant "$1" ARGS)
  local eal
  eal=$(variant "$1" EAL)
  eal=${eal:-${EAL_EXTRA:-}}
  if [ "${1%%/*}" = af_xdp ]; then
    a="net_af_xdp0,iface=r0,start_queue=0,queue_count=1${XDP_ARGS:-}$more"
    b="net_af_xdp1,iface=r1,start_queue=0,queue_count=1${XDP_ARGS:-}$more"
  else
    a="net_af_packet0,iface=r0,qpairs=1${PKT_ARGS:-}$more"
    b="net_af_packet1,iface=r1,qpairs=1${PKT_ARGS:-}$more"
  fi
  cfg=$work/router-${1//\//-}.toml
  sed -e "s|--vdev=net_af_packet0,iface=blr0,qpairs=2|--vdev=$a|" \
    -e "s|--vdev=net_af_packet1,iface=blr1,qpairs=2|--vdev=$b|" \
    -e "s/net_af_packet0\"$/${a%%,*}\"/" -e "s/net_af_packet1\"$/${b%%,*}\"/" \
    -e "s|/run/burst/router.sock|$SOCK|" -e "s/burst-router/burst-$P/" \
    -e "s/^cores = 2/cores = 1\ncpus = [1]\ncontrol_cpus = [0]${eal:+\\n$eal}/" \
    configs/router.toml >"$cfg"
  printf '\n[arp_tunables]\n# Nothing else on these veths: start without waiting for duplicate detection.\nduplicate_detection = false\n' >>"$cfg"
  [ -n "${BURST_EXTRA:-}" ] && printf '\n%s\n' "$BURST_EXTRA" >>"$cfg"
  more=$(variant "$1" CONF)
  [ -n "$more" ] && printf '\n%s\n' "$more" >>"$cfg"
  grep -q "^cpus = \[1\]" "$cfg" && grep -q "device = \"${a%%,*}\"" "$cfg"
}

# napi D T: the router ends' NAPI deferral (see NAPI_NAME above).
napi() {
  ip netns exec "$R" sh -c "for i in r0 r1; do echo $1 > /sys/class/net/\$i/napi_defer_hard_irqs && echo $2 > /sys/class/net/\$i/gro_flush_timeout; done"
}

# threaded 0|1: the router ends' threaded NAPI (see THREADED_NAME above).
threaded() {
  ip netns exec "$R" sh -c "for i in r0 r1; do echo $1 > /sys/class/net/\$i/threaded; done"
}

# pin_napi CPU: pins the router ends' NAPI threads (named napi/r0-ID, napi/r1-ID) to CPU; fails
# when there is none (the veth has no NAPI without XDP or GRO).
pin_napi() {
  local t n=0
  [ "$1" = any ] && return 0
  for t in $(pgrep -x 'napi/r[01]-[0-9]+'); do
    taskset -pc "$1" "$t" >/dev/null && n=$((n + 1))
  done
  [ "$n" -gt 0 ]
}

burst_router() {
  burst_config "$1" || { echo "bench-veth: could not write burst's config"; return 1; }
  local mask
  mask=$(variant "$1" RPS)
  rps "${mask:-0}"
  local nd
  nd=$(variant "$1" NAPI)
  # shellcheck disable=SC2086 # two numbers
  if [ -n "$nd" ]; then napi $nd || return 1; fi
  local thr
  thr=$(variant "$1" THREADED)
  blog=$work/burst-${1//\//-}.log
  local bin
  bin=$(variant "$1" BIN)
  ip netns exec "$R" "${bin:-$BURST}" run -c "$cfg" >"$blog" 2>&1 &
  pid=$!
  if ! wait_for 300 ready || ! kill -0 "$pid" 2>/dev/null; then
    echo "bench-veth: burst ($1) did not start:"; tail -20 "$blog"; stop_burst; return 1
  fi
  # After the start: the veth has a NAPI (which threaded mode needs) only once an XDP program
  # is loaded.
  if [ -n "$thr" ] && ! { threaded 1 && pgrep -x 'napi/r[01]-[0-9]+' >/dev/null && pin_napi "$thr"; }; then
    echo "bench-veth: no NAPI thread for r0/r1 to pin ($1)"; stop_burst; return 1
  fi
}

ready() { kill -0 "$pid" 2>/dev/null || return 0; [ "$(grep -c 'address ready' "$blog")" -ge 2 ] && ctl stats >/dev/null 2>&1; }

# iperf_run TAG: one fresh iperf3 server in S and client in C (both on CPU 0); prints Mbit/s
# received and the sender's retransmissions.
iperf_run() {
  local tag=$1 port=5201 perf_pid=""
  taskset -c 0 ip netns exec "$S" "$IPERF" -s -1 -B 198.18.2.1 -p $port >/dev/null 2>&1 &
  srv_pid=$!
  wait_for 50 sh -c "ip netns exec $S ss -Hltn 'sport = :$port' | grep -q ." || { echo "0 0"; stop_server; return; }
  # A ping first: the neighbours are resolved and the path is up before the clock starts.
  ip netns exec "$C" ping -c 1 -W 2 198.18.2.1 >/dev/null 2>&1
  if [ "$PERF" -gt 0 ] && [ -n "$pid" ]; then
    (sleep 1 && exec perf record -q -e cpu-clock -C "${PERF_CPUS:-1}" -g -o "$work/$tag.perf.data" -- sleep "$PERF") >/dev/null 2>&1 &
    perf_pid=$!
  fi
  # shellcheck disable=SC2086 # IPERF_ARGS is a list of arguments
  timeout $((SECONDS_RUN + 30)) taskset -c 0 ip netns exec "$C" "$IPERF" -c 198.18.2.1 -p $port \
    -t "$SECONDS_RUN" -P "$PARALLEL" -J ${IPERF_ARGS:-} >"$work/$tag.json" 2>/dev/null
  [ -n "$perf_pid" ] && wait "$perf_pid"
  stop_server
  jq -r '[(.end.sum_received.bits_per_second // 0) / 1e6, (.end.sum_sent.retransmits // 0)] | "\(.[0]) \(.[1])"' \
    "$work/$tag.json" 2>/dev/null || echo "0 0"
}

echo "bench-veth: $ROUNDS rounds of $SECONDS_RUN s, modes: $MODES; offloads: $OFFLOAD_SETS; RPS=$RPS;" \
  "$(date -u '+%F %T UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), burst $("$BURST" --version 2>/dev/null | head -1)"
for OFF in $OFFLOAD_SETS; do
  veths || { echo "bench-veth: could not build the lab"; exit 1; }
  for r in $(seq 1 "$ROUNDS"); do
    for m in $MODES; do
      ip -n "$C" neigh flush all; ip -n "$S" neigh flush all
      case "$m" in
        linux) linux_router ;;
        af_packet | af_packet/* | af_xdp | af_xdp/*) burst_router "$m" || exit 1 ;;
        *) echo "bench-veth: unknown mode $m"; exit 2 ;;
      esac
      # Not in a subshell: cleanup must see the iperf3 server's pid.
      iperf_run "$OFF-${m//\//-}-$r" >"$work/last"
      read -r mbps retr <"$work/last"
      extra=""
      if [ "$m" != linux ]; then
        tag=$OFF-${m//\//-}-$r
        ctl stats >"$work/$tag.stats" 2>&1
        # The veths' own drop counters (XDP ring full, peer queue full), for KEEP=1.
        { for i in r0 r1; do echo "veth $i"; ip netns exec "$R" ethtool -S $i; ip -n "$R" -s link show $i; done
          ip -n "$C" -s link show eth0; ip -n "$S" -s link show eth0; } >"$work/$tag.veth" 2>&1
        extra=$(awk '/^port / { port = $2 } $1 ~ /^(fwd\.drop|l2\.drop|rx_missed$|rx_nombuf$|tx_errors$)/ && $2 != 0 { printf " %s%s=%s", ($1 ~ /\./ ? "" : port), $1, $2 }' "$work/$tag.stats")
        [ "$(ip netns exec "$R" cat /sys/class/net/r0/threaded 2>/dev/null)" = 1 ] && extra="$extra napi-threaded"
        stop_burst
      else
        linux_router_down
      fi
      printf '%s %s %s %.1f %s%s\n' "$OFF" "$m" "$r" "$mbps" "$retr" "$extra" | tee -a "$work/results"
    done
  done
done

echo
echo "iperf3 TCP through the router, Mbit/s received (medians of $ROUNDS x $SECONDS_RUN s, $PARALLEL stream(s)), RPS=$RPS:"
printf '| offloads | router | runs | median | ratio to Linux | retransmits (median) |\n| --- | --- | --- | ---: | ---: | ---: |\n'
for OFF in $OFFLOAD_SETS; do
  lin=$(awk -v o="$OFF" '$1 == o && $2 == "linux" { print $4 }' "$work/results" | median)
  for m in $MODES; do
    runs=$(awk -v o="$OFF" -v m="$m" '$1 == o && $2 == m { printf "%s%.0f", s, $4; s = " " }' "$work/results")
    med=$(awk -v o="$OFF" -v m="$m" '$1 == o && $2 == m { print $4 }' "$work/results" | median)
    retr=$(awk -v o="$OFF" -v m="$m" '$1 == o && $2 == m { print $5 }' "$work/results" | median)
    ratio=$(awk -v a="$med" -v b="$lin" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }')
    printf '| %s | %s | %s | %.0f | %s | %s |\n' "$OFF" "$m" "$runs" "$med" "$ratio" "$retr"
  done
done
