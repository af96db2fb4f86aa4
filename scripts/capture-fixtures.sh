#!/usr/bin/env bash
# Capture real Linux-stack packet fixtures for crates/wire/tests.
#
# Usage: sudo scripts/capture-fixtures.sh [OUTDIR]
#   OUTDIR defaults to crates/wire/tests/data/linux (relative to the repo root).
#
# Everything happens inside two network namespaces this script creates
# (burstfx-a, burstfx-b) joined by one veth pair.  Addresses come only from
# 198.18.0.0/15; multicast groups only from 239.0.0.0/8 / 224.0.0.0/24.
# All created state (namespaces, capture processes, temp files) is removed on
# exit; leftovers from an interrupted run are removed first.  Every command
# is bounded by `timeout`, and waits are polling loops with deadlines.
#
# Needs root and: iproute2 (ip, tc, ss), ethtool, tcpdump, tshark + wireshark-common (editcap, capinfos),
# iputils-ping, iputils-arping, netcat-openbsd, nftables, util-linux (unshare),
# python3-scapy (/usr/bin/python3).
#
# Checksums: all offloads are switched off on both veths (ethtool -K ... tx off),
# so the kernel computes every checksum in software before the capture tap and
# the files hold final, verifiable checksums.  The final step validates every
# file with tshark and fails if any checksum is bad.
#
# Two kernel features are absent on the machine this was written on
# (CONFIG_VLAN_8021Q, CONFIG_NET_SCH_NETEM), so:
#   * vlan.pcap tags frames with the kernel's own VLAN insertion, driven by a
#     few-instruction tc-bpf program (bpf_skb_vlan_push on egress,
#     bpf_skb_vlan_pop on ingress) instead of a veth.100 subinterface;
#   * tcp-sack.pcap loses segments with a deterministic nftables drop
#     (data segments 6 and 8 of every 32, in the receiver's netdev ingress hook)
#     instead of tc netem.
set -euo pipefail

export LC_ALL=C
PY=/usr/bin/python3            # scapy lives in the system python
NS_A=burstfx-a
NS_B=burstfx-b
IF_A=veth-a
IF_B=veth-b
MAC_A=02:00:c6:12:00:01
MAC_B=02:00:c6:12:00:02
IP_A=198.18.0.1
IP_B=198.18.0.2
VLAN_IP_A=198.19.100.1
VLAN_IP_B=198.19.100.2

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/crates/wire/tests/data/linux}

if [[ $(id -u) -ne 0 ]]; then
    echo "capture-fixtures: must run as root" >&2
    exit 1
fi
for tool in ip tc ss ethtool tcpdump tshark editcap capinfos ping arping nc nft unshare timeout; do
    command -v "$tool" >/dev/null || { echo "capture-fixtures: missing $tool" >&2; exit 1; }
