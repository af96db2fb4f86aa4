#!/usr/bin/env python3
"""Helpers for scripts/bench-l3fwd.sh (standard library only).

  bench-l3fwd.py pcap OUT.pcap DST_MAC SRC_NET DST_NET [COUNT]
      Writes COUNT (default 256) 60-byte Ethernet/IPv4/TCP frames (64 bytes on the wire with
      the FCS): destination MAC DST_MAC (the router port's), TTL 64, valid IPv4 and TCP
      checksums, sources SRC_NET.10-25 and destinations DST_NET.10-25 (SRC_NET/DST_NET are the
      first three octets, e.g. 198.18.0), source ports 1024.. and destination ports 80..95 so
      every frame is a different flow (beyond 64,512 frames the source ports start again with
      destination ports 96.., 112.., ...).

  bench-l3fwd.py pcap OUT.pcap DST_MAC SRC_NET DST_NET COUNT FLAGS
      The same with TCP flags FLAGS (an integer; default 2, SYN): 16 (ACK) for the segments
      of established connections.

  bench-l3fwd.py replies OUT.pcap DST_MAC SRC_NET PUBLIC COUNT FLAGS
      The answers to the first form's COUNT flows after NAPT with port preservation to the
      address PUBLIC: from SRC_NET.10-25 (the first form's destinations, ports 80..95) to
      PUBLIC, ports 1024.. (one per flow), TCP flags FLAGS.

  bench-l3fwd.py routes VIA0 VIA1
      Prints [[route]] entries for every prefix of length /16../32 inside 198.18.0.0/15 that
      does not overlap 198.18.0.0/23 (the test destinations) or 198.19.0.0/23 (the transit
      subnets): 260,082 routes, the largest table the address rule (198.18.0.0/15 only)
      allows without changing where the test traffic goes. Next hops alternate VIA0/VIA1.

  bench-l3fwd.py rate SOCKET WARMUP SECONDS PORT...
      Connects to a DPDK telemetry v2 socket, waits WARMUP seconds, reads /ethdev/stats of the
      ports, waits SECONDS, reads them again and prints one line:
      "rate MPPS opackets N ipackets N imissed N oerrors N rx_nombuf N window S query_ms MS"
      (deltas over the window; MPPS = forwarded frames, the ports' opackets summed, per
      second; query_ms = the longer of the two snapshots' query times).

  bench-l3fwd.py first-pass SOCKET FLOWS LIMIT PORT...
      Samples DPDK telemetry every 20 ms from now on (LIMIT seconds at most) and prints the
      forwarding rate between 10 % and 90 % of FLOWS frames forwarded (summed opackets of
      the ports): the first pass of a pcap of FLOWS unique flows, start-up and the second
      pass excluded.
"""

