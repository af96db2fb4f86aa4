#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each: the parser targets seeded with
# the Linux fixture frames, the whole-node targets (node_host, node_router) with the seed
# scripts in fuzz/seeds/ (kept in step with crates/runtime/tests/support/node_fuzz/mod.rs by
# `cargo test --test node_fuzz`). Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# (default: 20 s, all targets)
#
# cargo-fuzz needs nightly-only compiler flags; with only a stable toolchain available we set
# RUSTC_BOOTSTRAP=1, which lets stable rustc accept them (for this fuzz build only).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(all frame ethernet arp ipv4 icmpv4 igmp udp tcp ipsec node_host node_router)
fi

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

# Seed corpus: every fixture frame, as raw bytes (pcap records after the 24-byte file header).
seed=fuzz/corpus/seed
mkdir -p "$seed"
python3 - "$seed" crates/wire/tests/data/linux/*.pcap <<'PY'
import os, struct, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    d = open(path, "rb").read()
    off, n = 24, 0
    while off + 16 <= len(d):
        _, _, incl, _ = struct.unpack("<IIII", d[off:off + 16])
        off += 16
        with open(os.path.join(out, f"{os.path.basename(path)}-{n}"), "wb") as f:
            f.write(d[off:off + incl])
        off += incl
        n += 1
PY

cargo fuzz build --release
# FUZZ_RUNS=N: instead of SECONDS, N runs per target from a fixed seed (FUZZ_SEED, default 1)
# over a scratch corpus holding only the seeds, so the outcome depends neither on time and
# load nor on what earlier runs left in fuzz/corpus: scripts/test.sh runs it this way (the
# same inputs every time); exploring for new crashes is this script's job without it.
for t in "${targets[@]}"; do
  seeds=$seed
  case $t in node_*) seeds=fuzz/seeds/$t ;; esac
  if [ -n "${FUZZ_RUNS:-}" ]; then
    corpus=$(mktemp -d)
    limit=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
    echo "=== fuzz $t: $FUZZ_RUNS runs from seed ${FUZZ_SEED:-1}"
  else
    corpus=fuzz/corpus/$t
    mkdir -p "$corpus"
    limit=(-max_total_time="$secs")
    echo "=== fuzz $t for ${secs}s"
  fi
  cargo fuzz run --release "$t" "$corpus" "$seeds" -- "${limit[@]}" -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss|Done|==.*ERROR|SUMMARY)" || true
  if [ -n "${FUZZ_RUNS:-}" ]; then rm -rf "$corpus"; fi
  # cargo fuzz exits non-zero on a crash; the pipeline above hides it, so check for artifacts.
  if ls "fuzz/artifacts/$t"/crash-* >/dev/null 2>&1; then
    echo "fuzz $t found a crash: fuzz/artifacts/$t/"; exit 1
  fi
done
