#!/usr/bin/env bash
# burst gen against burst's router over net_memif: two DPDK processes (one EAL each, their own
# --file-prefix, --no-huge --no-pci --no-shconf) joined by two memif sockets in a fresh folder.
# Starts `burst run -c configs/gen/memif-router.toml` (the DUT, CPU 0), waits until it runs,
# runs `burst gen -c configs/gen/memif-gen.toml ARGS...` (CPU 1), then stops the router and
# removes the folder, whatever happens. The generator's exit status is the script's.
#
#   scripts/lab-memif.sh [burst gen arguments]      e.g.  --json r.json
#   scripts/lab-memif.sh rfc2544 --plot r.svg
#   GEN_CONFIG=my-gen.toml ROUTER_CONFIG=my-router.toml scripts/lab-memif.sh ...
#
# Both configurations must use /tmp/burst-memif/{a,b}.sock: the script rewrites that folder.
set -euo pipefail
cd "$(dirname "$0")/.."
burst=${BURST:-target/release/burst}
gen_cfg=${GEN_CONFIG:-configs/gen/memif-gen.toml}
router_cfg=${ROUTER_CONFIG:-configs/gen/memif-router.toml}
[ -x "$burst" ] || { echo "lab-memif: $burst not built (cargo build --release -p burst --features dpdk)" >&2; exit 1; }

dir=$(mktemp -d /tmp/burst-memif.XXXXXX)
tag=$(basename "$dir" | tr -cd 'a-zA-Z0-9')
router_pid=""
cleanup() {
  if [ -n "$router_pid" ] && kill -0 "$router_pid" 2>/dev/null; then
    kill -TERM "$router_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$router_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$router_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

rewrite() { sed -e "s|/tmp/burst-memif|$dir|g" -e "s|--file-prefix=\([a-z-]*\)|--file-prefix=\1-$tag|" "$1" > "$2"; }
rewrite "$router_cfg" "$dir/router.toml"
rewrite "$gen_cfg" "$dir/gen.toml"

BURST_LOG=${BURST_LOG:-warn} "$burst" run -c "$dir/router.toml" > "$dir/router.log" 2>&1 &
router_pid=$!
# The router is up once its memif sockets exist (it is their server).
for _ in $(seq 1 100); do
  [ -S "$dir/a.sock" ] && [ -S "$dir/b.sock" ] && break
  kill -0 "$router_pid" 2>/dev/null || { echo "lab-memif: the router exited:" >&2; cat "$dir/router.log" >&2; exit 1; }
  sleep 0.1
done
[ -S "$dir/a.sock" ] || { echo "lab-memif: the router did not create its memif sockets in 10 s" >&2; cat "$dir/router.log" >&2; exit 1; }

sub=()
if [ "${1:-}" = rfc2544 ] || [ "${1:-}" = udp ] || [ "${1:-}" = tcp ] || [ "${1:-}" = icmp ]; then sub=("$1"); shift; fi
status=0
"$burst" gen -c "$dir/gen.toml" "$@" ${sub[@]+"${sub[@]}"} || status=$?
exit $status
