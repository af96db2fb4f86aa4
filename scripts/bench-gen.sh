#!/usr/bin/env bash
# burst gen benchmarks (figures in docs/benchmarks.md):
#   txonly  one core, 64-byte UDP on net_null: burst gen (fixed frame; one varying field)
#           against dpdk-testpmd --forward-mode=txonly --txpkts=60 (64-byte frames too),
#           alternating rounds, median of each round's per-second rates after the first second;
#   rate    asked 1, 5 and 10 Mpps of 64-byte frames and 1 Gbit/s (L1) of simple IMIX for
#           SECONDS each on net_null: every second after the first against the target;
#   paced   the paced path's ceiling: asked PACED_RATE (default 14.88Mpps, 10G line rate) of
#           64-byte frames for SECONDS on net_null (transmit only) and on the in-process memif
#           loopback (transmit, copy and receive on one core): achieved Mpps (median second
#           after the first) and slots skipped; ROUNDS rounds, alternating with BASE if given;
#   latency the in-process memif loopback (configs/gen/memif-loop.toml) at 1 Mpps: p50, p99,
#           p99.9 and min: the calibration of the software timestamps' fixed bias.
# Everything is pinned: the generator core (or testpmd's forwarding lcore) on CPU 1.
#
# Usage: scripts/bench-gen.sh [txonly|rate|paced|latency|all] [ROUNDS] [SECONDS]   (all 5 6)
# BASE=/path/to/an/older/burst adds that build to every txonly round (before/after, same run).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
rounds=${2:-5}
secs=${3:-6}
burst=target/release/burst
command -v dpdk-testpmd >/dev/null || { echo "dpdk-testpmd not found (run scripts/setup.sh)"; exit 1; }
cargo build -q --release -p burst --features dpdk
tmp=$(mktemp -d /tmp/bench-gen.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }

# A net_null generator configuration: $1 = file, $2 = extra [[stream]] keys, $3 = rate, $4 = size, $5 = seconds.
null_cfg() {
  cat > "$1" <<EOC
[eal]
args = ["-l", "0", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "512",
        "--log-level=lib.eal:error", "--file-prefix=bench-gen-$$", "--vdev=net_null0"]
cores = 1
cpus = [1]
[[port]]
name = "p0"
device = "net_null0"
addresses = ["198.18.1.1/24"]
offloads = false
[[stream]]
dst = "198.18.2.1"
dst_mac = "02:00:00:00:00:02"
size = $4
rate = "$3"
line_rate = "100Gbps"
$2
[test]
duration = "${5}s"
drain = "10ms"
rx_ports = []
EOC
}

# Per-second packets of port 0 from a report, seconds 2..N (the first and the drain's left out).
per_second() { python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))
s=[x for x in r["series"] if x["second"]>=1 and x["ports"][0]["tx"]>0]
n=int(sys.argv[2])
for x in s[:n-1]: print(x["ports"][0]["tx"]/1e6)' "$1" "$2"; }

if [ "$what" = txonly ] || [ "$what" = all ]; then
  null_cfg "$tmp/fixed.toml" "" max 64 "$secs"
  null_cfg "$tmp/vary.toml" 'vary = [{ field = "src_port", min = 1024, max = 65535 }]' max 64 "$secs"
  f_all=(); v_all=(); t_all=(); bf_all=(); bv_all=()
  for r in $(seq 1 "$rounds"); do
    if [ -n "${BASE:-}" ]; then
      "$BASE" gen -c "$tmp/fixed.toml" -q --json "$tmp/f.json" >/dev/null 2>&1
      bf=$(per_second "$tmp/f.json" "$secs" | median)
      "$BASE" gen -c "$tmp/vary.toml" -q --json "$tmp/v.json" >/dev/null 2>&1
      bv=$(per_second "$tmp/v.json" "$secs" | median)
      bf_all+=("$bf"); bv_all+=("$bv")
      printf 'round %d: BASE %6.2f Mpps   BASE, one varying field %6.2f Mpps\n' "$r" "$bf" "$bv"
    fi
    "$burst" gen -c "$tmp/fixed.toml" -q --json "$tmp/f.json" >/dev/null 2>&1
    f=$(per_second "$tmp/f.json" "$secs" | median)
    "$burst" gen -c "$tmp/vary.toml" -q --json "$tmp/v.json" >/dev/null 2>&1
    v=$(per_second "$tmp/v.json" "$secs" | median)
    t=$({ timeout -s INT $((secs + 2)) dpdk-testpmd --no-huge --no-pci --no-shconf --no-telemetry -m 512 \
          --log-level=lib.eal:error --vdev=net_null0 -l 0,1 --file-prefix=bench-gen-tp-$$ -- \
          --forward-mode=txonly --txpkts=60 --stats-period 1 --total-num-mbufs=16384 </dev/null 2>/dev/null || true; } \
        | awk '/Tx-pps:/ {if ($2 > 0) print $2 / 1e6}' | tail -n +2 | median)
    printf 'round %d: burst gen %6.2f Mpps   burst gen, one varying field %6.2f Mpps   testpmd txonly %6.2f Mpps\n' "$r" "$f" "$v" "$t"
    f_all+=("$f"); v_all+=("$v"); t_all+=("$t")
  done
  fm=$(printf '%s\n' "${f_all[@]}" | median); vm=$(printf '%s\n' "${v_all[@]}" | median); tm=$(printf '%s\n' "${t_all[@]}" | median)
  if [ -n "${BASE:-}" ]; then
    bfm=$(printf '%s\n' "${bf_all[@]}" | median); bvm=$(printf '%s\n' "${bv_all[@]}" | median)
    printf 'median over %d rounds: BASE %.2f, varying field %.2f Mpps; ratios %.3f and %.3f\n' \
      "$rounds" "$bfm" "$bvm" "$(awk -v a="$bfm" -v b="$tm" 'BEGIN{print a/b}')" "$(awk -v a="$bvm" -v b="$tm" 'BEGIN{print a/b}')"
  fi
  printf 'median over %d rounds: burst gen %.2f, varying field %.2f, testpmd txonly %.2f Mpps; ratios %.3f and %.3f\n' \
    "$rounds" "$fm" "$vm" "$tm" "$(awk -v a="$fm" -v b="$tm" 'BEGIN{print a/b}')" "$(awk -v a="$vm" -v b="$tm" 'BEGIN{print a/b}')"
