//! ICMP for a host (RFC 792, RFC 1122 §3.2.2): echo replies, error messages and when not to
//! send them, rate limiting, and the counters `netstat -s` shows.

use core::net::Ipv4Addr;

use burst_port::Nanos;
use burst_wire::icmpv4::{self, DstUnreachable, TimeExceeded};
use burst_wire::ipv4::{self, Ipv4AddrExt, Protocol};
use burst_wire::ChecksumMode;

/// ICMP tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpConfig {
    /// Echo replies per second (token bucket rate).
    pub echo_rate: u32,
    /// Echo reply burst.
    pub echo_burst: u32,
    /// Error messages per second (RFC 1812 §4.3.2.8 asks routers to limit them).
    pub error_rate: u32,
    /// Error message burst.
    pub error_burst: u32,
}

impl Default for IcmpConfig {
    fn default() -> Self {
        IcmpConfig {
            echo_rate: 1000,
            echo_burst: 100,
            error_rate: 100,
            error_burst: 20,
        }
    }
}

/// Per-worker ICMP counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IcmpStats {
    /// Messages received.
    pub in_msgs: u64,
    /// Received with a bad checksum or malformed (dropped).
    pub in_errors: u64,
    /// Echo requests received.
    pub in_echo_requests: u64,
    /// Echo replies received.
    pub in_echo_replies: u64,
    /// Destination unreachable received.
    pub in_dest_unreachable: u64,
    /// Time exceeded received.
    pub in_time_exceeded: u64,
    /// Source quench received (ignored, RFC 6633).
    pub in_source_quench: u64,
    /// Redirects received.
    pub in_redirects: u64,
    /// Router advertisements received (RFC 1256; handed to router discovery).
    pub in_router_advertisements: u64,
    /// Router solicitations received (handed to the advertising side).
    pub in_router_solicitations: u64,
    /// Router discovery messages dropped: longer than a worker hands to the control thread
    /// (what fits a 1500-byte MTU; a full ring counts in `l2.lost_proto`).
    pub drop_rdisc: u64,
    /// Other types received.
    pub in_other: u64,
    /// Messages sent.
    pub out_msgs: u64,
    /// Echo replies sent.
    pub out_echo_replies: u64,
    /// Echo requests sent (ping, tracert).
    pub out_echo_requests: u64,
    /// Destination unreachable sent.
    pub out_dest_unreachable: u64,
    /// Time exceeded sent.
    pub out_time_exceeded: u64,
    /// Redirects sent (router mode).
    pub out_redirects: u64,
    /// Not sent: over the rate limit.
    pub rate_limited: u64,
    /// Not sent: RFC 1122 forbids an error about this datagram (an ICMP error, a broadcast or
    /// multicast, a non-first fragment, a non-unicast source).
    pub errors_suppressed: u64,
}

impl IcmpStats {
    /// Adds another worker's counters.
    pub fn add(&mut self, o: &IcmpStats) {
        for (a, b) in self.fields_mut().into_iter().zip(o.named()) {
            *a += b.1;
        }
    }

    fn fields_mut(&mut self) -> [&mut u64; 20] {
        [
            &mut self.in_msgs,
            &mut self.in_errors,
            &mut self.in_echo_requests,
            &mut self.in_echo_replies,
            &mut self.in_dest_unreachable,
            &mut self.in_time_exceeded,
            &mut self.in_source_quench,
            &mut self.in_redirects,
            &mut self.in_router_advertisements,
            &mut self.in_router_solicitations,
            &mut self.drop_rdisc,
            &mut self.in_other,
            &mut self.out_msgs,
            &mut self.out_echo_replies,
            &mut self.out_echo_requests,
            &mut self.out_dest_unreachable,
            &mut self.out_time_exceeded,
            &mut self.out_redirects,
            &mut self.rate_limited,
            &mut self.errors_suppressed,
        ]
    }

    /// Every counter with its name.
    pub fn named(&self) -> [(&'static str, u64); 20] {
        [
            ("in_msgs", self.in_msgs),
            ("in_errors", self.in_errors),
            ("in_echo_requests", self.in_echo_requests),
            ("in_echo_replies", self.in_echo_replies),
            ("in_dest_unreachable", self.in_dest_unreachable),
            ("in_time_exceeded", self.in_time_exceeded),
            ("in_source_quench", self.in_source_quench),
            ("in_redirects", self.in_redirects),
            ("in_router_advertisements", self.in_router_advertisements),
            ("in_router_solicitations", self.in_router_solicitations),
            ("drop_rdisc", self.drop_rdisc),
            ("in_other", self.in_other),
            ("out_msgs", self.out_msgs),
            ("out_echo_replies", self.out_echo_replies),
            ("out_echo_requests", self.out_echo_requests),
            ("out_dest_unreachable", self.out_dest_unreachable),
            ("out_time_exceeded", self.out_time_exceeded),
            ("out_redirects", self.out_redirects),
            ("rate_limited", self.rate_limited),
            ("errors_suppressed", self.errors_suppressed),
        ]
    }
}

/// A token bucket on explicit time.
#[derive(Debug, Clone, Copy)]
pub struct RateLimiter {
    rate: u32,
    burst: u32,
    tokens_milli: u64,
    last: Nanos,
}

impl RateLimiter {
    /// `rate` tokens per second, at most `burst` saved up; starts full.
    pub fn new(rate: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate,
            burst,
            tokens_milli: u64::from(burst) * 1000,
            last: Nanos::ZERO,
        }
    }

