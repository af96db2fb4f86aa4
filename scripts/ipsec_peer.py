#!/usr/bin/python3
"""scapy's SecurityAssociation as burst's live IPsec peer (scripts/smoke-ipsec.sh), run inside
the lab's namespace B (198.18.2.1) on its eth0.

  ipsec_peer.py gateway     B as the tunnel gateway of 198.19.0.0/16, one tunnel-mode SA pair
                            per transform and one with AH (TUNNELS): ESP/AH from burst is opened; ICMP echo
                            requests and UDP datagrams inside are answered (echo) back through
                            the tunnel of the same transform. Runs until killed.
  ipsec_peer.py tunnel-in   the other way: for each tunnel of TUNNELS, an ESP ping from the
                            tunnel's far host to A (198.18.1.1) through burst, whose answer
                            must come back over ESP on the same transform. Sequence numbers
                            from 100000 on, so they do not collide with the gateway's own.
  ipsec_peer.py transport   transport mode with burst's 198.18.2.254 (SPI 0x1001 to burst,
                            0x2001 from it): pings and UDP echo over ESP, then a replay, a
                            forged packet, an unknown SPI and plain traffic, none answered.
                            One line PASS/FAIL per check; exit status 1 if any failed.
  ipsec_peer.py algorithms  transport mode with three more of burst's addresses, one SA pair
                            per transform: 198.18.2.253 AES-GCM-256 with ESN (SPIs 0x1011 to
                            burst, 0x2011 from it), 198.18.2.252 ChaCha20-Poly1305 with ESN
                            (0x1012/0x2012), 198.18.2.251 AES-CBC-128 + HMAC-SHA-256-128
                            without ESN (0x1013/0x2013; scapy 2.5 leaves the ESN high half out
                            of an ESP HMAC), and 198.18.2.250 with AH (RFC 4302,
                            HMAC-SHA-256-128; 0x1031/0x2031): a ping and a UDP echo answered
                            over the same protocol.
                            Transport mode also checks a wrong next header: an ESP datagram
                            with a valid ICV whose next header is 4 (IPv4, which a transport
                            SA cannot carry) is not answered.

Keys and SPIs match the [ipsec] section smoke-ipsec.sh gives burst.
"""
import os
import sys
import threading
import time

from scapy.all import AsyncSniffer, ICMP, IP, UDP, Raw, conf, raw, send
from scapy.layers.ipsec import AH, ESP, SecurityAssociation

BURST, PEER = "198.18.2.254", "198.18.2.1"
K_IN = bytes.fromhex("000102030405060708090a0b0c0d0e0f10111213")  # to burst
K_OUT = bytes.fromhex("202122232425262728292a2b2c2d2e2f30313233")  # from burst
K_TIN = bytes.fromhex("404142434445464748494a4b4c4d4e4f50515253")
K_TOUT = bytes.fromhex("606162636465666768696a6b6c6d6e6f70717273")

# name, burst's address, SPI to burst, SPI from burst, scapy crypt_algo, auth_algo, ESN
ALGORITHMS = [
    ("aes-gcm-256 esn", "198.18.2.253", 0x1011, 0x2011, "AES-GCM", None, True),
    ("chacha20-poly1305 esn", "198.18.2.252", 0x1012, 0x2012, "CHACHA20-POLY1305", None, True),
    ("aes-cbc-128-hmac-sha256", "198.18.2.251", 0x1013, 0x2013, "AES-CBC", "SHA2-256-128",
     False),
    # AH (RFC 4302), HMAC-SHA-256-128, mutable IP header fields zeroed.
    ("ah hmac-sha256-128", "198.18.2.250", 0x1031, 0x2031, "AH", "SHA2-256-128", False),
]


