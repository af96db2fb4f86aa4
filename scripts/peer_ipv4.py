#!/usr/bin/python3
"""The Linux peer's side of scripts/smoke-ipv4.sh: IGMPv3 and router discovery (RFC 1256)
messages sent and checked with scapy, independently of burst's own parsers.

  peer_ipv4.py igmp-pcap PCAP SRC N          reports from SRC in PCAP: valid, N groups in all
  peer_ipv4.py igmp-query IFACE SRC N SECS   sends a v3 general query, the same check on answers
  peer_ipv4.py rs-pcap PCAP SRC N            N router solicitations from SRC, valid
  peer_ipv4.py ra-send IFACE SRC ADDR PREF LIFETIME    one advertisement to 224.0.0.1
  peer_ipv4.py ra-sniff IFACE SRC SECS ADDR PREF LIFETIME MIN [solicit-from FROM]
      advertisements from SRC listing (ADDR, PREF) with LIFETIME, at least MIN of them to
      224.0.0.1; with solicit-from, also a solicitation from FROM answered to FROM.
  peer_ipv4.py ra-pcap PCAP SRC LIFETIME     an advertisement from SRC with LIFETIME is in PCAP

Exits 0 when the check holds, 1 with the reason otherwise.
"""

import struct
import sys
import time

from scapy.all import IP, Ether, Raw, AsyncSniffer, rdpcap, sendp, get_if_hwaddr  # noqa: E402
from scapy.utils import checksum

ALL_SYSTEMS = "224.0.0.1"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def ip_ok(ip):
    """Header checksum, TTL 1."""
    hdr = bytes(ip)[: ip.ihl * 4]
    if checksum(hdr) != 0:
        return "bad IPv4 header checksum"
    if ip.ttl != 1:
        return f"TTL {ip.ttl}, not 1"
    return None


def igmp_groups(packets, src):
    """Groups named in valid IGMPv3 reports from src; raises on an invalid one."""
    groups, reports = set(), 0
    for p in packets:
        if IP not in p or p[IP].src != src or p[IP].proto != 2:
            continue
        ip = p[IP]
        msg = bytes(ip.payload)[: ip.len - ip.ihl * 4]
        if msg[0] != 0x22:
            continue
        reports += 1
        err = ip_ok(ip)
        if err:
            fail(f"report {reports}: {err}")
        if ip.dst != "224.0.0.22":
            fail(f"report to {ip.dst}, not 224.0.0.22")
        if b"\x94\x04\x00\x00" not in bytes(ip)[20 : ip.ihl * 4]:
            fail("report without the Router Alert option")
        if checksum(msg) != 0:
            fail(f"report {reports}: bad IGMP checksum")
        (nrec,) = struct.unpack("!H", msg[6:8])
        off = 8
        for _ in range(nrec):
            if off + 8 > len(msg):
                fail(f"report {reports}: records run past the message")
            rtype, aux, nsrc = msg[off], msg[off + 1], struct.unpack("!H", msg[off + 2 : off + 4])[0]
            group = ".".join(str(b) for b in msg[off + 4 : off + 8])
            if rtype not in (1, 2, 3, 4, 5, 6):
                fail(f"record type {rtype}")
            groups.add(group)
            off += 8 + 4 * nsrc + 4 * aux
        if off != len(msg):
            fail(f"report {reports}: {len(msg) - off} bytes after the records")
    return groups, reports


def expect_groups(groups, reports, n):
    want = {f"239.1.{i // 256}.{i % 256}" for i in range(1, n + 1)}
    missing = want - groups
    if missing:
        fail(f"{len(missing)} of {n} groups missing from {reports} reports, e.g. {sorted(missing)[:3]}")
    print(f"ok: {n} groups in {reports} valid IGMPv3 reports")


def rdisc_messages(packets, src, kind):
    """(ip, icmp bytes) of valid router discovery messages of type kind from src."""
    out = []
    for p in packets:
        if IP not in p or p[IP].src != src or p[IP].proto != 1:
            continue
        ip = p[IP]
        msg = bytes(ip.payload)[: ip.len - ip.ihl * 4]
        if msg[0] != kind:
            continue
        err = ip_ok(ip)
        if err:
            fail(err)
        if checksum(msg) != 0:
            fail("bad ICMP checksum")
        if msg[1] != 0:
            fail(f"code {msg[1]}")
        out.append((ip, msg))
    return out


def advertisement(msg):
    """(lifetime, [(addr, pref)]) of an advertisement."""
    n, size, lifetime = msg[4], msg[5], struct.unpack("!H", msg[6:8])[0]
    if size != 2 or len(msg) != 8 + 8 * n:
        fail(f"advertisement of {n} entries of {size} words in {len(msg)} bytes")
    entries = []
    for i in range(n):
        e = msg[8 + 8 * i : 16 + 8 * i]
        entries.append((".".join(str(b) for b in e[:4]), struct.unpack("!i", e[4:])[0]))
    return lifetime, entries


