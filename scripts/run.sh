#!/usr/bin/env bash
# The main job. Today: build burst and decode the Linux-captured fixtures with burst's own
# parsers (each frame parsed, re-emitted byte-exact, checksums verified), tcpdump style.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
if ! command -v cargo >/dev/null 2>&1; then . "$HOME/.cargo/env"; fi

cargo build --release -p burst
for f in crates/wire/tests/data/linux/*.pcap; do
  echo
  echo "=== $f"
  target/release/burst decode --verify "$f"
done