# Tunnel mode, scapy as the gateway of 198.19.0.0/16 (burst's side: 198.18.1.0/24): name, the
# far host, SPI to burst, SPI from burst, crypt_algo, key length, auth_algo, ESN. The first is
# the catch-all 198.19.0.0/16 (keys K_TIN/K_TOUT); the others own a /24 each.
TUNNELS = [
    ("tunnel aes-gcm-128", "198.19.0.5", 0x1002, 0x2002, "AES-GCM", 20, None, False),
    ("tunnel aes-gcm-256 esn", "198.19.1.5", 0x1021, 0x2021, "AES-GCM", 36, None, True),
    ("tunnel chacha20-poly1305 esn", "198.19.2.5", 0x1022, 0x2022, "CHACHA20-POLY1305", 36,
     None, True),
    ("tunnel aes-cbc-256-hmac-sha256", "198.19.3.5", 0x1023, 0x2023, "AES-CBC", 32,
     "SHA2-256-128", False),
    ("tunnel null-hmac-sha256", "198.19.4.5", 0x1024, 0x2024, "NULL", 0, "SHA2-256-128", False),
    ("tunnel ah hmac-sha256-128", "198.19.5.5", 0x1025, 0x2025, "AH", 0, "SHA2-256-128", False),
]
HOST_A = "198.18.1.1"


def tunnel_sas(spi_in, spi_out, crypt, klen, auth, esn):
    """(to burst, from burst) SecurityAssociations of one TUNNELS entry."""
    sas = []
    for spi, hdr in ((spi_in, (PEER, BURST)), (spi_out, (BURST, PEER))):
        if spi in (0x1002, 0x2002):
            key, akey = (K_TIN if spi == 0x1002 else K_TOUT), b""
        else:
            key, akey = alg_keys(spi, crypt, klen)
        kw = dict(tunnel_header=IP(src=hdr[0], dst=hdr[1]))
        sas.append(make_sa(spi, crypt, key, auth, akey, esn, **kw))
    return sas


def make_sa(spi, crypt, key, auth, akey, esn, **kw):
    """scapy's SA: ESP with `crypt` (and `auth`), or AH (`crypt` "AH") with `auth`."""
    if crypt == "AH":
        return SecurityAssociation(AH, spi=spi, auth_algo=auth, auth_key=akey, **kw)
    kw.update(crypt_algo=crypt, crypt_key=key)
    if auth:
        kw.update(auth_algo=auth, auth_key=akey)
    if esn:
        kw.update(esn_en=True, esn=0)
    return SecurityAssociation(ESP, spi=spi, **kw)


def open_sa(sa, p):
    """`sa.decrypt(p)` dissected again: scapy's AH leaves what it carried as raw bytes."""
    return IP(raw(sa.decrypt(p)))


def spi_of(p):
    """The SPI of an ESP or AH packet, else None."""
    if ESP in p:
        return p[ESP].spi
    if AH in p:
        return p[AH].spi
    return None


def alg_keys(spi, crypt, klen=None):
    """The keys smoke-ipsec.sh gives burst for `spi`: byte i is (spi & 0xff) * 8 + i."""
    if klen is None:
        klen = {"AES-GCM": 36, "CHACHA20-POLY1305": 36, "AES-CBC": 16, "AH": 0}[crypt]
    key = bytes(((spi & 0xFF) * 8 + i) & 0xFF for i in range(klen))
    auth = bytes(((spi & 0xFF) * 8 + 0x80 + i) & 0xFF for i in range(32))
    return key, auth


conf.verb = 0
IFACE = "eth0"


def sa(spi, key, tunnel=None):
    kw = dict(crypt_algo="AES-GCM", crypt_key=key)
    if tunnel:
        kw["tunnel_header"] = IP(src=tunnel[0], dst=tunnel[1])
    return SecurityAssociation(ESP, spi=spi, **kw)


def esp_from(spi, src=BURST):
    """ESP or AH from `src` with `spi`."""
    return lambda p: IP in p and p[IP].src == src and spi_of(p) == spi


def gateway():
    # SPI from burst -> (SA to burst, SA from burst)
    sas = {}
    for _, _, spi_in, spi_out, crypt, klen, auth, esn in TUNNELS:
        to_burst, from_burst = tunnel_sas(spi_in, spi_out, crypt, klen, auth, esn)
        sas[spi_out] = (to_burst, from_burst)

    def answer(p):
        to_burst, from_burst = sas[spi_of(p)]
        try:
            inner = open_sa(from_burst, p[IP])
        except Exception as err:  # not ours, or integrity failure
            print(f"gateway: cannot open: {err!r}", flush=True)
            return
        if ICMP in inner and inner[ICMP].type == 8:
            r = IP(src=inner.dst, dst=inner.src) / ICMP(
                type=0, id=inner[ICMP].id, seq=inner[ICMP].seq) / raw(inner[ICMP].payload)
        elif UDP in inner:
            r = IP(src=inner.dst, dst=inner.src) / UDP(
                sport=inner[UDP].dport, dport=inner[UDP].sport) / raw(inner[UDP].payload)
        else:
            return
        send(to_burst.encrypt(IP(raw(r))), iface=IFACE)

    def ours(p):
        return IP in p and p[IP].src == BURST and spi_of(p) in sas

    s = AsyncSniffer(iface=IFACE, lfilter=ours, prn=answer, store=False)
    s.start()
    print("gateway: ready", flush=True)
    while True:
        time.sleep(1)


