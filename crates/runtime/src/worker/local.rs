//! Delivery of a datagram for us to its protocol: ICMP, UDP, IGMP (to the control thread), TCP,
//! or protocol unreachable.

use std::net::Ipv4Addr;

use burst_port::{Nanos, Queue};
use burst_stack::icmp::ErrorKind;
use burst_stack::ipv4::Destination;
use burst_stack::udp::{self as sudp};
use burst_stack::PortId;
use burst_wire::icmpv4::DstUnreachable;
use burst_wire::ipv4::{self, Protocol};

use super::Worker;
use crate::msg::{ProtoUp, ToControl};
use crate::trace::Step;

impl<Q: Queue> Worker<Q> {
    /// Delivery of a whole (possibly reassembled) datagram to its protocol, at the end of the
    /// destination path. Returns where a UDP datagram for a user socket goes (socket, sender,
    /// destination, payload offset and length within the datagram); the caller moves the
    /// buffer there.
    #[allow(clippy::type_complexity)]
    pub(super) fn deliver(
        &mut self,
        port: PortId,
        datagram: &[u8],
        class: Destination,
        l4_checksum: burst_port::ChecksumStatus,
        now: Nanos,
    ) -> Option<(sudp::SocketId, (Ipv4Addr, u16), Ipv4Addr, usize, usize)> {
        let p = ipv4::Packet::new_unchecked(datagram);
        match p.protocol() {
            Protocol::ICMP => {
                self.ipv4.delivered += 1;
                self.step(Step::Local("icmp"));
                self.icmp_input(port, datagram, class, now);
                None
            }
            Protocol::UDP => {
                self.ipv4.delivered += 1;
                self.step(Step::Local("udp"));
                self.udp_input(port, datagram, class, l4_checksum, now)
            }
            Protocol::IGMP => {
                self.ipv4.delivered += 1;
                self.step(Step::Local("igmp"));
                let msg = p.payload();
                if msg.len() > crate::msg::IGMP_MAX {
                    // Cut, it would fail its checksum at the control thread: say why here.
                    self.ipv4.drop_igmp_too_long += 1;
                    self.step(Step::Drop("drop_igmp_too_long"));
                    return None;
                }
                let n = msg.len();
                let mut m = [0u8; crate::msg::IGMP_MAX];
                m[..n].copy_from_slice(&msg[..n]);
                self.tell_control(ToControl::Proto(ProtoUp::Igmp {
                    port,
                    src: p.src_addr(),
                    dst: p.dst_addr(),
                    len: n as u16,
                    msg: m,
                }));
                None
            }
            Protocol::TCP => {
                self.ipv4.delivered += 1;
                self.step(Step::Local("tcp"));
                self.tcp_input(port, datagram, class, l4_checksum, now);
                None
            }
            _ => {
                self.ipv4.drop_unknown_protocol += 1;
                self.send_error(
                    datagram,
                    class,
                    ErrorKind::Unreachable(DstUnreachable::ProtoUnreachable, 0),
                    now,
                );
                None
            }
        }
    }
}
