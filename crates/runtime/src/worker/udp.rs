//! UDP: input to sockets (the seeds' simple services are an application on them,
//! `crate::app::services`), and output.

use std::net::Ipv4Addr;

use burst_port::{Nanos, Queue};
use burst_stack::icmp::ErrorKind;
use burst_stack::ipv4::Destination;
use burst_stack::udp::{self as sudp};
use burst_stack::PortId;
use burst_wire::icmpv4::DstUnreachable;
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{udp, ChecksumMode};

use super::Worker;

impl<Q: Queue> Worker<Q> {
    #[allow(clippy::type_complexity)]
    pub(super) fn udp_input(
        &mut self,
        port: PortId,
        datagram: &[u8],
        class: Destination,
        l4_checksum: burst_port::ChecksumStatus,
        now: Nanos,
    ) -> Option<(sudp::SocketId, (Ipv4Addr, u16), Ipv4Addr, usize, usize)> {
        let ip = ipv4::Packet::new_unchecked(datagram);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let hl = ip.header_len();
        let Ok(u) = udp::Packet::new_checked(ip.payload()) else {
            self.udp.stats.in_errors += 1;
            return None;
        };
        let checksum_ok = match l4_checksum {
            burst_port::ChecksumStatus::Good => true,
            burst_port::ChecksumStatus::Bad => false,
            burst_port::ChecksumStatus::Unknown => u.verify_checksum(src, dst),
        };
        if !checksum_ok {
            self.udp.stats.in_errors += 1;
            self.l4_checksum_failed(port, datagram);
            return None;
        }
        let (sport, dport) = (u.src_port(), u.dst_port());
        let payload = u.payload();
        let Some(id) = self.udp.lookup(dst, dport, (src, sport)) else {
            self.udp.stats.no_ports += 1;
            self.l2.udp_no_port += 1;
            // RFC 1122 §4.1.3.1: port unreachable (send_error applies the never-send rules).
            self.send_error(
                datagram,
                class,
                ErrorKind::Unreachable(DstUnreachable::PortUnreachable, 0),
                now,
            );
            return None;
        };
        Some((id, (src, sport), dst, hl + udp::HEADER_LEN, payload.len()))
    }

    /// Sends one UDP datagram (fragmented when larger than the MTU).
    pub fn udp_send(
        &mut self,
        src: Option<Ipv4Addr>,
        sport: u16,
        dst: Ipv4Addr,
        dport: u16,
        payload: &[u8],
        now: Nanos,
    ) -> Result<(), &'static str> {
        let u = udp::Repr {
            src_port: sport,
            dst_port: dport,
            payload_len: payload.len(),
        };
        let len = ipv4::HEADER_LEN + u.buffer_len();
        let ttl = if dst.is_multicast() {
            self.cfg.ipv4.multicast_ttl
        } else {
            self.cfg.ipv4.default_ttl
        };
        let r = self.send_ip(dst, src, len, now, |out, s| {
            let ip = ipv4::Repr::new(s, dst, Protocol::UDP, u.buffer_len(), ttl);
            let hl = ip.header_len();
            out[hl + udp::HEADER_LEN..hl + u.buffer_len()].copy_from_slice(payload);
            u.emit(
                &mut udp::Packet::new_unchecked(&mut out[hl..hl + u.buffer_len()]),
                s,
                dst,
                ChecksumMode::Compute,
            );
            ip.emit(
                &mut ipv4::Packet::new_unchecked(&mut out[..ip.buffer_len()]),
                ChecksumMode::Compute,
            );
            ip.buffer_len()
        });
        if r.is_ok() {
            self.udp.stats.out_datagrams += 1;
        }
        r
    }
}