class Transport:
    def __init__(self):
        self.to_burst = sa(0x1001, K_IN)
        self.from_burst = sa(0x2001, K_OUT)
        self.fails = 0

    def exchange(self, pkt, want_spi=0x2001, wait=2.0, src=BURST, until=None):
        """Sends `pkt` (bytes-ready scapy packet), returns the packets from `src` with
        `want_spi` seen within `wait` seconds, or up to the first one for which `until`
        holds."""
        started = threading.Event()
        s = AsyncSniffer(iface=IFACE, lfilter=esp_from(want_spi, src), stop_filter=until,
                         started_callback=started.set)
        s.start()
        started.wait(2.0)
        send(pkt, iface=IFACE)
        s.join(timeout=wait)
        try:
            s.stop()
        except Exception:  # stopped by `until` meanwhile
            s.join()
        return s.results or []

    def opens(self, p, want):
        """Whether burst's ESP packet `p` opens (SPI 0x2001) to a datagram `want` accepts."""
        try:
            return want(open_sa(self.from_burst, p[IP].copy()))  # decrypt changes p
        except Exception:
            return False

    def check(self, what, ok):
        print(("PASS " if ok else "FAIL ") + what, flush=True)
        self.fails += 0 if ok else 1

    def run(self):
        # Pings over ESP, answered over ESP.
        first = None
        for seq in (1, 2, 3):
            ping = IP(src=PEER, dst=BURST) / ICMP(id=0x4242, seq=seq) / Raw(b"esp ping" * 8)
            e = self.to_burst.encrypt(ping)
            first = first or e

            def is_pong(p, seq=seq):
                return self.opens(p, lambda r: ICMP in r and r[ICMP].type == 0 and
                                  r[ICMP].seq == seq)
            got = self.exchange(e, wait=5.0, until=is_pong)
            self.check(f"transport: ESP ping {seq} answered over ESP (SPI 0x2001)",
                       any(is_pong(p) for p in got))
        # UDP echo (port 7) both ways.
        u = IP(src=PEER, dst=BURST) / UDP(sport=40007, dport=7) / Raw(b"udp over esp")

        def is_echo(p):
            return self.opens(p, lambda r: UDP in r and r[UDP].sport == 7 and
                              raw(r[UDP].payload) == b"udp over esp")
        got = self.exchange(self.to_burst.encrypt(u), wait=5.0, until=is_echo)
        self.check("transport: UDP echo over ESP both ways", any(is_echo(p) for p in got))
        # The first ping again: a replay.
        self.check("transport: a replayed ESP ping is not answered", not self.exchange(first))
        # A flipped ICV byte.
        ping = IP(src=PEER, dst=BURST) / ICMP(id=0x4242, seq=9) / Raw(b"forged")
        forged = bytearray(raw(self.to_burst.encrypt(ping)))
        forged[-1] ^= 0x01
        self.check("transport: a forged ESP ping is not answered",
                   not self.exchange(IP(bytes(forged))))
        # An SPI burst does not know.
        other = sa(0x1999, K_IN)
        self.check("transport: an unknown SPI is not answered",
                   not self.exchange(other.encrypt(ping)))
        # A valid ESP datagram whose next header is wrong for the mode: scapy's transport mode
        # takes the next header from the IP protocol, here 4 (an IPv4 datagram inside), which
        # only a tunnel SA carries (burst: esp.in_bad_next_header).
        inner = IP(src=PEER, dst=BURST) / ICMP(id=0x4242, seq=11) / Raw(b"wrong next header")
        ipip = IP(src=PEER, dst=BURST, proto=4) / inner
        self.check("transport: ESP with next header 4 (IPv4) is not answered",
                   not self.exchange(self.to_burst.encrypt(ipip)))
        # Plain traffic the inbound policy wants protected: no answer at all.
        s = AsyncSniffer(iface=IFACE, lfilter=lambda p: IP in p and p[IP].src == BURST)
        s.start()
        time.sleep(0.2)
        send(IP(src=PEER, dst=BURST) / ICMP(id=0x4242, seq=10), iface=IFACE)
        send(IP(src=PEER, dst=BURST) / UDP(sport=40007, dport=7) / Raw(b"plain"), iface=IFACE)
        time.sleep(2)
        got = s.stop() or []
        self.check("transport: plain ping and UDP to the protected address are dropped",
                   not [p for p in got if ICMP in p or UDP in p or ESP in p or AH in p])
        return 1 if self.fails else 0

    def algorithms(self):
        for name, addr, spi_in, spi_out, crypt, auth, esn in ALGORITHMS:
            sas = []
            for spi in (spi_in, spi_out):
                key, akey = alg_keys(spi, crypt)
                sas.append(make_sa(spi, crypt, key, auth, akey, esn))
            to_burst, from_burst = sas

            def opened(p, want):
                try:
                    return want(open_sa(from_burst, p[IP].copy()))  # decrypt changes p
                except Exception as err:
                    if os.environ.get("IPSEC_PEER_DEBUG"):
                        print(f"{name}: cannot open {p!r}: {err!r}", flush=True)
                    return False

            def is_pong(r):
                return ICMP in r and r[ICMP].type == 0 and r[ICMP].seq == 1

            def is_echo(r):
                return UDP in r and r[UDP].sport == 7 and raw(r[UDP].payload) == b"udp " + \
                    name.encode()

            ping = IP(src=PEER, dst=addr) / ICMP(id=0x4243, seq=1) / Raw(b"alg ping" * 8)
            got = self.exchange(to_burst.encrypt(ping), spi_out, 5.0, addr,
                                lambda p: opened(p, is_pong))
            proto = "AH" if crypt == "AH" else "ESP"
            self.check(f"{name}: {proto} ping to {addr} answered over {proto} (SPI {spi_out:#x})",
                       any(opened(p, is_pong) for p in got))
            u = IP(src=PEER, dst=addr) / UDP(sport=40008, dport=7) / Raw(b"udp " + name.encode())
            got = self.exchange(to_burst.encrypt(u), spi_out, 5.0, addr,
                                lambda p: opened(p, is_echo))
            self.check(f"{name}: UDP echo over {proto} both ways",
                       any(opened(p, is_echo) for p in got))
        return 1 if self.fails else 0