import json
import socket
import struct
import sys
import time


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pcap(out: str, dst_mac: str, src_net: str, dst_net: str, count: int, flags: int = 2,
         public: str = "") -> None:
    dmac = bytes.fromhex(dst_mac.replace(":", ""))
    smac = bytes.fromhex("020000000099")  # the upstream host that sends to the router
    sn = bytes(int(x) for x in src_net.split("."))
    dn = bytes(int(x) for x in dst_net.split("."))
    pub = bytes(int(x) for x in public.split(".")) if public else b""
    assert len(dmac) == 6 and len(sn) == 3 and len(dn) == 3 and len(pub) in (0, 4)
    with open(out, "wb") as f:
        # pcap global header: microsecond timestamps, v2.4, snaplen 65535, LINKTYPE_ETHERNET.
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(count):
            # Beyond 64,512 flows the source ports repeat with other destination ports: flow i
            # is inside endpoint e = i % 64512 (one NAT mapping each, its port preserved) to
            # destination d = i // 64512 of it.
            e, d = i % 64512, i // 64512
            src = sn + bytes([10 + e % 16])
            dst = dn + bytes([10 + (e // 16) % 16])
            sport, dport = 1024 + e, 80 + e % 16 + 16 * d
            if pub:
                # The answer to flow i of the other direction, sent to its public address.
                src, dst = sn + bytes([10 + (e // 16) % 16]), pub
                sport, dport = dport, sport
            ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xffff, 0x4000, 64, 6, 0, src, dst))
            ip[10:12] = struct.pack("!H", csum(bytes(ip)))
            tcp = bytearray(struct.pack("!HHIIBBHHH", sport, dport, 1 + i, 0, 0x50, flags, 65535, 0, 0))
            pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
            tcp[16:18] = struct.pack("!H", csum(pseudo + bytes(tcp)))
            frame = dmac + smac + b"\x08\x00" + bytes(ip) + bytes(tcp)
            frame += b"\0" * (60 - len(frame))  # Ethernet minimum: 60 bytes + 4-byte FCS
            f.write(struct.pack("<IIII", i, 0, len(frame), len(frame)) + frame)


def routes(via0: str, via1: str) -> None:
    base = (198 << 24) | (18 << 16)
    test = [(base, 23), (base | (1 << 16), 23)]  # 198.18.0.0/23, 198.19.0.0/23
    out, n = [], 0
    for length in range(16, 33):
        size = 1 << (32 - length)
        for net in range(base, base + (1 << 17), size):
            if any(net < t + (1 << (32 - tl)) and t < net + size for t, tl in test):
                continue
            a = "%d.%d.%d.%d" % (net >> 24, (net >> 16) & 255, (net >> 8) & 255, net & 255)
            out.append('[[route]]\nprefix = "%s/%d"\nvia = "%s"\n' % (a, length, via1 if n % 2 else via0))
            n += 1
    sys.stdout.write("".join(out))


def query(sock: socket.socket, cmd: str) -> dict:
    sock.send(cmd.encode())
    return json.loads(sock.recv(1 << 16).decode())


def stats(sock: socket.socket, ports: list) -> dict:
    total = {}
    for p in ports:
        reply = query(sock, "/ethdev/stats,%d" % p)["/ethdev/stats"]
        for k in ("opackets", "ipackets", "imissed", "oerrors", "rx_nombuf"):
            total[k] = total.get(k, 0) + int(reply[k])
    return total


def rate(path: str, warmup: float, secs: float, ports: list) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.settimeout(5)
    sock.connect(path)
    json.loads(sock.recv(1 << 16).decode())  # greeting: version, pid, max_output_len
    time.sleep(warmup)
    # Each snapshot is stamped at the middle of its queries: the router's telemetry thread
    # shares the forwarding CPU, so an answer can take a scheduler tick or two.
    s0 = time.monotonic()
    a = stats(sock, ports)
    s1 = time.monotonic()
    time.sleep(secs)
    e0 = time.monotonic()
    b = stats(sock, ports)
    e1 = time.monotonic()
    d = {k: b[k] - a[k] for k in a}
    window = (e0 + e1) / 2 - (s0 + s1) / 2
    print("rate %.3f %s window %.3f query_ms %.1f total_opackets %d" % (
        d["opackets"] / window / 1e6, " ".join("%s %d" % kv for kv in d.items()), window,
        max(s1 - s0, e1 - e0) * 1e3, b["opackets"]))


def first_pass(path: str, flows: int, limit: float, ports: list) -> None:
    """The forwarding rate while the first FLOWS frames go through (NEW=1: every one a new
    session): samples the counters every 20 ms from the start and reports the slope between
    10 % and 90 % of FLOWS forwarded, so neither start-up nor the pcap's second pass counts."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.settimeout(5)
    sock.connect(path)
    json.loads(sock.recv(1 << 16).decode())
    lo, hi = flows // 10, flows * 9 // 10
    first = None
    end = time.monotonic() + limit
    while time.monotonic() < end:
        t0 = time.monotonic()
        n = stats(sock, ports)["opackets"]
        t = (t0 + time.monotonic()) / 2
        if first is None and n >= hi:
            break  # already past: started too late to see the first pass
        if first is None and n >= lo:
            first = (t, n)
        elif first is not None and n >= hi:
            window = t - first[0]
            print("rate %.3f window %.3f frames %d total_opackets %d" % (
                (n - first[1]) / window / 1e6, window, n - first[1], n))
            return
        time.sleep(0.02)
    raise SystemExit("first pass: %d of %d frames forwarded%s" % (
        n, flows, "" if first is not None else " (the sampling started after 10 %)"))


def main() -> int:
    if len(sys.argv) >= 6 and sys.argv[1] == "pcap":
        pcap(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]) if len(sys.argv) > 6 else 256,
             int(sys.argv[7]) if len(sys.argv) > 7 else 2)
    elif len(sys.argv) == 8 and sys.argv[1] == "replies":
        pcap(sys.argv[2], sys.argv[3], sys.argv[4], "0.0.0", int(sys.argv[6]), int(sys.argv[7]), sys.argv[5])
    elif len(sys.argv) == 4 and sys.argv[1] == "routes":
        routes(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 6 and sys.argv[1] == "first-pass":
        first_pass(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), [int(p) for p in sys.argv[5:]])
    elif len(sys.argv) >= 6 and sys.argv[1] == "rate":
        rate(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), [int(p) for p in sys.argv[5:]])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