fi

if [ "$what" = rate ] || [ "$what" = all ]; then
  rsecs=${RATE_SECONDS:-10}
  for spec in "1Mpps 64 1000000 pps" "5Mpps 64 5000000 pps" "10Mpps 64 10000000 pps" "1Gbps imix 1000000000 l1"; do
    set -- $spec
    size=$2; [ "$size" = imix ] && size='"imix"'
    null_cfg "$tmp/rate.toml" "" "$1" "$size" "$rsecs"
    "$burst" gen -c "$tmp/rate.toml" -q --json "$tmp/rate.json" >/dev/null 2>&1
    python3 - "$tmp/rate.json" "$3" "$4" "$1" "$2" <<'EOP'
import json, sys
r = json.load(open(sys.argv[1])); target = float(sys.argv[2]); unit = sys.argv[3]
secs = [x for x in r["series"] if x["ports"][0]["tx"] > 0][1:]
full = [x for x in secs if x["second"] < r["duration_s"]]
vals = []
for x in full[:-0 or None]:
    p = x["ports"][0]
    vals.append(p["tx"] if unit == "pps" else (p["tx_bytes"] + 20 * p["tx"]) * 8)
dev = [abs(v - target) / target * 100 for v in vals]
ok = sum(1 for d in dev if d <= 0.1)
print(f"rate {sys.argv[4]} ({sys.argv[5]}): seconds 2..{len(vals)+1}: {ok} of {len(vals)} within 0.1 %; min {min(vals):.0f} "
      f"max {max(vals):.0f} (target {target:.0f}), largest error {max(dev):.4f} %, median error "
      f"{sorted(dev)[len(dev)//2]:.4f} %, slots skipped after stalls {r['streams'][0]['skipped']}")
EOP
  done
fi

if [ "$what" = paced ] || [ "$what" = all ]; then
  prate=${PACED_RATE:-14.88Mpps}
  null_cfg "$tmp/pnull.toml" "" "$prate" 64 "$secs"
  mkdir -p "$tmp/pmemif"
  sed -e "s|/tmp/burst-memif|$tmp/pmemif|g" -e "s|duration = \"5s\"|duration = \"${secs}s\"|" \
      -e "s|rate = \"1Mpps\"|rate = \"$prate\"|" \
      -e "s|--file-prefix=burst-gen-loop|--file-prefix=bench-gen-ploop-$$|" configs/gen/memif-loop.toml > "$tmp/ploop.toml"
  sed -i 's/^cores = 1$/cores = 1\ncpus = [1]/' "$tmp/ploop.toml"
  achieved() { python3 -c '
import json,sys
r=json.load(open(sys.argv[1])); s=r["streams"][0]
v=sorted(x["ports"][0]["tx"]/1e6 for x in r["series"] if 1 <= x["second"] < r["duration_s"])
k, i, n = s["skipped"], s["intended"], s["rx"]
print(f"{v[len(v)//2]:.3f} Mpps (skipped {k} of {i} slots, rx {n})")' "$1"; }
  for r in $(seq 1 "$rounds"); do
    for bin in ${BASE:-} "$burst"; do
      name=$([ "$bin" = "$burst" ] && echo "burst gen" || echo "BASE     ")
      "$bin" gen -c "$tmp/pnull.toml" -q --json "$tmp/pn.json" >/dev/null 2>&1
      "$bin" gen -c "$tmp/ploop.toml" -q --json "$tmp/pl.json" >/dev/null 2>&1
      echo "round $r: $name asked $prate of 64 B: net_null $(achieved "$tmp/pn.json"); memif loopback $(achieved "$tmp/pl.json")"
    done
  done
fi

if [ "$what" = latency ] || [ "$what" = all ]; then
  mkdir -p "$tmp/memif"
  sed -e "s|/tmp/burst-memif|$tmp/memif|g" -e "s|duration = \"5s\"|duration = \"${secs}s\"|" \
      -e "s|--file-prefix=burst-gen-loop|--file-prefix=bench-gen-loop-$$|" configs/gen/memif-loop.toml > "$tmp/loop.toml"
  sed -i 's/^cores = 1$/cores = 1\ncpus = [1]/' "$tmp/loop.toml"
  "$burst" gen -c "$tmp/loop.toml" -q --json "$tmp/loop.json" >/dev/null 2>&1
  python3 - "$tmp/loop.json" <<'EOP'
import json, sys
s = json.load(open(sys.argv[1]))["streams"][0]; l = s["latency"]
print(f"memif loopback at 1 Mpps: {s['tx']} sent, {s['rx']} received, lost {s['lost']}; latency min {l['min_ns']} ns, "
      f"p50 {l['p50_ns']} ns, p99 {l['p99_ns']} ns, p99.9 {l['p999_ns']} ns, max {l['max_ns']} ns; "
      f"calibrated bias (loopback p50) {l['p50_ns']} ns")
EOP
fi