def tunnel_in():
    """Pings from each tunnel's far host to A through burst, answered through the tunnel."""
    fails = 0
    for n, (name, far, spi_in, spi_out, crypt, klen, auth, esn) in enumerate(TUNNELS):
        to_burst, from_burst = tunnel_sas(spi_in, spi_out, crypt, klen, auth, esn)
        seq = 0x4300 + n

        def is_pong(p):
            try:
                r = open_sa(from_burst, p[IP].copy())  # decrypt changes p
            except Exception:
                return False
            return (ICMP in r and r[IP].src == HOST_A and r[IP].dst == far and
                    r[ICMP].type == 0 and r[ICMP].seq == seq)

        ping = IP(src=far, dst=HOST_A) / ICMP(id=0x4244, seq=seq) / Raw(b"tunnel in" * 6)
        t = Transport()
        got = t.exchange(to_burst.encrypt(ping, seq_num=100000 + n), spi_out, 5.0, BURST,
                         is_pong)
        ok = any(is_pong(p) for p in got)
        proto = "AH" if crypt == "AH" else "ESP"
        print(("PASS " if ok else "FAIL ") +
              f"{name}: {proto} ping from {far} to A answered over {proto} (SPI {spi_out:#x})",
              flush=True)
        fails += 0 if ok else 1
    return 1 if fails else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["gateway"]:
        gateway()
    elif sys.argv[1:] == ["transport"]:
        sys.exit(Transport().run())
    elif sys.argv[1:] == ["tunnel-in"]:
        sys.exit(tunnel_in())
    elif sys.argv[1:] == ["algorithms"]:
        sys.exit(Transport().algorithms())
    else:
        print(__doc__)
        sys.exit(2)
