//! Link-layer input: Ethernet checks (our MAC, EtherType), ARP answered on the spot and handed
//! to the control thread, IPv4 passed on; and ARP output.

use burst_port::{Nanos, PacketBuf, Queue};
use burst_stack::arp::{self as sarp};
use burst_stack::ipv4::{self as sipv4};
use burst_stack::PortId;
use burst_wire::arp;
use burst_wire::ethernet::{self, EtherType, MacAddr};

use super::Worker;
use crate::msg::{NeighUp, ToControl};
use crate::trace::{Step, TraceRecord};

impl<Q: Queue> Worker<Q> {
    /// [`input`](Self::input) with the packet's path recorded while the trace budget lasts.
    pub(super) fn input_traced(&mut self, port: PortId, buf: Q::Buf, now: Nanos) {
        if !self.cfg.trace.claim() {
            self.input(port, buf, now);
            return;
        }
        let mut t = TraceRecord::new(self.id as u16);
        t.push(Step::Rx {
            port,
            len: buf.pkt_len().min(usize::from(u16::MAX)) as u16,
        });
        self.cur_trace = Some(t);
        self.input(port, buf, now);
        self.push_trace();
    }

    /// Hands the finished trace record of the packet just handled to the control thread.
    pub(super) fn push_trace(&mut self) {
        if let Some(t) = self.cur_trace.take() {
            if self.rings.traces.push(t).is_err() {
                self.l2.lost_trace += 1;
            }
        }
    }

    pub(super) fn input(&mut self, port: PortId, buf: Q::Buf, now: Nanos) {
        self.l2.rx_frames += 1;
        self.count_port_rx(port);
        if buf.nb_segs() != 1 {
            // Jumbo frames scattered over several buffers are not expected at our MTUs.
            self.l2.drop_chained += 1;
            self.step(Step::Drop("drop_chained"));
            return;
        }
        let data = buf.data();
        let Ok(frame) = ethernet::Frame::new_checked(data) else {
            self.l2.drop_malformed += 1;
            self.step(Step::Drop("drop_malformed"));
            return;
        };
        let pctx = &self.ports[usize::from(port.0)];
        let dst = frame.dst_addr();
        if dst != pctx.mac && !dst.is_multicast() {
            self.l2.drop_not_our_mac += 1;
            self.step(Step::Drop("drop_not_our_mac"));
            return;
        }
        let hl = frame.header_len();
        match frame.ethertype() {
            EtherType::ARP => {
                self.step(Step::Arp);
                self.arp_input(port, &buf, hl, now)
            }
            EtherType::IPV4 => self.ipv4_input(port, buf, hl, now),
            _ => {
                self.l2.drop_ethertype += 1;
                self.step(Step::Drop("drop_ethertype"));
            }
        }
    }

    pub(super) fn arp_input(&mut self, port: PortId, buf: &Q::Buf, hl: usize, now: Nanos) {
        self.l2.arp_rx += 1;
        let repr =
            match arp::Packet::new_checked(&buf.data()[hl..]).and_then(|p| arp::Repr::parse(&p)) {
                Ok(r) => r,
                Err(_) => {
                    self.l2.arp_drop_malformed += 1;
                    return;
                }
            };
        let mac = self.ports[usize::from(port.0)].mac;
        // The one address asked about, if it is a preferred address of this port.
        let target = repr.target_protocol_addr;
        let ours = self
            .addrs
            .iter()
            .find(|a| {
                a.port == port
                    && a.state == sipv4::AddrState::Preferred
                    && a.cidr.address() == target
            })
            .map(|a| (a.cidr.address(), mac))
            // NAT's public addresses that are not ours are answered on the outside ports.
            .or_else(|| self.fw_public_on(port, target).then_some((target, mac)));
        if let Some(reply) = ours.and_then(|o| sarp::answer_request(&[o], &repr)) {
            self.send_arp(port, reply.target_hardware_addr, &reply);
            self.l2.arp_replies += 1;
        }
        let _ = now;
        self.tell_control(ToControl::Neigh(NeighUp::Arp { port, repr }));
    }

    pub(super) fn send_arp(&mut self, port: PortId, dst: MacAddr, repr: &arp::Repr) {
        let p = usize::from(port.0);
        let Some(mut b) = self.queues[p].alloc() else {
            self.ipv4.drop_no_buffer += 1;
            return;
        };
        let len = ethernet::HEADER_LEN + repr.buffer_len();
        let Some(f) = b.append(len) else {
            self.ipv4.drop_no_buffer += 1;
            return;
        };
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: dst,
            vlan: None,
            ethertype: EtherType::ARP,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut *f));
        repr.emit(&mut arp::Packet::new_unchecked(
            &mut f[ethernet::HEADER_LEN..],
        ));
        self.queue_tx(port, b);
    }
}
