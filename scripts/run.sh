#!/usr/bin/env bash
# The main job: build burst and run it as the router of the lab "router" topology (two veth
# pairs, a Linux host in a network namespace on each side, DPDK's af_packet PMD on burst's two
# ports): A pings and traceroutes B through burst, sends B 20 MiB over TCP (checksums compared)
# and fetches a page from an HTTP server in B; `burst ctl` traces packets and shows the ARP
# cache, routes and counters; then burst is stopped and everything is removed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# shellcheck disable=SC1091
if ! command -v cargo >/dev/null 2>&1; then . "$HOME/.cargo/env"; fi
cargo build --release -p burst --features dpdk

# configs/router.toml expects the lab's default prefix: namespaces bla/blb, ports blr0/blr1.
export LAB_PREFIX=bl
B=target/release/burst
SOCK=/run/burst/router.sock
PY=/usr/bin/python3
work=$(mktemp -d)
pid=""
http_pid=""
cleanup() {
  if [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null; then wait "$http_pid" 2>/dev/null || true; fi
  if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  scripts/lab.sh down router >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
ctl() { "$B" ctl --socket "$SOCK" "$@"; }
# Polls (at most $1 tenths of a second) until the rest of the line succeeds.
wait_for() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
listening() { ip netns exec blb ss -Hltn "sport = :$1" | grep -q .; }

scripts/lab.sh up router
say "burst run -c configs/router.toml &"
: >"$work/burst.log"
"$B" run -c configs/router.toml > >(tee -a "$work/burst.log" | sed -u 's/^/  [burst] /') 2>&1 &
pid=$!
# Ready once both addresses passed duplicate address detection (three probes, one second apart).
ready() { [ "$(grep -c 'address ready' "$work/burst.log")" -ge 2 ] && ctl stats >/dev/null 2>&1; }
wait_for 300 ready || { echo "burst did not become ready"; exit 1; }

say "ip netns exec bla ping -c 3 198.18.2.1"
ip netns exec bla ping -c 3 -i 0.2 198.18.2.1
say "ip netns exec blb ping -c 3 198.18.1.1"
ip netns exec blb ping -c 3 -i 0.2 198.18.1.1
say "ip netns exec bla traceroute -n 198.18.2.1   # hop 1 is burst"
# One probe at a time (-N 1): B's kernel rate-limits the port unreachables it answers with.
ip netns exec bla traceroute -n -N 1 -w 1 -m 5 198.18.2.1

say "nc: 20 MiB of random data from bla to blb through burst, sha256 compared"
head -c 20971520 /dev/urandom >"$work/20M"
timeout 60 ip netns exec blb nc -l -p 5001 -d >"$work/20M.recv" &
nc_pid=$!
wait_for 50 listening 5001
t0=$(date +%s.%N)
timeout 60 ip netns exec bla nc -N -w 10 198.18.2.1 5001 <"$work/20M"
t1=$(date +%s.%N)
wait "$nc_pid"
sha256sum "$work/20M" "$work/20M.recv" | sed "s|$work/||"
if cmp -s "$work/20M" "$work/20M.recv"; then echo "identical"; else echo "DIFFERENT"; exit 1; fi
awk -v a="$t0" -v b="$t1" 'BEGIN { s = b - a; printf "20 MiB in %.2f s (%.0f Mbit/s)\n", s, 20971520 * 8 / s / 1e6 }'

mkdir -p "$work/www" && echo "hello from blb, through burst" >"$work/www/index.html"
say "ip netns exec blb python3 -m http.server 80 --bind 198.18.2.1 &"
ip netns exec blb "$PY" -m http.server 80 --bind 198.18.2.1 --directory "$work/www" >/dev/null 2>&1 &
http_pid=$!
wait_for 100 listening 80
say "ip netns exec bla curl -i http://198.18.2.1/"
ip netns exec bla curl -sS -i --max-time 5 http://198.18.2.1/
kill "$http_pid"; wait "$http_pid" 2>/dev/null || true; http_pid=""

say "burst ctl trace 4   # while bla pings blb"
ip netns exec bla ping -c 20 -i 0.2 198.18.2.1 >/dev/null 2>&1 &
ping_pid=$!
ctl trace 4 -w 5
kill "$ping_pid" 2>/dev/null; wait "$ping_pid" 2>/dev/null || true

say "burst ctl arp -a"; ctl arp -a
say "burst ctl route print"; ctl route print
say "burst ctl stats   # non-zero counters"; ctl stats | grep -v ' 0$'
say "kill -TERM burst"
kill -TERM "$pid"
wait_for 100 sh -c "! kill -0 $pid 2>/dev/null || grep -q zombie /proc/$pid/status 2>/dev/null" || true
wait "$pid" || true
pid=""
echo "done: burst stopped, lab removed"
