#!/usr/bin/env bash
# The main job: build burst and run it as a host on the lab "host" topology (a veth pair, the
# Linux kernel in a network namespace as the peer, DPDK's af_packet PMD on our end), show what
# it does with ping/arping from Linux and burst ctl from our side, print the counters, clean up.
# (The router between two namespaces becomes the main job with the forwarding issue.)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
if ! command -v cargo >/dev/null 2>&1; then . "$HOME/.cargo/env"; fi
cargo build --release -p burst --features dpdk

export LAB_PREFIX=bl
B=target/release/burst
SOCK=/run/burst/host.sock
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  scripts/lab.sh down host >/dev/null 2>&1 || true
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

scripts/lab.sh up host
say "burst run -c configs/host.toml &"
"$B" run -c configs/host.toml > >(sed 's/^/  [burst] /') 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -S "$SOCK" ] && "$B" ctl --socket "$SOCK" stats >/dev/null 2>&1 && break; sleep 0.1; done
sleep 3.5 # duplicate address detection: three probes one second apart

say "ip netns exec blpeer ping -c 3 198.18.0.2"; ip netns exec blpeer ping -c 3 -i 0.2 198.18.0.2
say "ip netns exec blpeer ping -c 2 -s 1472 -M do 198.18.0.2"; ip netns exec blpeer ping -c 2 -i 0.2 -s 1472 -M do 198.18.0.2
say "ip netns exec blpeer arping -c 2 -I eth0 198.18.0.2"; ip netns exec blpeer arping -c 2 -w 3 -I eth0 198.18.0.2
say "ip netns exec blpeer ip neigh"; ip netns exec blpeer ip neigh
say "burst ctl ping -c 3 198.18.0.1"; "$B" ctl --socket "$SOCK" ping -c 3 198.18.0.1
say "burst ctl tracert 198.18.0.1"; "$B" ctl --socket "$SOCK" tracert -h 3 198.18.0.1
say "burst ctl arp -a"; "$B" ctl --socket "$SOCK" arp -a
say "burst ctl route print"; "$B" ctl --socket "$SOCK" route print
say "burst ctl stats"; "$B" ctl --socket "$SOCK" stats | grep -v ' 0$'
say "kill -TERM burst"
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "done: burst stopped, lab removed"
