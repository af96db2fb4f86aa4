#!/usr/bin/env bash
# The Linux kernel as the device under test for burst gen: a namespace <P>fwd that forwards
# (ip_forward=1) between two veth pairs whose root-namespace ends <P>g0 and <P>g1 are the
# generator's af_packet ports:
#
#   burst gen a 198.18.1.1 [<P>g0] <-> eth0 198.18.1.254 [ <P>fwd: Linux forwards ] eth1 198.18.2.254 <-> [<P>g1] b 198.18.2.1
#
#   scripts/lab-linux-dut.sh up | down | config FILE   (config writes a burst gen file for it)
#
# <P> is $LAB_PREFIX (default "bg"). Offloads are off on every veth (whole frames both ways).
# LAB_RPS=<hex CPU mask> (e.g. 1 = CPU 0) steers Linux's receive processing of every veth end
# (the namespace's forwarding, and the delivery to the generator's sockets) to those CPUs with
# RPS: without it veth hands a frame to the kernel's receive path on the CPU that sent it, so
# the namespace forwards inside the generator's send calls, on the generator's core.
# Addresses only from 198.18.0.0/15, only inside the namespace this script creates.
set -euo pipefail
P=${LAB_PREFIX:-bg}
ns=${P}fwd

down() {
  ip link del "${P}g0" 2>/dev/null || true
  ip link del "${P}g1" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}

up() {
  down
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  local i
  for i in 0 1; do
    ip link add "${P}g$i" type veth peer name "eth$i" netns "$ns"
    ip link set "${P}g$i" up
    sysctl -qw "net.ipv6.conf.${P}g$i.disable_ipv6=1" || true
    ethtool -K "${P}g$i" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
    ip -n "$ns" link set "eth$i" up
    ip netns exec "$ns" ethtool -K "eth$i" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
  done
  ip -n "$ns" addr add 198.18.1.254/24 dev eth0
  ip -n "$ns" addr add 198.18.2.254/24 dev eth1
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  if [ -n "${LAB_RPS:-}" ]; then
    for i in 0 1; do
      echo "$LAB_RPS" > "/sys/class/net/${P}g$i/queues/rx-0/rps_cpus"
      ip netns exec "$ns" sh -c "echo $LAB_RPS > /sys/class/net/eth$i/queues/rx-0/rps_cpus"
    done
    echo "lab linux-dut: RPS on every veth end to CPU mask $LAB_RPS"
  fi
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
  # ARP frames counted apart, so IPv4 counts can be compared exactly with ip -s link's.
  ip netns exec "$ns" nft -f - <<EON
table arp count {
  chain in { type filter hook input priority 0; iifname "eth0" counter; iifname "eth1" counter; }
  chain out { type filter hook output priority 0; oifname "eth0" counter; oifname "eth1" counter; }
}
EON
  echo "lab linux-dut: burst gen ports ${P}g0 (198.18.1.1/24) and ${P}g1 (198.18.2.1/24), Linux forwards in $ns"
}

config() {
  cat > "$1" <<EOC
# burst gen against Linux forwarding in namespace $ns (scripts/lab-linux-dut.sh).
[eal]
args = ["--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "1024",
        "--file-prefix=burst-gen-linux-$P",
        "--vdev=net_af_packet0,iface=${P}g0,qpairs=1",
        "--vdev=net_af_packet1,iface=${P}g1,qpairs=1"]
cores = 1

[[port]]
name = "a"
device = "net_af_packet0"
addresses = ["198.18.1.1/24"]
offloads = false
max_frame = 2048

[[port]]
name = "b"
device = "net_af_packet1"
addresses = ["198.18.2.1/24"]
offloads = false
max_frame = 2048

[[stream]]
name = "a-to-b"
port = "a"
dst = "198.18.2.1"
gateway = "198.18.1.254"
size = 64
rate = "20kpps"
# A veth is not a 10G NIC: RFC 2544's percentages are of 1 Gbit/s here.
line_rate = "1Gbps"

[test]
duration = "3s"
drain = "500ms"

[test.rfc2544]
trial = "2s"
warmup = "500ms"
settle = "500ms"
resolution = 1.0
max_trials = 10
loss_steps = 2
EOC
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  config) config "${2:?config FILE}" ;;
  *) echo "usage: $0 up|down|config FILE" >&2; exit 2 ;;
esac
