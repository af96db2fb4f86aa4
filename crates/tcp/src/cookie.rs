//! SYN cookies (RFC 4987 §3.6): under a SYN flood a listener answers without keeping state,
//! encoding what it must remember in its ISN, and rebuilds the connection from the final ACK.
//!
//! Layout of the 32-bit cookie (the server's ISN):
//!
//! ```text
//!  31     27 26  24 23                                  0
//! +---------+------+-------------------------------------+
//! | t mod 32| MSS  | SipHash(key, 4-tuple, t, peer ISN)   |
//! +---------+------+-------------------------------------+
//! ```
//!
//! `t` is a counter of 64-second periods; a cookie is accepted for the current and the
//! previous period (so for 64 to 128 s). The MSS is an index into [`MSS_TABLE`]; window scale,
//! SACK and timestamps are not encoded, so a connection rebuilt from a cookie runs without
//! them (what RFC 4987 lists as the cost of cookies).

use core::net::SocketAddrV4;

use burst_port::Nanos;
use burst_wire::tcp::SeqNumber;

use crate::isn::{siphash24, tuple_bytes, IsnGenerator};

/// MSS values a cookie can carry (the largest not above the peer's is chosen).
pub const MSS_TABLE: [u16; 8] = [536, 1220, 1300, 1440, 1460, 4312, 8960, 9000];

/// Length of one cookie period.
pub const PERIOD: Nanos = Nanos::from_secs(64);

const TWEAK_COOKIE: u32 = 2;

/// Encodes and checks SYN cookies with the stack's secret.
#[derive(Debug, Clone)]
pub struct SynCookies {
    key: [u64; 2],
}

impl SynCookies {
    /// Cookies keyed like `isn` (the same secret, a different tweak).
    pub fn new(isn: &IsnGenerator) -> SynCookies {
        SynCookies { key: isn.key() }
    }

    fn hash(&self, local: SocketAddrV4, remote: SocketAddrV4, t: u32, peer_isn: SeqNumber) -> u32 {
        let mut b = [0u8; 24];
        b[..16].copy_from_slice(&tuple_bytes(local, remote, TWEAK_COOKIE));
        b[16..20].copy_from_slice(&t.to_be_bytes());
        b[20..].copy_from_slice(&peer_isn.0.to_be_bytes());
        siphash24(self.key, &b) as u32 & 0x00ff_ffff
    }

    /// The cookie (our ISN) for a SYN from `remote` with sequence number `peer_isn` and MSS
    /// option `peer_mss` (536 if absent).
    pub fn encode(
        &self,
        now: Nanos,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        peer_isn: SeqNumber,
        peer_mss: u16,
    ) -> SeqNumber {
        let t = (now.0 / PERIOD.0) as u32;
        let idx = MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0) as u32;
        SeqNumber(((t & 31) << 27) | (idx << 24) | self.hash(local, remote, t, peer_isn))
    }

    /// Checks the ACK completing a cookie handshake (`ack` is its acknowledgment number, `seq`
    /// its sequence number); returns the MSS the cookie carried, or `None` if it is forged or
    /// expired.
    pub fn check(
        &self,
        now: Nanos,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seq: SeqNumber,
        ack: SeqNumber,
    ) -> Option<u16> {
        let cookie = (ack - 1usize).0;
        let peer_isn = seq - 1usize;
        let now_t = (now.0 / PERIOD.0) as u32;
        let t5 = cookie >> 27;
        // The period the cookie was made in: now or the one before, matching the low 5 bits.
        let t = [now_t, now_t.wrapping_sub(1)]
            .into_iter()
            .find(|t| t & 31 == t5)?;
        (self.hash(local, remote, t, peer_isn) == cookie & 0x00ff_ffff)
            .then(|| MSS_TABLE[((cookie >> 24) & 7) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn cookie_round_trip_expiry_and_forgery() {
        let c = SynCookies::new(&IsnGenerator::new([3; 16]));
        let l = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 80);
        let r = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 40000);
        let t0 = Nanos::from_secs(1024);
        let isn = SeqNumber(12345);
        let ck = c.encode(t0, l, r, isn, 1460);
        let (seq, ack) = (isn + 1, ck + 1);
        assert_eq!(c.check(t0, l, r, seq, ack), Some(1460));
        assert_eq!(
            c.check(t0 + Nanos::from_secs(100), l, r, seq, ack),
            Some(1460)
        );
        assert_eq!(c.check(t0 + Nanos::from_secs(200), l, r, seq, ack), None);
        assert_eq!(c.check(t0, l, r, seq, ack + 1), None);
        assert_eq!(c.check(t0, l, r, seq + 1, ack), None);
        let other = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 3), 40000);
        assert_eq!(c.check(t0, l, other, seq, ack), None);
        // MSS rounds down to the table; below the table gives 536.
        let ck = c.encode(t0, l, r, isn, 1400);
        assert_eq!(c.check(t0, l, r, seq, ck + 1), Some(1300));
        let ck = c.encode(t0, l, r, isn, 100);
        assert_eq!(c.check(t0, l, r, seq, ck + 1), Some(536));
    }
}
