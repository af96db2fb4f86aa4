#!/usr/bin/python3
"""AH known answers for burst-ipsec's unit tests (crates/ipsec/src/ah/tests.rs): scapy's
SecurityAssociation(AH, auth_algo='SHA2-256-128') (Debian python3-scapy 2.5) seals a few fixed
datagrams - transport mode, transport with ESN (high half 5), tunnel mode, and a datagram with
a router alert and a record route option - and this prints them as Rust constants. scapy is
the independent oracle: burst must produce the same bytes from the same datagram, key and
sequence number. Run: /usr/bin/python3 scripts/ipsec_ah_kat.py
"""
from scapy.all import IP, ICMP, UDP, Raw, raw
from scapy.layers.ipsec import AH, SecurityAssociation
key = bytes(range(0x40, 0x60))
plain_icmp = IP(src="198.18.2.1", dst="198.18.2.254", id=0x1234, ttl=61, tos=0xb8, flags="DF") / ICMP(id=7, seq=1) / Raw(b"burst ah known answer")
plain_udp = IP(src="198.18.1.1", dst="198.19.0.5", id=0x77, ttl=64) / UDP(sport=5000, dport=7) / Raw(b"tunnel")
def show(name, p): print(f'const {name}: &str = "{raw(p).hex()}";')
show("PLAIN_ICMP", plain_icmp)
sa = SecurityAssociation(AH, spi=0x3001, auth_algo="SHA2-256-128", auth_key=key)
show("AH_TRANSPORT_SEQ1", sa.encrypt(IP(raw(plain_icmp)), seq_num=1))
sa = SecurityAssociation(AH, spi=0x3001, auth_algo="SHA2-256-128", auth_key=key, esn_en=True, esn=5)
show("AH_TRANSPORT_ESN_5_9", sa.encrypt(IP(raw(plain_icmp)), seq_num=9))
show("PLAIN_UDP", plain_udp)
sa = SecurityAssociation(AH, spi=0x3002, auth_algo="SHA2-256-128", auth_key=key, tunnel_header=IP(src="198.18.2.254", dst="198.18.2.1", id=3, ttl=64))
show("AH_TUNNEL_SEQ3", sa.encrypt(IP(raw(plain_udp)), seq_num=3))
from scapy.layers.inet import IPOption_RR, IPOption_Router_Alert
plain_opts = IP(src="198.18.2.1", dst="198.18.2.254", id=0x99, ttl=9, options=[IPOption_Router_Alert(), IPOption_RR(routers=["198.18.2.1"])]) / UDP(sport=40000, dport=7) / Raw(b"options")
show("PLAIN_OPTIONS", plain_opts)
sa = SecurityAssociation(AH, spi=0x3001, auth_algo="SHA2-256-128", auth_key=key)
show("AH_OPTIONS_SEQ2", sa.encrypt(IP(raw(plain_opts)), seq_num=2))