def send_ip(iface, src, dst, proto, payload, options=b""):
    ihl = 5 + len(options) // 4
    mac = get_if_hwaddr(iface)
    if dst == "255.255.255.255":
        dmac = "ff:ff:ff:ff:ff:ff"
    else:
        o = [int(x) for x in dst.split(".")]
        dmac = "01:00:5e:%02x:%02x:%02x" % (o[1] & 0x7F, o[2], o[3])
    pkt = Ether(src=mac, dst=dmac) / IP(src=src, dst=dst, ttl=1, proto=proto, ihl=ihl, options=Raw(options) if options else []) / Raw(payload)
    sendp(pkt, iface=iface, verbose=False)


def icmp(type_, rest, data=b""):
    m = bytearray([type_, 0, 0, 0]) + rest + data
    struct.pack_into("!H", m, 2, checksum(bytes(m)))
    return bytes(m)


def main(a):
    cmd = a[0]
    if cmd == "igmp-pcap":
        pcap, src, n = a[1], a[2], int(a[3])
        expect_groups(*igmp_groups(rdpcap(pcap), src), n)
    elif cmd == "igmp-query":
        iface, src, n, secs = a[1], a[2], int(a[3]), float(a[4])
        sn = AsyncSniffer(iface=iface, filter="igmp")
        sn.start()
        time.sleep(0.5)
        # v3 general query: max resp 10 (1 s), QRV 2, QQIC 125, no sources.
        q = bytearray(struct.pack("!BBH4sBBH", 0x11, 10, 0, bytes(4), 2, 125, 0))
        struct.pack_into("!H", q, 2, checksum(bytes(q)))
        send_ip(iface, "198.18.0.1", ALL_SYSTEMS, 2, bytes(q), b"\x94\x04\x00\x00")
        time.sleep(secs)
        pkts = sn.stop()
        expect_groups(*igmp_groups(pkts, src), n)
    elif cmd == "rs-pcap":
        pcap, src, n = a[1], a[2], int(a[3])
        rs = rdisc_messages(rdpcap(pcap), src, 10)
        if len(rs) != n:
            fail(f"{len(rs)} solicitations, expected {n}")
        for ip, msg in rs:
            if ip.dst != "224.0.0.2" or len(msg) != 8:
                fail(f"solicitation to {ip.dst}, {len(msg)} bytes")
        print(f"ok: {n} valid router solicitations to 224.0.0.2")
    elif cmd == "ra-send":
        iface, src, addr, pref, lifetime = a[1], a[2], a[3], int(a[4]), int(a[5])
        entry = bytes(int(x) for x in addr.split(".")) + struct.pack("!i", pref)
        send_ip(iface, src, ALL_SYSTEMS, 1, icmp(9, struct.pack("!BBH", 1, 2, lifetime), entry))
        print(f"sent: advertisement {addr} preference {pref} lifetime {lifetime}")
    elif cmd == "ra-sniff":
        iface, src, secs, addr, pref, lifetime, least = a[1], a[2], float(a[3]), a[4], int(a[5]), int(a[6]), int(a[7])
        solicit = a[9] if len(a) > 9 and a[8] == "solicit-from" else None
        sn = AsyncSniffer(iface=iface, filter="icmp")
        sn.start()
        time.sleep(0.5)
        if solicit:
            send_ip(iface, solicit, "224.0.0.2", 1, icmp(10, bytes(4)))
        time.sleep(secs)
        ras = rdisc_messages(sn.stop(), src, 9)
        group = 0
        unicast = 0
        for ip, msg in ras:
            lt, entries = advertisement(msg)
            if (lt, entries) != (lifetime, [(addr, pref)]):
                fail(f"advertisement lifetime {lt} entries {entries}")
            if ip.dst == ALL_SYSTEMS:
                group += 1
            elif solicit and ip.dst == solicit:
                unicast += 1
            else:
                fail(f"advertisement to {ip.dst}")
        if group < least:
            fail(f"{group} advertisements to {ALL_SYSTEMS} in {secs} s, expected at least {least}")
        if solicit and unicast != 1:
            fail(f"{unicast} answers to the solicitation from {solicit}")
        print(f"ok: {group} advertisements to the group" + (", 1 answer to the solicitation" if solicit else ""))
    elif cmd == "ra-pcap":
        pcap, src, lifetime = a[1], a[2], int(a[3])
        ras = [advertisement(m)[0] for _, m in rdisc_messages(rdpcap(pcap), src, 9)]
        if lifetime not in ras:
            fail(f"no advertisement with lifetime {lifetime} (saw {ras})")
        print(f"ok: an advertisement with lifetime {lifetime}")
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
