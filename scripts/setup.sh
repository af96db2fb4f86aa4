#!/usr/bin/env bash
# Installs what burst needs to build, run and test on Debian 12. Idempotent: a second run
# installs nothing. Run as root (or with sudo available).
set -euo pipefail

# Debian packages: C toolchain for -sys crates, and the real peers/tools the tests use
# (the Linux stack in network namespaces, tcpdump/tshark as independent decoders).
PKGS=(
  build-essential pkg-config ca-certificates curl
  iproute2 iputils-ping iputils-arping iputils-tracepath traceroute netcat-openbsd ethtool
  tcpdump tshark python3 python3-scapy nftables
  # scapy's SecurityAssociation (ESP interop of scripts/check-ipsec-scapy.sh) needs it.
  python3-cryptography
  # NFQUEUE (the delay line of scripts/smoke-tcp.sh): nftables here cannot queue.
  iptables
  # valgrind (cachegrind/callgrind): instruction counts where hardware counters are absent (bench-tcp.sh).
  valgrind
  # wrk: HTTP load against the HTTP service (bench-http.sh) and against nginx (lab-gen-nginx.sh).
  wrk
  # nginx-light: the Linux-kernel HTTP server burst gen is measured against (lab-gen-nginx.sh).
  nginx-light
  # conntrack-tools: Linux's NAT sessions for the differential check of smoke-nat.sh.
  conntrack
  # iperf3: TCP through burst as a router vs Linux forwarding in the veth lab (bench-veth.sh).
  iperf3
  # tmux: drives `burst ctl top` in scripts/smoke-observe.sh.
  tmux
  # DPDK 22.11 LTS: libraries + PMD plugins, headers for bindgen, testpmd, examples (l3fwd).
  dpdk dpdk-dev libdpdk-dev dpdk-doc libclang-dev clang
  # intel-ipsec-mb 1.3 (libdpdk-dev depends on it too): burst-ipsec's AES-GCM with the
  # `ipsec-mb` feature, which `--features dpdk` builds turn on.
  libipsec-mb-dev
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  # tshark asks whether non-root users may capture; answer for it.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  # iperf3 asks whether to run as a daemon at boot; the bench starts its own servers.
  echo "iperf3 iperf3/start_daemon boolean false" | $SUDO debconf-set-selections
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust: use the machine's toolchain if there is one, else rustup, else Debian's cargo.
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing the Rust toolchain"
  if curl -sSf --max-time 60 https://sh.rustup.rs -o /tmp/rustup-init.sh; then
    sh /tmp/rustup-init.sh -y --profile minimal --component rustfmt,clippy
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  else
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cargo rustc rustfmt rust-clippy
  fi
fi
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi
echo "setup: ok ($(cargo --version))"
