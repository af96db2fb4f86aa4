#!/usr/bin/env bash
# ESP tunnel mode, AES-GCM-128, per core: burst (`burst run`, one worker, `[ipsec]`) against
# DPDK 22.11's ipsec-secgw example, encrypt and decrypt, at 64, 512 and 1420-byte frames and
# the repository's simple IMIX (7:4:1 of 64/594/1518; crates/gen/src/size.rs), alternating,
# ROUNDS rounds of SECS seconds, same machine, same run. Issue 18's goal: >= 1.0x ipsec-secgw,
# >= 10 Gbit/s per core at 1420 bytes.
#
# Topology (both tools, the same addresses, SA pair and routes):
#
#   protected 198.18.0.0/24 -- lan [ gateway ] wan -- tunnel peer 198.19.1.2 -- 198.18.1.0/24
#                        198.19.0.1/24      198.19.1.1/24
#
#   SA out 0x1005 (4101): tunnel 198.19.1.1 -> 198.19.1.2, 198.18.0.0/24 -> 198.18.1.0/24
#   SA in  0x1006 (4102): tunnel 198.19.1.2 -> 198.19.1.1, 198.18.1.0/24 -> 198.18.0.0/24
#   both AES-GCM-128 (RFC 4106), one key, no ESN, anti-replay off (the input loops, so its
#   sequence numbers come back every loop; ipsec-secgw's default window is 0, burst gets
#   `replay_window = 0`).
#
# Input: one net_pcap vdev (net_pcap0, MAC 02:70:63:61:70:00) replaying a pcap in a loop
# (`infinite_rx=1`); output: a net_null vdev (`no-rx=1`), which frees what is sent and counts
# it in opackets. Encrypt: net_pcap0 is the lan port and reads plain UDP/IPv4 frames
# 198.18.0.x -> 198.18.1.x (256 flows; IMIX: 252); each is sealed and leaves by the wan port.
# Decrypt: net_pcap0 is the wan port and reads the same datagrams the other way, sealed with
# SA 0x1006 (sequence numbers 1..N), from 198.19.1.2 to 198.19.1.1; each is opened and the
# inner datagram leaves by the lan port. Pcaps by scripts/bench-ipsec.py (python3-cryptography);
# the size of a case is the plain frame's, with the FCS: what enters the encrypting gateway and
# what leaves the decrypting one. MTU 1600 on both ports of both tools, so a sealed 1518-byte
# IMIX frame (1556-byte outer datagram) is not fragmented.
#
# Rate: frames sent (opackets of both ports summed; the input port sends nothing) over SECS
# seconds after a 2 s warm-up, from DPDK telemetry (/ethdev/stats, scripts/bench-l3fwd.py rate
# on CPU 0); each tool runs on CPU 1 with one lcore/worker. Gbit/s = Mpps x the mean plain
# frame size with the FCS x 8 (no preamble or gap; IMIX: 361.83 bytes), the same definition
# for both tools and both directions.
#
# ipsec-secgw: a copy of /usr/share/dpdk/examples/ipsec-secgw (dpdk-doc) in
# target/ipsec-secgw-src, patched (scripts/ipsec-secgw-vdev.patch: the default Rx checksum
# offload request masked by what the vdev offers) and built with its Makefile; run with
# librte_ipsec (-l), SA type `cpu-crypto` on `--vdev crypto_aesni_mb` (intel-ipsec-mb's
# AES-GCM called synchronously on the lcore, no enqueue/dequeue; SECGW_TYPE=lookaside-none
# for the cryptodev queue-pair path instead, `no-offload` in its config), -P, -u 0x2 (wan
# unprotected), --mtu 1600, a generated config (sp/sa/rt/neigh). Not the same work: secgw does
# not decrement the inner TTL when it encrypts; burst does (it routes the inner datagram).
#
# Usage: scripts/bench-ipsec.sh [ROUNDS] [SECS]    (default 3 rounds of 5 s)
#   SIZES="64 1420"   a subset of the sizes (default "64 512 1420 imix")
#   DIRS="enc"        a subset of the directions (default "enc dec")
#   LOG_DIR=DIR       keeps each run's output (DIR/NAME.SIZE.rROUND.log)
#   PERF_DIR=DIR      perf record -g of CPU 1 over each burst window (DIR/burst-DIR-SIZE.rROUND.data)
#   PERF_SECGW=1      with PERF_DIR, ipsec-secgw's windows too (DIR/secgw-DIR-SIZE.rROUND.data)
#   BURST=BIN         measures that burst binary instead of building target/release/burst
#   BASELINE="BIN..." adds those burst binaries (same configuration) to every round, in order:
#                     before/after pairs of changes in the same run (each one's median and
#                     burst / that baseline)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-5}
warm=2
cpu=1
sizes=${SIZES:-64 512 1420 imix}
dirs=${DIRS:-enc dec}
stype=${SECGW_TYPE:-cpu-crypto}
case "$stype" in
  cpu-crypto) stype_cfg=cpu-crypto ;;
  lookaside-none) stype_cfg=no-offload ;;
  *) echo "SECGW_TYPE must be cpu-crypto or lookaside-none"; exit 1 ;;
