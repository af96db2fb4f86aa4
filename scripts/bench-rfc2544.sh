#!/usr/bin/env bash
# RFC 2544 with burst gen against a DUT, twice (the second run checks that the throughput
# repeats), for every standard frame size: tables, JSON and SVG plots in OUT.
#
#   scripts/bench-rfc2544.sh router|linux [OUT]     (default OUT: target/bench-rfc2544)
#
# RESOLUTION=0.5 sets the search's resolution (percent of the line rate; default 1.0).
# LOCK=/tmp/cpu.lock holds `flock -x LOCK` around each of the two runs (not between them, so
# builds sharing the machine proceed there); the load average is printed before each run.
#
# router: burst run as the router over memif (scripts/lab-memif.sh; line rate taken as 10 Gbit/s)
# linux:  Linux forwarding in a namespace over af_packet (scripts/lab-linux-dut.sh; 1 Gbit/s);
#         the generator on CPU 1, Linux's receive processing (its forwarding) steered to CPU 0
#         with RPS (LAB_RPS=1; LAB_RPS= leaves it on the sending CPU, the generator's)
# Trials of 2 s after 0.5 s of learning frames, 0.5 s of settling before counters are read,
# search resolution 1 % of the line rate (RESOLUTION), a failed search trial repeated up to twice (retries),
# frame loss rate at 100/90/80 %.
set -euo pipefail
cd "$(dirname "$0")/.."
dut=${1:?router or linux}
out=${2:-target/bench-rfc2544}
mkdir -p "$out"
if [ -n "${LOCK:-}" ]; then
  nice -n 19 flock -s "$LOCK" cargo build -q --release -p burst --features dpdk
else
  cargo build -q --release -p burst --features dpdk
fi
params="trial = \"2s\"
warmup = \"500ms\"
settle = \"500ms\"
resolution = ${RESOLUTION:-1.0}
max_trials = 10
retries = 2
loss_steps = 3"
# Runs "$@" under `flock -x $LOCK` when LOCK is set; says the load average first.
locked() {
  if [ -n "${LOCK:-}" ]; then
    flock -x "$LOCK" bash -c 'echo "load at start of run: $(cut -d" " -f1-3 /proc/loadavg)"; exec "$@"' _ "$@"
  else
    echo "load at start of run: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$@"
  fi
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); resolution ${RESOLUTION:-1.0}"
case "$dut" in
  router)
    sed '/^\[test.rfc2544\]/,$d' configs/gen/memif-gen.toml > "$out/router-gen.toml"
    printf '[test.rfc2544]\n%s\n' "$params" >> "$out/router-gen.toml"
    for run in 1 2; do
      GEN_CONFIG="$out/router-gen.toml" locked scripts/lab-memif.sh rfc2544 --quiet \
        --json "$out/router-$run.json" --csv "$out/router-$run.csv" --plot "$out/router-$run.svg" \
        2> >(grep -v -E '^EAL|memif_probe' >&2) | tee "$out/router-$run.txt"
    done ;;
  linux)
    export LAB_PREFIX=${LAB_PREFIX:-bgb}
    export LAB_RPS=${LAB_RPS-1}
    trap 'scripts/lab-linux-dut.sh down' EXIT
    scripts/lab-linux-dut.sh up
    scripts/lab-linux-dut.sh config "$out/linux-gen.toml"
    sed -i '/^\[test.rfc2544\]/,$d' "$out/linux-gen.toml"
    sed -i 's/^cores = 1$/cores = 1\ncpus = [1]/' "$out/linux-gen.toml"
    printf '[test.rfc2544]\n%s\n' "$params" >> "$out/linux-gen.toml"
    for run in 1 2; do
      locked target/release/burst gen -c "$out/linux-gen.toml" rfc2544 --quiet \
        --json "$out/linux-$run.json" --csv "$out/linux-$run.csv" --plot "$out/linux-$run.svg" \
        2> >(grep -v -E '^EAL' >&2) | tee "$out/linux-$run.txt"
    done ;;
  *) echo "usage: $0 router|linux [OUT]" >&2; exit 2 ;;
esac
python3 - "$out/$dut-1.json" "$out/$dut-2.json" <<'EOP'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for x, y in zip(a["sizes"], b["sizes"]):
    t1, t2 = x["throughput_pps"], y["throughput_pps"]
    d = abs(t1 - t2) / max(t1, t2) * 100 if max(t1, t2) > 0 else 0.0
    print(f"{x['size']:>5} B: NDR run 1 {t1/1e6:.3f} Mpps ({x['throughput_pct']:.2f} %), run 2 {t2/1e6:.3f} Mpps "
          f"({y['throughput_pct']:.2f} %): difference {d:.2f} %")
EOP
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
