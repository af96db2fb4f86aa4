#!/usr/bin/env python3
"""Input pcaps for scripts/bench-ipsec.sh (standard library and python3-cryptography).

  bench-ipsec.py plain OUT.pcap DST_MAC SIZE
      Plain Ethernet/IPv4/UDP frames from the protected subnet 198.18.0.0/24 to the far one,
      198.18.1.0/24 (16 x 16 hosts, a source port per frame: every frame its own flow), TTL 64,
      DF clear, valid IPv4 and UDP checksums, addressed to DST_MAC. SIZE is the frame size on
      the wire with the FCS (the file holds SIZE - 4 bytes): 64, 512, 1420, ... for 256 frames
      of that size, or "imix": the repository's simple IMIX (crates/gen/src/size.rs), 7:4:1 of
      64/594/1518-byte frames, 21 times a pattern of 12 (252 frames).

  bench-ipsec.py esp OUT.pcap DST_MAC SIZE SPI KEYHEX OUTER_SRC OUTER_DST
      The same datagrams in the other direction (198.18.1.x to 198.18.0.x) sealed in ESP
      tunnel mode with AES-GCM-128 (RFC 4106: KEYHEX is the 16-byte key then the 4-byte
      salt, the 8-byte IV is the sequence number, AAD SPI || sequence number, padding
      1, 2, 3, ... to 4 bytes), sequence numbers 1..N, outer IPv4 OUTER_SRC -> OUTER_DST
      with TTL 64. SIZE is the size of the plain frame the decrypted datagram makes again (what
      leaves the gateway), so both directions of one SIZE move the same plain frames.

  bench-ipsec.py mean SIZE
      Prints the mean plain frame size (with the FCS) of SIZE: SIZE itself, or 361.83 for imix.
"""
import struct
import sys

IMIX_PATTERN = [64, 594, 64, 64, 594, 64, 1518, 64, 594, 64, 64, 594]  # 7:4:1


def sizes(spec: str) -> list:
    if spec == "imix":
        return IMIX_PATTERN * 21
    n = int(spec)
    if not 64 <= n <= 1518:
        raise SystemExit("size %d is outside 64..1518" % n)
    return [n] * 256


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int) -> bytes:
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def datagram(i: int, frame: int, src_net: str, dst_net: str) -> bytes:
    """The IPv4/UDP datagram of frame i whose Ethernet frame is `frame` bytes with the FCS."""
    src = ip("%s.%d" % (src_net, 10 + i % 16))
    dst = ip("%s.%d" % (dst_net, 10 + (i // 16) % 16))
    data = bytes((i + k) & 0xFF for k in range(frame - 4 - 14 - 20 - 8))
    sport, dport = 1024 + i, 9
    ulen = 8 + len(data)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ulen)
    c = csum(pseudo + struct.pack("!HHHH", sport, dport, ulen, 0) + data) or 0xFFFF
    return ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, ulen, c) + data, i)


def ether(dst: str, src: str, payload: bytes) -> bytes:
    mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
    return mac(dst) + mac(src) + b"\x08\x00" + payload


def write_pcap(path: str, frames: list) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k, fr in enumerate(frames):
            f.write(struct.pack("<IIII", k, 0, len(fr), len(fr)))
            f.write(fr)


def main() -> None:
    cmd = sys.argv[1]
    if cmd == "mean":
        s = sizes(sys.argv[2])
        print("%.2f" % (sum(s) / len(s)))
    elif cmd == "plain":
        out, mac, spec = sys.argv[2:5]
        frames = [ether(mac, "02:00:00:00:00:10", datagram(i, n, "198.18.0", "198.18.1"))
                  for i, n in enumerate(sizes(spec))]
        write_pcap(out, frames)
    elif cmd == "esp":
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        out, mac, spec, spi, keyhex, osrc, odst = sys.argv[2:9]
        spi = int(spi, 0)
        key = bytes.fromhex(keyhex.replace("0x", "").replace(" ", "").replace(":", ""))
        aead, salt = AESGCM(key[:16]), key[16:20]
        frames = []
        for i, n in enumerate(sizes(spec)):
            seq = i + 1
            inner = datagram(i, n, "198.18.1", "198.18.0")
            padn = (-(len(inner) + 2)) % 4
            text = inner + bytes(range(1, padn + 1)) + bytes([padn, 4])
            hdr = struct.pack("!II", spi, seq)
            iv = struct.pack("!Q", seq)
            sealed = aead.encrypt(salt + iv, text, hdr)  # ciphertext || 16-byte ICV
            frames.append(ether(mac, "02:00:00:00:00:20",
                                ipv4(ip(osrc), ip(odst), 50, hdr + iv + sealed, i)))
        write_pcap(out, frames)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
