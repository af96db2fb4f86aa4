//! ICMP: input (echo, errors for TCP and for ctl pings, redirects and fragmentation-needed to
//! the control thread) and error output under RFC 1122/1812's never-send rules and the rate
//! limit.

use std::net::Ipv4Addr;

use burst_port::{Nanos, Queue};
use burst_stack::icmp::{self, ErrorKind};
use burst_stack::ipv4::Destination;
use burst_stack::PortId;
use burst_wire::icmpv4::{self, DstUnreachable};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::ChecksumCheck;

use super::Worker;
use crate::msg::{is_ctl_ident, EchoError, ProtoUp, SessionUp, ToControl};

impl<Q: Queue> Worker<Q> {
    pub(super) fn icmp_input(
        &mut self,
        port: PortId,
        datagram: &[u8],
        class: Destination,
        now: Nanos,
    ) {
        self.icmp.in_msgs += 1;
        let ip = ipv4::Packet::new_unchecked(datagram);
        let payload = ip.payload();
        let Ok(pkt) = icmpv4::Packet::new_checked(payload) else {
            self.icmp.in_errors += 1;
            return;
        };
        let Ok(repr) = icmpv4::Repr::parse(&pkt, ChecksumCheck::Verify) else {
            self.icmp.in_errors += 1;
            return;
        };
        match repr {
            icmpv4::Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                self.icmp.in_echo_requests += 1;
                // RFC 1122 §3.2.2.6: a request to a broadcast address may be ignored; we do.
                if class != Destination::Local {
                    return;
                }
                if !self.echo_limit.allow(now) {
                    self.icmp.rate_limited += 1;
                    return;
                }
                let reply = icmpv4::Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let (src, dst) = (ip.dst_addr(), ip.src_addr());
                let ttl = self.cfg.ipv4.default_ttl;
                let len = ipv4::HEADER_LEN + reply.buffer_len();
                if self
                    .send_ip(dst, Some(src), len, now, |out, s| {
                        icmp::emit(&reply, s, dst, ttl, false, out)
                    })
                    .is_ok()
                {
                    self.icmp.out_msgs += 1;
                    self.icmp.out_echo_replies += 1;
                }
            }
            icmpv4::Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                self.icmp.in_echo_replies += 1;
                if is_ctl_ident(ident) {
                    self.tell_control(ToControl::Session(SessionUp::EchoReply {
                        ident,
                        seq: seq_no,
                        from: ip.src_addr(),
                        ttl: ip.ttl(),
                        bytes: data.len() as u16,
                        at: now,
                    }));
                }
            }
            icmpv4::Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                ..
            } => {
                self.icmp.in_dest_unreachable += 1;
                if reason == DstUnreachable::FragRequired {
                    self.icmp_note(port, ip.src_addr(), payload);
                }
                if let Some(q) = payload.get(icmpv4::HEADER_LEN..) {
                    self.tcp_icmp(q, Self::tcp_icmp_kind(reason, next_hop_mtu), now);
                }
                self.quoted_echo_error(
                    &repr,
                    ip.src_addr(),
                    EchoError::Unreachable(reason.into(), next_hop_mtu),
                    now,
                );
            }
            icmpv4::Repr::TimeExceeded { .. } => {
                self.icmp.in_time_exceeded += 1;
                if let Some(q) = payload.get(icmpv4::HEADER_LEN..) {
                    // Soft, as Linux treats it (EHOSTUNREACH, reported only on timeout).
                    let kind =
                        burst_tcp::IcmpKind::Unreachable(burst_tcp::IcmpError::HostUnreachable);
                    self.tcp_icmp(q, kind, now);
                }
                self.quoted_echo_error(&repr, ip.src_addr(), EchoError::TimeExceeded, now);
            }
            icmpv4::Repr::SourceQuench { .. } => self.icmp.in_source_quench += 1,
            icmpv4::Repr::Redirect { .. } => {
                self.icmp.in_redirects += 1;
                self.icmp_note(port, ip.src_addr(), payload);
            }
            icmpv4::Repr::RouterAdvertisement { .. } => {
                self.icmp.in_router_advertisements += 1;
                self.rdisc_note(port, ip.src_addr(), payload);
            }
            icmpv4::Repr::RouterSolicitation => {
                self.icmp.in_router_solicitations += 1;
                self.rdisc_note(port, ip.src_addr(), payload);
            }
            _ => self.icmp.in_other += 1,
        }
    }

    /// Hands a router advertisement or solicitation, whole, to the control thread (router
    /// discovery runs there: host side and advertising side).
    fn rdisc_note(&mut self, port: PortId, from: Ipv4Addr, icmp: &[u8]) {
        if icmp.len() > crate::msg::RDISC_MAX {
            self.icmp.drop_rdisc += 1;
            return;
        }
        let mut msg = [0u8; crate::msg::RDISC_MAX];
        msg[..icmp.len()].copy_from_slice(icmp);
        self.tell_control(ToControl::Proto(ProtoUp::Rdisc {
            port,
            from,
            len: icmp.len() as u16,
            msg,
        }));
    }

    /// Forwards an ICMP redirect or fragmentation-needed to the control thread (the quote is
    /// cut to what the redirect policy and the PMTU cache read).
    pub(super) fn icmp_note(&mut self, port: PortId, from: Ipv4Addr, icmp: &[u8]) {
        let n = icmp.len().min(crate::msg::ICMP_NOTE_MAX);
        let mut msg = [0u8; crate::msg::ICMP_NOTE_MAX];
        msg[..n].copy_from_slice(&icmp[..n]);
        self.tell_control(ToControl::Proto(ProtoUp::IcmpNote {
            port,
            from,
            len: n as u8,
            msg,
        }));
    }

    /// Reports an ICMP error about one of our ctl echo requests to the control thread.
    pub(super) fn quoted_echo_error(
        &mut self,
        repr: &icmpv4::Repr<'_>,
        from: Ipv4Addr,
        error: EchoError,
        now: Nanos,
    ) {
        let Some(Ok(inv)) = repr.invoking_datagram() else {
            return;
        };
        if inv.header.protocol != Protocol::ICMP {
            return;
        }
        if let Some((ident, seq)) = inv.echo_ident_seq_no() {
            if is_ctl_ident(ident) {
                self.tell_control(ToControl::Session(SessionUp::EchoError {
                    ident,
                    seq,
                    from,
                    error,
                    at: now,
                }));
            }
        }
    }

    pub(super) fn send_error(
        &mut self,
        orig: &[u8],
        class: Destination,
        kind: ErrorKind,
        now: Nanos,
    ) {
        let p = ipv4::Packet::new_unchecked(orig);
        let to_group = matches!(class, Destination::Broadcast | Destination::Multicast);
        if !icmp::may_send_error(&p, to_group) {
            self.icmp.errors_suppressed += 1;
            return;
        }
        if !self.error_limit.allow(now) {
            self.icmp.rate_limited += 1;
            return;
        }
        let dst = p.src_addr();
        let src = p.dst_addr();
        let ttl = self.cfg.ipv4.default_ttl;
        let quoted = icmpv4::quote_original(orig).len();
        let len = ipv4::HEADER_LEN + icmpv4::HEADER_LEN + quoted;
        if self
            .send_ip(dst, Some(src), len, now, |out, s| {
                icmp::build_error(orig, kind, s, dst, ttl, out)
            })
            .is_ok()
        {
            self.icmp.out_msgs += 1;
            match kind {
                ErrorKind::Unreachable(..) => self.icmp.out_dest_unreachable += 1,
                ErrorKind::TimeExceeded(_) => self.icmp.out_time_exceeded += 1,
                ErrorKind::Redirect(..) => self.icmp.out_redirects += 1,
            }
        }
    }
}