done
"$PY" -c 'import scapy.all' 2>/dev/null || { echo "capture-fixtures: $PY lacks scapy (apt-get install python3-scapy)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/burst-fixtures.XXXXXX)
BG_PIDS=()

log() { echo "capture-fixtures: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
ina() { ip netns exec "$NS_A" "$@"; }
inb() { ip netns exec "$NS_B" "$@"; }

# Kill any process still running inside one of our namespaces (only ever
# processes this script, or an interrupted earlier run of it, started there).
kill_ns_pids() {
    local ns=$1 pid
    [[ -e /run/netns/$ns ]] || return 0
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -TERM "$pid" 2>/dev/null || true
    done
}

delete_namespaces() {
    local ns
    for ns in "$NS_A" "$NS_B"; do
        kill_ns_pids "$ns"
        if [[ -e /run/netns/$ns ]]; then
            timeout 10 ip netns del "$ns" 2>/dev/null || true
        fi
    done
}

cleanup() {
    local rc=$? pid
    for pid in "${BG_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        timeout 5 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
    delete_namespaces
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# wait_until SECONDS CMD...: poll CMD every 50 ms until it succeeds or the deadline passes.
wait_until() {
    local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
    shift
    until "$@"; do
        (( $(date +%s%N) < deadline )) || return 1
        sleep 0.05
    done
}

frames() { timeout 10 tcpdump -r "$1" -nq 2>/dev/null | wc -l; }
has_frames() { (( $(frames "$1") >= $2 )); }

# wait_frames FILE MIN [SECONDS]: wait until FILE holds at least MIN frames.
wait_frames() {
    wait_until "${3:-10}" has_frames "$1" "$2" || die "$1: fewer than $2 frames after ${3:-10}s (got $(frames "$1"))"
}

# Wait until a capture has stopped growing for 300 ms (catch stragglers).
settle() {
    local f=$1 n m tries=0
    n=$(frames "$f")
    while (( tries < 20 )); do
        sleep 0.3
        m=$(frames "$f")
        [[ $m == "$n" ]] && return 0
        n=$m
        tries=$((tries + 1))
    done
}

# cap_start NS IFACE FILE [tcpdump args...]: start tcpdump in NS, wait until it listens.
CAP_PID=
cap_start() {
    local ns=$1 ifc=$2 file=$3
    shift 3
    : >"$file.log"
    ip netns exec "$ns" timeout 120 tcpdump -Z root -i "$ifc" -n -U -w "$file" "$@" 2>"$file.log" &
    CAP_PID=$!
    BG_PIDS+=("$CAP_PID")
    wait_until 10 grep -q 'listening on' "$file.log" || die "tcpdump did not start: $(cat "$file.log")"
}

cap_stop() {
    kill -TERM "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
}

static_neigh() {
    ina ip neigh replace "$IP_B" lladdr "$MAC_B" dev "$IF_A" nud permanent
    inb ip neigh replace "$IP_A" lladdr "$MAC_A" dev "$IF_B" nud permanent
}

flush_neigh() {
    ina ip neigh flush dev "$IF_A"
    inb ip neigh flush dev "$IF_B"
}

listening() { # NS PROTO(t|u) PORT
    ip netns exec "$1" ss -H "-ln$2" "sport = :$3" | grep -q .
}

setup() {
    delete_namespaces
    ip netns add "$NS_A"
    ip netns add "$NS_B"
    local ns
    for ns in "$NS_A" "$NS_B"; do
        # No IPv6: keeps MLD / neighbour discovery noise out of the captures.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
        ip -n "$ns" link set lo up
    done
    ip -n "$NS_A" link add name "$IF_A" address "$MAC_A" type veth peer name "$IF_B" address "$MAC_B" netns "$NS_B"
    ina ethtool -K "$IF_A" tx off gso off gro off txvlan off rxvlan off >/dev/null
    inb ethtool -K "$IF_B" tx off gso off gro off txvlan off rxvlan off >/dev/null
    ina ip addr add "$IP_A/24" dev "$IF_A"
    inb ip addr add "$IP_B/24" dev "$IF_B"
    # Quick IGMP unsolicited-report retransmits (default up to 1 s apart).
    inb sysctl -qw "net.ipv4.conf.$IF_B.igmpv3_unsolicited_report_interval=100" \
                   "net.ipv4.conf.$IF_B.igmpv2_unsolicited_report_interval=100"
    ina ip link set "$IF_A" up
    inb ip link set "$IF_B" up
    wait_until 10 sh -c "ip -n $NS_A -br link show $IF_A | grep -q UP && ip -n $NS_B -br link show $IF_B | grep -q UP" \
        || die "veth did not come up"
}

# ---------------------------------------------------------------- scenarios

cap_arp() {
    local f=$TMP/arp.pcap
    flush_neigh
    cap_start "$NS_B" "$IF_B" "$f" arp
    # Kernel-generated ARP request (A) and reply (B), triggered by a ping.
    ina timeout 5 ping -c 1 -W 2 "$IP_B" >/dev/null
    wait_frames "$f" 2
    # Gratuitous ARP: unsolicited request (-U) and unsolicited reply (-A).
    ina timeout 5 arping -q -U -c 1 -w 1 -I "$IF_A" "$IP_A" || true
    ina timeout 5 arping -q -A -c 1 -w 1 -I "$IF_A" "$IP_A" || true
    wait_frames "$f" 4
    settle "$f"
    cap_stop
}

cap_ping() {
    local f=$TMP/ping.pcap
    static_neigh
    cap_start "$NS_B" "$IF_B" "$f" icmp
    ina timeout 5 ping -c 2 -i 0.2 -W 2 "$IP_B" >/dev/null
    wait_frames "$f" 4
    settle "$f"
    cap_stop
}

cap_ping_frag() {
    local f=$TMP/ping-frag.pcap
    static_neigh
    cap_start "$NS_B" "$IF_B" "$f" icmp
    # 4000 data + 8 ICMP header bytes over MTU 1500: 3 fragments each way.
    ina timeout 5 ping -c 1 -s 4000 -W 2 "$IP_B" >/dev/null
    wait_frames "$f" 6
    settle "$f"
    cap_stop
}

cap_tcp_handshake() {
    local f=$TMP/tcp-handshake.pcap
    static_neigh
    cap_start "$NS_B" "$IF_B" "$f" tcp port 5000
    inb timeout 10 sh -c "printf 'hello from b\n' | nc -N -l $IP_B 5000 >/dev/null" &
    local srv=$!
    BG_PIDS+=("$srv")
    wait_until 5 listening "$NS_B" t 5000 || die "nc did not listen"
    ina timeout 10 sh -c "printf 'hello from a\n' | nc -N $IP_B 5000 >/dev/null"
    wait "$srv" || die "tcp server failed"
    wait_frames "$f" 8
    settle "$f"
    cap_stop
}

cap_tcp_sack() {
    local f=$TMP/tcp-sack-full.pcap out=$TMP/tcp-sack.pcap
    static_neigh
    # Drop data-bearing segments 6 and 8 of every 32 (A->B) before B's stack
    # sees them: two holes, so B's duplicate ACKs carry one, then two SACK blocks.
    inb nft -f - <<EOF
table netdev burstfx {
    chain ingress {
        type filter hook ingress device "$IF_B" priority 0; policy accept;
        tcp dport 5001 ip length > 200 numgen inc mod 32 { 5, 7 } drop
    }
}
EOF
    # Capture on the sender so the "lost" segments are visible too.
    cap_start "$NS_A" "$IF_A" "$f" -c 200 tcp port 5001
    inb timeout 20 sh -c "nc -l $IP_B 5001 >/dev/null" &
    local srv=$!
    BG_PIDS+=("$srv")
    wait_until 5 listening "$NS_B" t 5001 || die "nc did not listen"
    # One large write, so segmentation depends only on TCP (IW10, full MSS).
    ina timeout 20 "$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 5001), timeout=10)
s.sendall(bytes(300000))
s.shutdown(socket.SHUT_WR)
while s.recv(4096):
    pass
' "$IP_B"
    wait "$srv" || die "tcp server failed"
    wait_frames "$f" 50
    settle "$f"
    cap_stop
    inb nft delete table netdev burstfx
    # Keep the handshake through the first ACK with two SACK blocks and on to
    # the first retransmission of a lost segment (plus two frames).
    local first rexmit last
    first=$(timeout 20 tshark -r "$f" -Y 'tcp.options.sack.count >= 2' -T fields -e frame.number 2>/dev/null | head -1)
    [[ -n $first ]] || die "no ACK with two SACK blocks in tcp-sack capture"
    rexmit=$(timeout 20 tshark -r "$f" -Y 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission' \
        -T fields -e frame.number 2>/dev/null | head -1)
    [[ -n $rexmit ]] || die "no retransmission in tcp-sack capture"
    last=$(( (rexmit > first ? rexmit : first) + 2 ))
    (( last <= 80 )) || die "tcp-sack: SACK/retransmission only by frame $last, capture would be too big"
    editcap -F pcap -r "$f" "$out" "1-$last"
    rm -f "$f"
}

cap_udp_unreach() {
    local f=$TMP/udp-unreach.pcap
    static_neigh
    cap_start "$NS_B" "$IF_B" "$f" udp or icmp
    ina timeout 5 sh -c "printf 'probe\n' | nc -u -w 1 $IP_B 33434" >/dev/null 2>&1 || true
    wait_frames "$f" 2
    settle "$f"
    cap_stop
}

cap_igmpv3() {
    local f=$TMP/igmpv3.pcap
    cat >"$TMP/query.py" <<'EOF'
import sys
from scapy.all import Ether, IP, IPOption_Router_Alert, sendp
from scapy.contrib.igmp import IGMP
from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mq
kind, iface, src, mac = sys.argv[1:5]
ra = [IPOption_Router_Alert()]
if kind == "v3-general":
    l3 = IP(src=src, dst="224.0.0.1", ttl=1, tos=0xc0, options=ra) / IGMPv3(type=0x11, mrcode=10) / IGMPv3mq(gaddr="0.0.0.0", qrv=2, qqic=125)
    dmac = "01:00:5e:00:00:01"
elif kind == "v3-group":
    l3 = IP(src=src, dst="239.1.2.3", ttl=1, tos=0xc0, options=ra) / IGMPv3(type=0x11, mrcode=10) / IGMPv3mq(gaddr="239.1.2.3", qrv=2, qqic=125)
    dmac = "01:00:5e:01:02:03"
elif kind == "v2-general":
    l3 = IP(src=src, dst="224.0.0.1", ttl=1, tos=0xc0, options=ra) / IGMP(type=0x11, mrcode=10, gaddr="0.0.0.0")
    dmac = "01:00:5e:00:00:01"
else:
    sys.exit("unknown query " + kind)
sendp(Ether(src=mac, dst=dmac) / l3, iface=iface, verbose=0)
EOF
    query() { ina timeout 20 "$PY" "$TMP/query.py" "$1" "$IF_A" "$IP_A" "$MAC_A"; }
    static_neigh
    cap_start "$NS_B" "$IF_B" "$f" igmp
    # Join 239.1.2.3: two unsolicited IGMPv3 reports (CHANGE_TO_EXCLUDE {}).
    inb ip addr add 239.1.2.3/32 dev "$IF_B" autojoin
    wait_frames "$f" 2
    settle "$f"
    # IGMPv3 general query (max resp 1 s) -> MODE_IS_EXCLUDE report.
    query v3-general
    wait_frames "$f" 4
    # IGMPv3 group-specific query -> report for 239.1.2.3.
    query v3-group
    wait_frames "$f" 6
    settle "$f"
    # Leave: CHANGE_TO_INCLUDE {} reports.
    inb ip addr del 239.1.2.3/32 dev "$IF_B"
    wait_frames "$f" 8
    settle "$f"
    # Join 239.1.2.4, then an IGMPv2 query puts the host into v2 compatibility
    # mode: it answers with an IGMPv2 report and leaves with an IGMPv2 leave.
    inb ip addr add 239.1.2.4/32 dev "$IF_B" autojoin
    wait_frames "$f" 10
    settle "$f"
    query v2-general
    wait_frames "$f" 12
    settle "$f"
    inb ip addr del 239.1.2.4/32 dev "$IF_B"
    wait_frames "$f" 13
    settle "$f"
    cap_stop
}

cap_vlan() {
    local f=$TMP/vlan.pcap
    cat >"$TMP/vlanprog.py" <<'EOF'
# Load and pin a tiny tc (SCHED_CLS) eBPF program:
#   push: bpf_skb_vlan_push(skb, htons(ETH_P_8021Q), 100); return TC_ACT_OK;
#   pop:  bpf_skb_vlan_pop(skb); return TC_ACT_OK;
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
NR_BPF = 321  # x86_64
if os.uname().machine == "aarch64":
    NR_BPF = 280
def ins(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)
MOV64_K, CALL, EXIT = 0xB7, 0x85, 0x95
progs = {
    "push": ins(MOV64_K, 2, imm=0x0081) + ins(MOV64_K, 3, imm=100) + ins(CALL, imm=18) + ins(MOV64_K, 0) + ins(EXIT),
    "pop": ins(CALL, imm=19) + ins(MOV64_K, 0) + ins(EXIT),
}
which, path = sys.argv[1], sys.argv[2]
code = progs[which]
insns = ctypes.create_string_buffer(code, len(code))
lic = ctypes.create_string_buffer(b"GPL")
logbuf = ctypes.create_string_buffer(65536)
attr = struct.pack("<IIQQIIQII16s", 3, len(code) // 8, ctypes.addressof(insns), ctypes.addressof(lic),
                   1, len(logbuf), ctypes.addressof(logbuf), 0, 0, b"burstfx_" + which.encode())
abuf = ctypes.create_string_buffer(attr, 128)
fd = libc.syscall(NR_BPF, 5, abuf, 128)  # BPF_PROG_LOAD
if fd < 0:
    sys.exit("BPF_PROG_LOAD: %s\n%s" % (os.strerror(ctypes.get_errno()), logbuf.value.decode()))
p = ctypes.create_string_buffer(path.encode())
pattr = ctypes.create_string_buffer(struct.pack("<QII", ctypes.addressof(p), fd, 0), 128)
if libc.syscall(NR_BPF, 6, pattr, 128) < 0:  # BPF_OBJ_PIN
    sys.exit("BPF_OBJ_PIN: %s" % os.strerror(ctypes.get_errno()))
EOF
    # The bpffs used for pinning lives in a private mount namespace that ends
    # with this subshell; the attached filters keep the programs alive.
    mkdir -p "$TMP/bpffs"
    timeout 30 unshare --mount --propagation private bash -euc '
        mount -t bpf bpf "$1/bpffs"
        "$2" "$1/vlanprog.py" push "$1/bpffs/push"
        "$2" "$1/vlanprog.py" pop "$1/bpffs/pop"
        for side in "$3:$4" "$5:$6"; do
            ns=${side%%:*} dev=${side#*:}
            ip netns exec "$ns" tc qdisc add dev "$dev" clsact
            ip netns exec "$ns" tc filter add dev "$dev" egress bpf da object-pinned "$1/bpffs/push"
            ip netns exec "$ns" tc filter add dev "$dev" ingress bpf da object-pinned "$1/bpffs/pop"
        done
    ' _ "$TMP" "$PY" "$NS_A" "$IF_A" "$NS_B" "$IF_B"
    ina ip addr add "$VLAN_IP_A/24" dev "$IF_A"
    inb ip addr add "$VLAN_IP_B/24" dev "$IF_B"
    flush_neigh
    cap_start "$NS_B" "$IF_B" "$f" vlan
    # Tagged ARP request/reply, then tagged ICMP echo request/reply.
    ina timeout 5 ping -c 2 -i 0.2 -W 2 "$VLAN_IP_B" >/dev/null
    wait_frames "$f" 6
    settle "$f"
    cap_stop
    ina tc qdisc del dev "$IF_A" clsact
    inb tc qdisc del dev "$IF_B" clsact
    ina ip addr del "$VLAN_IP_A/24" dev "$IF_A"
    inb ip addr del "$VLAN_IP_B/24" dev "$IF_B"
}

cap_udp() {
    local f=$TMP/udp.pcap
    cat >"$TMP/udp.py" <<'EOF'
import socket, sys
role, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
payloads = [b"hello, burst\n", b"odd", b""]  # 13 (odd), 3 (odd), 0 bytes
if role == "server":  # echo each datagram back (one from nc + the payloads)
    s.bind((addr, port))
    for _ in range(len(payloads) + 1):
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)
else:
    for p in payloads:
        s.sendto(p, (addr, port))
        s.recvfrom(2048)
EOF
    static_neigh
    cap_start "$NS_B" "$IF_B" "$f" udp
    inb timeout 10 "$PY" "$TMP/udp.py" server "$IP_B" 40000 &
    local srv=$!
    BG_PIDS+=("$srv")
    wait_until 5 listening "$NS_B" u 40000 || die "udp server did not bind"
    # nc (netcat-openbsd) for one plain datagram with an even (12 byte) payload ...
    ina timeout 5 sh -c "printf 'even payload' | nc -u -w 1 $IP_B 40000" >/dev/null 2>&1 || true
    # ... and an echo exchange with odd and zero-length payloads.
    ina timeout 10 "$PY" "$TMP/udp.py" client "$IP_B" 40000
    wait "$srv" || die "udp server failed"
    wait_frames "$f" 8
    settle "$f"
    cap_stop
}

# ------------------------------------------------------------- verification

verify() {
    local f=$1 out bad good
    out=$(timeout 60 tshark -r "$f" -V \
        -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE 2>&1)
    bad=$(grep -Ec 'Status: Bad|incorrect|Malformed|\[Expert Info \(Error' <<<"$out" || true)
    good=$(grep -c '\[correct\]' <<<"$out" || true)
    (( bad == 0 )) || { grep -E 'Status: Bad|incorrect|Malformed|Expert Info \(Error' <<<"$out" | head >&2; die "$f: $bad checksum/decode errors"; }
    timeout 10 capinfos -E "$f" 2>/dev/null | grep -q 'Ethernet$' || die "$f: not Ethernet link type"
    printf '%-18s %3d frames %6d bytes  %3d checksums verified good\n' "$(basename "$f")" "$(frames "$f")" "$(stat -c %s "$f")" "$good"
}

main() {
    setup
    cap_arp
    cap_ping
    cap_ping_frag
    cap_tcp_handshake
    cap_tcp_sack
    cap_udp_unreach
    cap_igmpv3
    cap_vlan
    cap_udp
    local names=(arp ping ping-frag tcp-handshake tcp-sack udp-unreach igmpv3 vlan udp) n
    for n in "${names[@]}"; do
        verify "$TMP/$n.pcap"
    done
    mkdir -p "$OUT"
    for n in "${names[@]}"; do
        cp "$TMP/$n.pcap" "$OUT/$n.pcap"
    done
    log "wrote ${#names[@]} files to $OUT"
}

main