    /// Takes a token if one is available at `now`.
    pub fn allow(&mut self, now: Nanos) -> bool {
        let dt = now.saturating_sub(self.last).0;
        self.last = now.max(self.last);
        // tokens × 1000 gained in dt ns = rate × dt / 1e6.
        let gained = (u128::from(self.rate) * u128::from(dt) / 1_000_000) as u64;
        self.tokens_milli = (self.tokens_milli + gained).min(u64::from(self.burst) * 1000);
        if self.tokens_milli >= 1000 {
            self.tokens_milli -= 1000;
            true
        } else {
            false
        }
    }
}

/// Whether RFC 1122 §3.2.2 allows an ICMP error about `orig` (a datagram we received, whose
/// destination class the caller determined): never about an ICMP error, a datagram to a
/// broadcast or multicast address, a non-first fragment, or one whose source is not a unicast
/// host.
pub fn may_send_error(orig: &ipv4::Packet<&[u8]>, to_broadcast_or_multicast: bool) -> bool {
    if to_broadcast_or_multicast || orig.frag_offset() != 0 {
        return false;
    }
    let src = orig.src_addr();
    if src.is_unspecified() || src.is_martian_source() {
        return false;
    }
    if orig.protocol() == Protocol::ICMP {
        // An error about an ICMP error is never sent; about a query (echo...) it may be.
        let t = orig.payload().first().copied().unwrap_or(0);
        if icmpv4::Message::from(t).is_error() {
            return false;
        }
    }
    true
}

/// The errors a host sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Destination unreachable with this code (and next-hop MTU for fragmentation needed).
    Unreachable(DstUnreachable, u16),
    /// Time exceeded.
    TimeExceeded(TimeExceeded),
    /// Redirect (a router telling a host on the arrival link of a better first hop).
    Redirect(icmpv4::Redirect, Ipv4Addr),
}

/// Writes an IPv4 datagram carrying an ICMP error about `orig` (the received datagram's bytes,
/// header first) into `out`; returns its length. Quotes the header + 8 bytes (RFC 792).
pub fn build_error(
    orig: &[u8],
    kind: ErrorKind,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    out: &mut [u8],
) -> usize {
    let quoted = icmpv4::quote_original(orig);
    let msg = match kind {
        ErrorKind::Unreachable(reason, mtu) => icmpv4::Repr::dst_unreachable(reason, mtu, quoted),
        ErrorKind::TimeExceeded(reason) => icmpv4::Repr::time_exceeded(reason, quoted),
        ErrorKind::Redirect(reason, gateway) => icmpv4::Repr::Redirect {
            reason,
            gateway,
            invoking: quoted,
        },
    };
    emit(&msg, src, dst, ttl, false, out)
}

/// Writes an IPv4 datagram carrying `msg` into `out`; returns its length.
pub fn emit(
    msg: &icmpv4::Repr<'_>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    dont_frag: bool,
    out: &mut [u8],
) -> usize {
    let ip = ipv4::Repr {
        dont_frag,
        ..ipv4::Repr::new(src, dst, Protocol::ICMP, msg.buffer_len(), ttl)
    };
    let hl = ip.header_len();
    msg.emit(&mut icmpv4::Packet::new_unchecked(
        &mut out[hl..hl + msg.buffer_len()],
    ));
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut out[..ip.buffer_len()]),
        ChecksumMode::Compute,
    );
    ip.buffer_len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::ChecksumCheck;

    fn udp_datagram(src: Ipv4Addr, dst: Ipv4Addr, frag_offset: u16) -> Vec<u8> {
        let r = ipv4::Repr {
            frag_offset,
            ..ipv4::Repr::new(src, dst, Protocol::UDP, 20, 64)
        };
        let mut b = vec![7u8; r.buffer_len()];
        r.emit(
            &mut ipv4::Packet::new_unchecked(&mut b[..]),
            ChecksumMode::Compute,
        );
        b
    }

    #[test]
    fn token_bucket() {
        let mut r = RateLimiter::new(10, 2);
        let t0 = Nanos::from_secs(1);
        assert!(r.allow(t0) && r.allow(t0) && !r.allow(t0), "burst of 2");
        assert!(!r.allow(t0 + Nanos::from_millis(50)));
        assert!(
            r.allow(t0 + Nanos::from_millis(100)),
            "10/s: one per 100 ms"
        );
        assert!(!r.allow(t0 + Nanos::from_millis(150)));
        let later = t0 + Nanos::from_secs(10);
        assert!(
            r.allow(later) && r.allow(later) && !r.allow(later),
            "refills to the burst only"
        );
    }

    #[test]
    fn rfc1122_error_rules() {
        let (a, b) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
        let d = udp_datagram(a, b, 0);
        let p = ipv4::Packet::new_checked(&d[..]).unwrap();
        assert!(may_send_error(&p, false));
        assert!(!may_send_error(&p, true), "not about broadcasts");
        let f = udp_datagram(a, b, 8);
        assert!(
            !may_send_error(&ipv4::Packet::new_checked(&f[..]).unwrap(), false),
            "not about later fragments"
        );
        // An error about an error: build a port unreachable, then ask about it.
        let mut err = vec![0u8; 200];
        let n = build_error(
            &d,
            ErrorKind::Unreachable(DstUnreachable::PortUnreachable, 0),
            b,
            a,
            64,
            &mut err,
        );
        let ep = ipv4::Packet::new_checked(&err[..n]).unwrap();
        assert!(!may_send_error(&ep, false));
        // The error itself: a valid ICMP message quoting header + 8 bytes.
        let icmp = icmpv4::Packet::new_checked(ep.payload()).unwrap();
        let r = icmpv4::Repr::parse(&icmp, ChecksumCheck::Verify).unwrap();
        let inv = r.invoking_datagram().unwrap().unwrap();
        assert_eq!((inv.header.src_addr, inv.header.dst_addr), (a, b));
        assert_eq!(ep.ttl(), 64);
        assert_eq!(ep.total_len() as usize, 20 + 8 + 28);
    }
}
