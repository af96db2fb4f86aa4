//! Initial sequence numbers (RFC 6528) and the keyed hash they and SYN cookies use.
//!
//! RFC 6528 §3: `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`, with `M` a
//! timer ticking every 4 µs and `F` a keyed pseudo-random function. `F` here is SipHash-2-4
//! (written out below: `core::hash::SipHasher` is deprecated and not keyed per instance in a
//! stable way), keyed with 128 secret bits given at construction.

use core::net::SocketAddrV4;

use burst_port::Nanos;
use burst_wire::tcp::SeqNumber;

/// SipHash-2-4 of `data` under `key` (Aumasson & Bernstein; the reference test vector is in
/// the tests).
pub fn siphash24(key: [u64; 2], data: &[u8]) -> u64 {
    let mut v0 = 0x736f_6d65_7073_6575 ^ key[0];
    let mut v1 = 0x646f_7261_6e64_6f6d ^ key[1];
    let mut v2 = 0x6c79_6765_6e65_7261 ^ key[0];
    let mut v3 = 0x7465_6462_7974_6573 ^ key[1];
    #[inline(always)]
    fn round(v0: &mut u64, v1: &mut u64, v2: &mut u64, v3: &mut u64) {
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13);
        *v1 ^= *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16);
        *v3 ^= *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21);
        *v3 ^= *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17);
        *v1 ^= *v2;
        *v2 = v2.rotate_left(32);
    }
    let chunks = data.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let m = u64::from_le_bytes(w);
        v3 ^= m;
        round(&mut v0, &mut v1, &mut v2, &mut v3);
        round(&mut v0, &mut v1, &mut v2, &mut v3);
        v0 ^= m;
    }
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    last[7] = data.len() as u8;
    let m = u64::from_le_bytes(last);
    v3 ^= m;
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    v0 ^= m;
    v2 ^= 0xff;
    for _ in 0..4 {
        round(&mut v0, &mut v1, &mut v2, &mut v3);
    }
    v0 ^ v1 ^ v2 ^ v3
}

/// The 12 bytes of a connection's 4-tuple plus a 4-byte tweak, as hashed by [`siphash24`].
pub(crate) fn tuple_bytes(local: SocketAddrV4, remote: SocketAddrV4, tweak: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&local.ip().octets());
    b[4..6].copy_from_slice(&local.port().to_be_bytes());
    b[6..10].copy_from_slice(&remote.ip().octets());
    b[10..12].copy_from_slice(&remote.port().to_be_bytes());
    b[12..].copy_from_slice(&tweak.to_be_bytes());
    b
}

/// Tweaks that separate the uses of one key.
const TWEAK_ISN: u32 = 0;
const TWEAK_TS: u32 = 1;

/// RFC 6528 ISN generator (one per stack or per worker, with a secret key).
#[derive(Clone)]
pub struct IsnGenerator {
    key: [u64; 2],
}

impl core::fmt::Debug for IsnGenerator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the key.
        f.write_str("IsnGenerator { .. }")
    }
}

impl IsnGenerator {
    /// A generator with a 128-bit secret key (draw it from the OS at start-up).
    pub fn new(key: [u8; 16]) -> IsnGenerator {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&key[..8]);
        b.copy_from_slice(&key[8..]);
        IsnGenerator {
            key: [u64::from_le_bytes(a), u64::from_le_bytes(b)],
        }
    }

    /// The ISN for a connection from `local` to `remote` at time `now`: the keyed hash of the
    /// 4-tuple plus a 4 µs clock (RFC 6528 §3), so a reused 4-tuple gets ever larger ISNs.
    pub fn isn(&self, now: Nanos, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNumber {
        let f = siphash24(self.key, &tuple_bytes(local, remote, TWEAK_ISN)) as u32;
        let m = (now.0 / 4_000) as u32;
        SeqNumber(f.wrapping_add(m))
    }

    /// A per-connection offset for the timestamp clock (RFC 7323 §7.1 recommends randomising
    /// it so timestamps do not reveal uptime or link connections).
    pub fn ts_offset(&self, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        siphash24(self.key, &tuple_bytes(local, remote, TWEAK_TS)) as u32
    }

    /// The key halves (for the cookie module, which shares the secret).
    pub(crate) fn key(&self) -> [u64; 2] {
        self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn siphash_reference_vector() {
        // SipHash paper, Appendix A: key 00..0f, message 00..0e.
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let g = IsnGenerator::new(key);
        let msg: [u8; 15] = core::array::from_fn(|i| i as u8);
        assert_eq!(siphash24(g.key(), &msg), 0xa129_ca61_49be_45e5);
        assert_eq!(siphash24(g.key(), &[]), 0x726f_db47_dd0e_0e31);
    }

    #[test]
    fn isn_depends_on_tuple_key_and_clock() {
        let a = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 40000);
        let b = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 80);
        let g = IsnGenerator::new([7; 16]);
        let i0 = g.isn(Nanos::ZERO, a, b);
        assert_eq!(g.isn(Nanos::from_micros(400), a, b), i0 + 100);
        assert_ne!(g.isn(Nanos::ZERO, b, a), i0);
        assert_ne!(IsnGenerator::new([8; 16]).isn(Nanos::ZERO, a, b), i0);
        assert_ne!(g.ts_offset(a, b), i0.0);
        assert_eq!(format!("{g:?}"), "IsnGenerator { .. }");
    }
}
