//! Messages from the control thread: ARP to send, neighbours resolved or failed, address
//! states, multicast groups, IGMP to send, ctl pings.

use burst_port::{Nanos, PacketBuf, Queue};
use burst_stack::arp::AddrState;
use burst_stack::icmp::{self, ErrorKind};
use burst_stack::ipv4::{self as sipv4, Destination};
use burst_wire::ethernet::{self};
use burst_wire::icmpv4::{self, DstUnreachable};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::ChecksumCheck;

use super::Worker;
use crate::msg::{
    is_ctl_ident, EchoError, NeighDown, ProtoDown, SessionDown, SessionUp, ToControl, ToWorker,
};

impl<Q: Queue> Worker<Q> {
    pub(super) fn message(&mut self, m: ToWorker, now: Nanos) {
        match m {
            ToWorker::Proto(ProtoDown::SendIgmp {
                port,
                dst,
                len,
                msg,
            }) => self.send_igmp(port, dst, &msg[..usize::from(len)]),
            ToWorker::Proto(ProtoDown::SendRdisc {
                port,
                dst,
                len,
                msg,
            }) => self.send_rdisc(port, dst, &msg[..usize::from(len)], now),
            ToWorker::Proto(ProtoDown::Group {
                port,
                group,
                joined,
            }) => {
                if !joined {
                    self.groups.remove(&(port, group));
                } else if self.groups.len() < self.groups.capacity() {
                    self.groups.insert((port, group));
                } else {
                    // Sized at start for every group the configuration joins: a join beyond
                    // that would allocate on the packet path.
                    self.ipv4.group_join_rejected += 1;
                }
            }
            ToWorker::Neigh(NeighDown::SendArp { port, dst, repr }) => {
                self.send_arp(port, dst, &repr);
                self.l2.arp_sent_for_control += 1;
            }
            ToWorker::Neigh(NeighDown::Resolved { port, ip }) => {
                let Some(mac) = self.neigh.lookup(port, ip, now) else {
                    return;
                };
                // At most `pending_per_neighbor`: the scratch list holds that many (no
                // allocation).
                let mut bufs = core::mem::take(&mut self.pending_scratch);
                bufs.extend(self.pending.take(port, ip));
                for mut b in bufs.drain(..) {
                    b.data_mut()[..6].copy_from_slice(&mac.0);
                    self.queue_tx(port, b);
                }
                self.pending_scratch = bufs;
            }
            ToWorker::Neigh(NeighDown::Failed { port, ip }) => {
                // Host unreachable to local senders: today those are the stack's own echo
                // requests (ctl ping/tracert); sockets join with the UDP/TCP issues.
                let mut notes: smallvec::SmallVec<[SessionUp; 16]> = smallvec::SmallVec::new();
                // At most `pending_per_neighbor`: the scratch list holds that many.
                let mut bufs = core::mem::take(&mut self.pending_scratch);
                bufs.extend(self.pending.drop_failed(port, ip));
                let n = bufs.len() as u64;
                for b in &bufs {
                    if let Some(m) = unreachable_note(b.data(), now) {
                        if !notes.spilled() && notes.len() < notes.inline_size() {
                            notes.push(m);
                        }
                    }
                }
                self.l2.drop_resolution_failed += n;
                self.ipv4.drop_unresolved += n;
                for m in notes {
                    self.tell_control(ToControl::Session(m));
                }
                // Forwarded datagrams (a source that is not ours): RFC 1812 §5.2.7.1 host
                // unreachable back to their senders.
                for b in &bufs {
                    let Some(orig) = b.data().get(ethernet::HEADER_LEN..) else {
                        continue;
                    };
                    let Ok(p) = ipv4::Packet::new_checked(orig) else {
                        continue;
                    };
                    let src = p.src_addr();
                    if self.addrs.iter().any(|a| a.cidr.address() == src) {
                        continue;
                    }
                    self.fwd.drop_unresolved += 1;
                    self.send_error(
                        orig,
                        Destination::Other,
                        ErrorKind::Unreachable(DstUnreachable::HostUnreachable, 0),
                        now,
                    );
                }
                bufs.clear();
                self.pending_scratch = bufs;
            }
            ToWorker::Neigh(NeighDown::AddrState { port, addr, state }) => {
                for a in self
                    .addrs
                    .iter_mut()
                    .filter(|a| a.port == port && a.cidr.address() == addr)
                {
                    a.state = match state {
                        AddrState::Tentative => sipv4::AddrState::Tentative,
                        AddrState::Preferred => sipv4::AddrState::Preferred,
                        AddrState::Conflict { .. } => sipv4::AddrState::Conflict,
                    };
                }
            }
            ToWorker::Session(SessionDown::Ping {
                dst,
                ident,
                seq,
                size,
                ttl,
                dont_frag,
            }) => {
                let data_len = usize::from(size).min(65507);
                let len = ipv4::HEADER_LEN + icmpv4::HEADER_LEN + data_len;
                let mut data = core::mem::take(&mut self.data_scratch);
                for (i, x) in data[..data_len].iter_mut().enumerate() {
                    *x = (0x10 + i) as u8;
                }
                let r = {
                    let msg = icmpv4::Repr::EchoRequest {
                        ident,
                        seq_no: seq,
                        data: &data[..data_len],
                    };
                    self.send_ip(dst, None, len, now, |out, src| {
                        icmp::emit(&msg, src, dst, ttl, dont_frag, out)
                    })
                };
                self.data_scratch = data;
                match r {
                    Ok(()) => {
                        self.icmp.out_msgs += 1;
                        self.icmp.out_echo_requests += 1;
                        self.tell_control(ToControl::Session(SessionUp::EchoSent {
                            ident,
                            seq,
                            at: now,
                        }));
                    }
                    Err(reason) => self.tell_control(ToControl::Session(SessionUp::EchoFailed {
                        ident,
                        seq,
                        reason,
                    })),
                }
            }
        }
    }
}

/// If `frame` is one of the stack's own echo requests (a ctl ping), the "host unreachable"
/// report its session gets when the next hop does not resolve.
fn unreachable_note(frame: &[u8], now: Nanos) -> Option<SessionUp> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    let ip = ipv4::Packet::new_checked(eth.payload()).ok()?;
    if ip.protocol() != Protocol::ICMP {
        return None;
    }
    let icmp = icmpv4::Packet::new_checked(ip.payload()).ok()?;
    match icmpv4::Repr::parse(&icmp, ChecksumCheck::Trust).ok()? {
        icmpv4::Repr::EchoRequest { ident, seq_no, .. } if is_ctl_ident(ident) => {
            Some(SessionUp::EchoError {
                ident,
                seq: seq_no,
                from: ip.src_addr(),
                error: EchoError::Unreachable(1, 0),
                at: now,
            })
        }
        _ => None,
    }
}
