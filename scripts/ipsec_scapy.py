#!/usr/bin/python3
"""scapy's SecurityAssociation as an independent ESP peer for burst-ipsec (issue 18).

  ipsec_scapy.py gen OUT         SA cases, and for each a few datagrams with scapy's ESP
                                 encryption of them, written to OUT for the
                                 burst-ipsec example `esp_interop`
  ipsec_scapy.py check FILE      scapy decrypts every ESP datagram burst wrote to FILE (the
                                 example's output) and compares it with the plain datagram

Algorithms, modes and ESN are those both sides support: AES-GCM-128/256 and ChaCha20-Poly1305
with and without ESN, AES-CBC-128/256 and NULL with HMAC-SHA-256-128 without ESN (scapy 2.5
leaves the high sequence bits out of an ESP HMAC, RFC 4303 §2.2.1 puts them in). Keys are
fixed, so runs are repeatable; IVs are scapy's own (random) on its side.

File format, one item a line: `case NAME ALG MODE ESN SPI KEY AUTH_KEY ESN_HI`, then `plain HEX`
and `esp HEX` pairs for that case.
"""
import sys

from scapy.all import IP, ICMP, TCP, UDP, Raw, raw
from scapy.layers.ipsec import ESP, SecurityAssociation

TUNNEL_SRC, TUNNEL_DST = "198.18.200.1", "198.18.200.2"
ESN_HI = 7  # high half of the sequence numbers of the ESN cases

SCAPY_ALGS = {
    "aes-gcm-128": ("AES-GCM", None, 20, 0),
    "aes-gcm-256": ("AES-GCM", None, 36, 0),
    "chacha20-poly1305": ("CHACHA20-POLY1305", None, 36, 0),
    "aes-cbc-128-hmac-sha256": ("AES-CBC", "SHA2-256-128", 16, 32),
    "aes-cbc-256-hmac-sha256": ("AES-CBC", "SHA2-256-128", 32, 32),
    "null-hmac-sha256": ("NULL", "SHA2-256-128", 0, 32),
}

CASES = [
    ("gcm128-transport", "aes-gcm-128", "transport", 0),
    ("gcm128-tunnel-esn", "aes-gcm-128", "tunnel", 1),
    ("gcm256-transport-esn", "aes-gcm-256", "transport", 1),
    ("gcm256-tunnel", "aes-gcm-256", "tunnel", 0),
    ("chacha-transport", "chacha20-poly1305", "transport", 0),
    ("chacha-tunnel-esn", "chacha20-poly1305", "tunnel", 1),
    ("cbc128-transport", "aes-cbc-128-hmac-sha256", "transport", 0),
    ("cbc256-tunnel", "aes-cbc-256-hmac-sha256", "tunnel", 0),
    ("null-transport", "null-hmac-sha256", "transport", 0),
]


def datagrams():
    """Plain datagrams of several protocols and sizes, as bytes."""
    a, b = "198.18.0.1", "198.19.0.1"
    pkts = [
        IP(src=a, dst=b, id=1) / ICMP(id=7, seq=1) / Raw(b"ping" * 14),
        IP(src=a, dst=b, id=2) / UDP(sport=5000, dport=53),
        IP(src=a, dst=b, id=3) / UDP(sport=5000, dport=9) / Raw(b"x"),
        IP(src=a, dst=b, id=4, flags="DF") / TCP(sport=40000, dport=80, flags="S", seq=1),
        IP(src=a, dst=b, id=5) / UDP(sport=1, dport=2) / Raw(bytes(range(256)) * 5 + b"tail"),
    ]
    return [raw(p) for p in pkts]


def make_sa(alg, mode, esn, spi, key, auth_key):
    crypt, auth, _, _ = SCAPY_ALGS[alg]
    kw = dict(crypt_algo=crypt, crypt_key=key)
    if auth:
        kw.update(auth_algo=auth, auth_key=auth_key)
    if mode == "tunnel":
        kw["tunnel_header"] = IP(src=TUNNEL_SRC, dst=TUNNEL_DST)
    if esn:
        kw.update(esn_en=True, esn=ESN_HI)
    return SecurityAssociation(ESP, spi=spi, **kw)


def keys(n, alg):
    _, _, klen, alen = SCAPY_ALGS[alg]
    key = bytes((n * 16 + i) & 0xFF for i in range(klen))
    auth = bytes((0x80 + n + i) & 0xFF for i in range(alen))
    return key, auth


def gen(out):
    with open(out, "w") as f:
        for n, (name, alg, mode, esn) in enumerate(CASES):
            spi = 0x1000 + n
            key, auth = keys(n, alg)
            f.write(f"case {name} {alg} {mode} {esn} {spi:#x} {key.hex() or '-'} "
                    f"{auth.hex() or '-'} {ESN_HI if esn else 0}\n")
            sa = make_sa(alg, mode, esn, spi, key, auth)
            for seq, d in enumerate(datagrams(), start=1):
                e = sa.encrypt(IP(d), seq_num=seq)
                f.write(f"plain {d.hex()}\nesp {raw(e).hex()}\n")


def check(path):
    passed = failed = 0
    sa = plain = None
    for line in open(path):
        word, *rest = line.split()
        if word == "case":
            name, alg, mode, esn, spi, key, auth, _ = rest
            key = b"" if key == "-" else bytes.fromhex(key)
            auth = b"" if auth == "-" else bytes.fromhex(auth)
            sa = make_sa(alg, mode, int(esn), int(spi, 16), key, auth)
        elif word == "plain":
            plain = bytes.fromhex(rest[0])
        elif word == "esp":
            esp = IP(bytes.fromhex(rest[0]))
            try:
                got = raw(sa.decrypt(esp))
            except Exception as err:  # integrity failure or a malformed packet
                got = repr(err).encode()
            if got == plain:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {name}: scapy could not recover burst's datagram: {got[:80]!r}")
    print(f"scapy decrypts burst: {passed} passed, {failed} failed")
    return failed == 0 and passed > 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        sys.exit(0 if check(sys.argv[2]) else 1)
    else:
        sys.exit(__doc__)
