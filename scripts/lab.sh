#!/usr/bin/env bash
# Creates and removes network-namespace topologies with the Linux kernel as burst's peer.
#
#   scripts/lab.sh up host      one veth pair: <P>h0 (root namespace, for a DPDK af_packet/
#                               af_xdp port) <-> eth0 in namespace <P>peer, 198.18.0.1/24;
#                               burst takes 198.18.0.2/24 on <P>h0.
#   scripts/lab.sh up router    two pairs with a Linux host on each side:
#                               <P>r0 <-> eth0 in <P>a, 198.18.1.1/24 via 198.18.1.254
#                               <P>r1 <-> eth0 in <P>b, 198.18.2.1/24 via 198.18.2.254
#                               burst routes between them as 198.18.1.254 and 198.18.2.254.
#   scripts/lab.sh down [host|router|all]   idempotent teardown
#   scripts/lab.sh status
#
# <P> is $LAB_PREFIX (default "bl"), so concurrent tests can use their own labs. Addresses only
# from 198.18.0.0/15, only inside namespaces this script creates.
#
# LAB_OFFLOADS=off (the default) turns the veths' offloads (checksum, TSO/GSO, GRO) off so both
# ends exchange real, complete frames; LAB_OFFLOADS=default leaves them as Linux sets them, as a
# user's own lab has them: the Linux side then sends partial checksums and TSO super-frames,
# which burst's af_packet/af_xdp ports accept ([[port]] partial_checksums, docs/ports.md).
# LAB_MTU=N sets every veth's MTU (jumbo frames).
set -euo pipefail

P=${LAB_PREFIX:-bl}
if [ "${#P}" -gt 8 ]; then echo "lab: LAB_PREFIX must be at most 8 characters" >&2; exit 2; fi

OFFLOADS=${LAB_OFFLOADS:-off}
case "$OFFLOADS" in off|default) ;; *) echo "lab: LAB_OFFLOADS must be off or default" >&2; exit 2 ;; esac

quiet_ethtool() {
  [ "$OFFLOADS" = off ] || return 0
  # veths accept these; ignore features a kernel does not expose.
  ethtool -K "$@" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
}

# pair DPDK_END NETNS ADDR/LEN GATEWAY
pair() {
  local dev=$1 ns=$2 addr=$3 gw=$4
  ip netns add "$ns"
  ip link add "$dev" type veth peer name eth0 netns "$ns"
  if [ -n "${LAB_MTU:-}" ]; then
    ip link set "$dev" mtu "$LAB_MTU"
    ip -n "$ns" link set eth0 mtu "$LAB_MTU"
  fi
  ip link set "$dev" up
  quiet_ethtool "$dev"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$ns" addr add "$addr" dev eth0
  if [ "$OFFLOADS" = off ]; then
    ip netns exec "$ns" ethtool -K eth0 tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
  fi
  if [ -n "$gw" ]; then ip -n "$ns" route add default via "$gw"; fi
  # The DPDK end carries no kernel address: burst owns it. Keep IPv6 noise off it.
  sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" || true
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
}

del_ns() { ip netns del "$1" 2>/dev/null || true; }
del_link() { ip link del "$1" 2>/dev/null || true; }

down_host() { del_link "${P}h0"; del_ns "${P}peer"; }
down_router() { del_link "${P}r0"; del_link "${P}r1"; del_ns "${P}a"; del_ns "${P}b"; }

up_host() {
  down_host
  pair "${P}h0" "${P}peer" 198.18.0.1/24 ""
  echo "lab host: burst port ${P}h0 (use 198.18.0.2/24) <-> ${P}peer eth0 198.18.0.1/24"
}

up_router() {
  down_router
  pair "${P}r0" "${P}a" 198.18.1.1/24 198.18.1.254
  pair "${P}r1" "${P}b" 198.18.2.1/24 198.18.2.254
  echo "lab router: ${P}a 198.18.1.1 <-> [${P}r0 198.18.1.254 | burst | ${P}r1 198.18.2.254] <-> ${P}b 198.18.2.1"
}

status() {
  for ns in "${P}peer" "${P}a" "${P}b"; do
    if ip netns list | grep -qw "$ns"; then
      echo "namespace $ns:"; ip -n "$ns" -br addr show dev eth0 | sed 's/^/  /'
    fi
  done
  ip -br link show | grep -E "^${P}(h0|r0|r1)" || true
}

case "${1:-}/${2:-}" in
  up/host) up_host ;;
  up/router) up_router ;;
  down/host) down_host ;;
  down/router) down_router ;;
  down/|down/all) down_host; down_router ;;
  status/*) status ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