esac
helper=scripts/bench-ipsec.py
rate_helper=scripts/bench-l3fwd.py

if ! pkg-config --exists libdpdk 2>/dev/null; then
  echo "DPDK development files not found (run scripts/setup.sh)"; exit 1
fi
[ -d /usr/share/dpdk/examples/ipsec-secgw ] || { echo "ipsec-secgw source not found: install dpdk-doc"; exit 1; }
for t in python3 taskset timeout make patch cc; do
  command -v "$t" >/dev/null || { echo "$t not found (run scripts/setup.sh)"; exit 1; }
done
python3 -c 'import cryptography' 2>/dev/null || { echo "python3 has no cryptography module (python3-cryptography)"; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs (the gateway on CPU $cpu, sampling on CPU 0)"; exit 1; }

tmp=$(mktemp -d /tmp/bench-ipsec.XXXXXX)
runtime=/var/run/dpdk
[ "$(id -u)" -eq 0 ] || runtime=${XDG_RUNTIME_DIR:-/tmp}/dpdk
pid=""
sprefix=bench-ipsec-secgw$$
bprefix=bench-ipsec-burst$$
cleanup() {
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp" "${runtime:?}/$sprefix" "${runtime:?}/$bprefix"
}
trap cleanup EXIT

# --- ipsec-secgw: a copy of Debian's example, patched for vdevs, built with its Makefile ---
src=target/ipsec-secgw-src
secgw=$src/ipsec-secgw/build/ipsec-secgw
stamp=$(cat scripts/ipsec-secgw-vdev.patch /usr/share/dpdk/examples/ipsec-secgw/*.c | sha256sum | cut -c1-16)
if [ ! -x "$secgw" ] || [ "$(cat "$src/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "building ipsec-secgw in $src"
  rm -rf "$src"
  mkdir -p "$src"
  cp -r /usr/share/dpdk/examples/ipsec-secgw /usr/share/dpdk/examples/common "$src/"
  (cd "$src/ipsec-secgw" && patch -s -p1 --forward < ../../../scripts/ipsec-secgw-vdev.patch && make -s >/dev/null)
  echo "$stamp" > "$src/stamp"
fi
burst=${BURST:-target/release/burst}
if [ -z "${BURST:-}" ]; then cargo build -q --release --features dpdk -p burst; fi
[ -x "$burst" ] || { echo "BURST=$burst is not an executable"; exit 1; }

# One key for both SAs: 16 bytes of AES-128 then the 4-byte salt.
key=4c80cdefbb5d10da906ac73c3613a6342e443b68
key_colon=$(sed 's/../&:/g; s/:$//' <<<"$key")
pcap_mac=02:70:63:61:70:00

# --- the SAs, policies and routes, once per tool ---
cat >"$tmp/secgw.cfg" <<EOF
sp ipv4 out esp protect 4101 pri 1 dst 198.18.1.0/24 sport 0:65535 dport 0:65535
sp ipv4 in esp protect 4102 pri 1 dst 198.18.0.0/24 sport 0:65535 dport 0:65535
sa out 4101 aead_algo aes-128-gcm aead_key $key_colon mode ipv4-tunnel src 198.19.1.1 dst 198.19.1.2 type $stype_cfg
sa in 4102 aead_algo aes-128-gcm aead_key $key_colon mode ipv4-tunnel src 198.19.1.2 dst 198.19.1.1 type $stype_cfg
rt ipv4 dst 198.19.1.2/32 port 1
rt ipv4 dst 198.18.0.0/24 port 0
neigh port 0 02:00:00:00:00:10
neigh port 1 02:00:00:00:00:20
EOF

# burst_conf LAN_DEVICE WAN_DEVICE VDEV0 VDEV1
burst_conf() {
  cat <<EOF
[backend]
kind = "dpdk"

[eal]
args = [
  "-l", "$cpu", "--no-huge", "--no-pci", "--no-shconf", "-m", "512",
  "--file-prefix=$bprefix", "$3", "$4",
]
cores = 1

[[port]]
name = "lan"
device = "$1"
addresses = ["198.19.0.1/24"]
offloads = false
mtu = 1600

[[port]]
name = "wan"
device = "$2"
addresses = ["198.19.1.1/24"]
offloads = false
mtu = 1600

[[route]]
prefix = "198.18.0.0/24"
via = "198.19.0.2"

[[route]]
prefix = "198.18.1.0/24"
via = "198.19.1.2"

[[arp]]
ip = "198.19.0.2"
mac = "02:00:00:00:00:10"

[[arp]]
ip = "198.19.1.2"
mac = "02:00:00:00:00:20"

[arp_tunables]
duplicate_detection = false

[ipv4]
forwarding = true

[control]
socket = "$tmp/burst.sock"

[[ipsec.sa]]
spi = 0x1005
direction = "out"
mode = "tunnel"
tunnel_src = "198.19.1.1"
tunnel_dst = "198.19.1.2"
algorithm = "aes-gcm-128"
key = "0x$key"

[[ipsec.sa]]
spi = 0x1006
direction = "in"
mode = "tunnel"
tunnel_src = "198.19.1.2"
tunnel_dst = "198.19.1.1"
algorithm = "aes-gcm-128"
key = "0x$key"
replay_window = 0

[[ipsec.policy]]
direction = "in"
src = "198.18.1.0/24"
dst = "198.18.0.0/24"
action = "secure"
sa = 0x1006

[[ipsec.policy]]
direction = "in"
action = "permit"

[[ipsec.policy]]
direction = "out"
src = "198.18.0.0/24"
dst = "198.18.1.0/24"
action = "secure"
sa = 0x1005

[[ipsec.policy]]
direction = "out"
action = "permit"
EOF
}

# run NAME PREFIX READY_PATTERN CMD...: starts CMD on CPU $cpu, waits (30 s at most) for
# READY_PATTERN in its output and its telemetry socket, samples the rate from CPU 0, stops it
# with SIGINT. Sets rate and rx (Mpps sent and received).
run() {
  local name=$1 prefix=$2 ready=$3
  shift 3
  local log=$tmp/$name.log sock=$runtime/$prefix/dpdk_telemetry.v2 out i rc=0
  timeout -s INT $((30 + warm + secs + 30)) taskset -c "$cpu" "$@" >"$log" 2>&1 </dev/null &
  pid=$!
  for ((i = 0; i < 300; i++)); do
    if grep -q "$ready" "$log" && [ -S "$sock" ]; then break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q "$ready" "$log" || ! [ -S "$sock" ]; then
    echo "$name did not start within 30 s; its output:" >&2; tail -20 "$log" >&2; return 1
  fi
  local perf_pid=""
  if [ -n "${PERF_DIR:-}" ] && { [ "${name%%-*}" = burst ] || [ -n "${PERF_SECGW:-}" ]; }; then
    mkdir -p "$PERF_DIR"
    (sleep "$warm"; exec perf record -q -g -C "$cpu" -o "$PERF_DIR/$name.r$r.data" -- sleep "$secs") >/dev/null 2>&1 &
    perf_pid=$!
  fi
  out=$(timeout -s INT $((warm + secs + 10)) taskset -c 0 python3 "$rate_helper" rate "$sock" "$warm" "$secs" 0 1) || {
    echo "$name: reading telemetry failed" >&2; tail -20 "$log" >&2; return 1; }
  if [ -n "$perf_pid" ]; then wait "$perf_pid" || true; fi
  if [ "${name%%-*}" = burst ]; then
    timeout 20 "$burst" ctl --socket "$tmp/burst.sock" stats >>"$log" 2>&1 || true
  fi
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  pid=""
  rm -rf "${runtime:?}/$prefix"
  # 0: stopped by our SIGINT; 124: timeout's SIGINT; ipsec-secgw exits 130 on SIGINT... or 0.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 130 ]; then
    echo "$name exited with status $rc; its output:" >&2; tail -20 "$log" >&2; return 1
  fi
  echo "$name: $out" >>"$tmp/detail.log"
  if [ -n "${LOG_DIR:-}" ]; then mkdir -p "$LOG_DIR" && cp "$log" "$LOG_DIR/$name.r$r.log"; fi
  read -r rate rx < <(awk '{for (i = 1; i < NF; i++) v[$i] = $(i + 1)}
      END {printf "%.3f %.3f\n", v["rate"], v["ipackets"] / v["window"] / 1e6}' <<<"$out")
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }

echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ipsec-secgw SA type: $stype (crypto_aesni_mb); $rounds rounds of $secs s per case"
results=() base_results=()
read -r -a baselines <<<"${BASELINE:-}"
for b in "${baselines[@]}"; do
  [ -x "$b" ] || { echo "BASELINE: $b is not an executable"; exit 1; }
done
for size in $sizes; do
  python3 "$helper" plain "$tmp/plain-$size.pcap" "$pcap_mac" "$size"
  python3 "$helper" esp "$tmp/esp-$size.pcap" "$pcap_mac" "$size" 0x1006 "$key" 198.19.1.2 198.19.1.1
  mean=$(python3 "$helper" mean "$size")
  for dir in $dirs; do
    if [ "$dir" = enc ]; then
      # net_pcap0 (port 0) is the lan port, net_null0 (port 1) the wan.
      v0="--vdev=net_pcap0,rx_pcap=$tmp/plain-$size.pcap,infinite_rx=1" v1="--vdev=net_null0,no-rx=1"
      burst_conf net_pcap0 net_null0 "$v0" "$v1" >"$tmp/burst.toml"
    else
      # net_null0 (port 0) is the lan port, net_pcap0 (port 1) the wan.
      v0="--vdev=net_null0,no-rx=1" v1="--vdev=net_pcap0,rx_pcap=$tmp/esp-$size.pcap,infinite_rx=1"
      burst_conf net_null0 net_pcap0 "$v0" "$v1" >"$tmp/burst.toml"
    fi
    s_all=() b_all=()
    : >"$tmp/base.rates"
    for r in $(seq 1 "$rounds"); do
      run "secgw-$dir-$size" "$sprefix" "entering main loop" "$secgw" \
          -l "$cpu" --no-huge --no-pci --no-shconf -m 512 --file-prefix="$sprefix" --log-level=lib.eal:error \
          "$v0" "$v1" --vdev=crypto_aesni_mb -- \
          -p 0x3 -P -u 0x2 -l --mtu 1600 --config="(0,0,$cpu),(1,0,$cpu)" -f "$tmp/secgw.cfg"
      s=$rate srx=$rx
      run "burst-$dir-$size" "$bprefix" "burst running" "$burst" run -c "$tmp/burst.toml"
      b=$rate brx=$rx
      printf '%-5s %-4s round %d: ipsec-secgw %6.3f Mpps (rx %6.3f)   burst %6.3f Mpps (rx %6.3f)' \
        "$size" "$dir" "$r" "$s" "$srx" "$b" "$brx"
      for i in "${!baselines[@]}"; do
        run "burst-base$i-$dir-$size" "$bprefix" "burst running" "${baselines[$i]}" run -c "$tmp/burst.toml"
        printf '   baseline%d %6.3f Mpps' "$i" "$rate"
        echo "$i $rate" >>"$tmp/base.rates"
      done
      echo
      s_all+=("$s"); b_all+=("$b")
    done
    for i in "${!baselines[@]}"; do
      om=$(awk -v i="$i" '$1 == i {print $2}' "$tmp/base.rates" | median)
      base_results+=("$(awk -v sz="$size" -v d="$dir" -v i="$i" -v o="$om" -v b="$(printf '%s\n' "${b_all[@]}" | median)" 'BEGIN {
        printf "%-5s %-7s baseline%d %8.3f Mpps, burst %8.3f Mpps, burst / baseline%d %.3f", sz, d, i, o, b, i, (o > 0 ? b / o : 0) }')")
    done
    sm=$(printf '%s\n' "${s_all[@]}" | median)
    bm=$(printf '%s\n' "${b_all[@]}" | median)
    results+=("$(awk -v sz="$size" -v d="$dir" -v s="$sm" -v b="$bm" -v m="$mean" 'BEGIN {
      printf "%-5s %-7s %8.3f %8.3f %7.3f %8.2f %8.2f", sz, (d == "enc" ? "encrypt" : "decrypt"), s, b,
        (s > 0 ? b / s : 0), s * m * 8 / 1000, b * m * 8 / 1000 }')")
  done
done
echo
echo "median over $rounds rounds (Gbit/s: Mpps x mean plain frame size with FCS x 8; goal >= 1.0x, >= 10 Gbit/s at 1420)"
printf '%-5s %-7s %8s %8s %7s %8s %8s\n' size dir "secgw" "burst" ratio "secgw" "burst"
printf '%-5s %-7s %8s %8s %7s %8s %8s\n' "" "" Mpps Mpps b/s Gbit/s Gbit/s
printf '%s\n' "${results[@]}"
for i in "${!baselines[@]}"; do echo "baseline$i: ${baselines[$i]}"; done
if [ "${#base_results[@]}" -gt 0 ]; then printf '%s\n' "${base_results[@]}"; fi
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
