//! Flow steering between workers, for ports whose receive hash burst cannot predict (af_packet
//! and af_xdp fan out by a kernel hash with a per-boot key; tap has one queue).
//!
//! Active opens then take ephemeral ports the worker owns: port `p` belongs to worker
//! `p % workers` (TCP through the stack's port filter, UDP through [`Cx::udp_bind`]'s choice). A
//! datagram for us that no socket, connection or listener of the receiving worker claims, to an
//! ephemeral port another worker owns, is handed to that worker through its bounded
//! multi-producer queue (the buffer moves, nothing is copied); the owner runs it through the
//! local path as if it had received it. A full queue drops the datagram and counts it
//! (`ipv4.drop_handoff_full`): TCP retransmits, and the count says to raise `[app]
//! handoff_queue`.
//!
//! Only whole datagrams move: a fragment's ports are unknown until reassembly, and a
//! reassembled datagram for another worker's socket is dropped and counted
//! (`ipv4.drop_handoff_fragmented`).
//!
//! [`Cx::udp_bind`]: crate::app::Cx::udp_bind

use std::sync::Arc;

use burst_port::{Nanos, Queue};
use burst_stack::ipv4::Destination;
use burst_stack::PortId;
use burst_wire::ipv4::{self, Protocol};
use crossbeam_queue::ArrayQueue;

use super::Worker;
use crate::trace::{Step, TraceRecord};

/// A datagram on its way to its owner: arrival port, Ethernet header length, the buffer.
pub type Handed<B> = (PortId, u8, B);

/// The steering queues of a node: one per worker, shared by all.
pub struct Handoff<B> {
    queues: Arc<[ArrayQueue<Handed<B>>]>,
    /// This worker.
    id: usize,
    /// The ephemeral port range (the only ports steered).
    ephemeral: (u16, u16),
}

impl<B> Handoff<B> {
    /// One queue of `capacity` datagrams per worker, for `workers` workers; then
    /// [`for_worker`](Self::for_worker) gives each worker its view.
    pub fn queues(workers: usize, capacity: usize) -> Arc<[ArrayQueue<Handed<B>>]> {
        (0..workers)
            .map(|_| ArrayQueue::new(capacity.max(1)))
            .collect()
    }

    /// Worker `id`'s view of the node's queues.
    pub fn for_worker(
        queues: Arc<[ArrayQueue<Handed<B>>]>,
        id: usize,
        ephemeral: (u16, u16),
    ) -> Handoff<B> {
        Handoff {
            queues,
            id,
            ephemeral,
        }
    }

    /// The worker that owns local port `port`, if it is an ephemeral port.
    pub fn owner(&self, port: u16) -> Option<usize> {
        let (lo, hi) = self.ephemeral;
        (lo..=hi)
            .contains(&port)
            .then(|| usize::from(port) % self.queues.len())
    }

    /// Whether worker `id` owns `port` (any non-ephemeral port is everybody's).
    pub fn owns(&self, port: u16) -> bool {
        self.owner(port).is_none_or(|w| w == self.id)
    }
}

/// Marks a datagram handed over for NAT or the firewall (in the Ethernet header length byte,
/// which is at most 22).
const STEERED: usize = 0x80;

/// Marks a datagram `ctl trace` is following: its owner traces it on (same byte).
const TRACED: usize = 0x40;

/// Marks a hairpinned datagram whose destination mapping its owner found: the receiver (the
/// owner of its source's mapping) translates it without looking again (same byte).
const HAIRPIN: usize = 0x20;

/// Datagrams taken from the queue per poll: enough to keep up, bounded so a flood from the
/// other workers cannot starve this worker's own queues.
const PER_POLL: usize = 64;

impl<Q: Queue> Worker<Q> {
    /// Joins the node's steering queues (every worker of a node with more than one).
    pub fn set_handoff(&mut self, h: Handoff<Q::Buf>) {
        self.handoff = Some(h);
    }

    /// The node's workers (1 without steering) and which one this is, for the ephemeral ports
    /// an application's UDP sockets take.
    pub fn steering(&self) -> (usize, usize) {
        self.handoff
            .as_ref()
            .map_or((1, 0), |h| (h.queues.len(), h.id))
    }

    /// Where a whole datagram for us (`class` Local) goes if not here: the owning worker of its
    /// destination port, when nothing on this worker claims it.
    pub(super) fn steer(&self, datagram: &[u8]) -> Option<usize> {
        let h = self.handoff.as_ref()?;
        let p = ipv4::Packet::new_unchecked(datagram);
        let l4 = datagram.get(p.header_len()..)?;
        if l4.len() < 4 {
            return None;
        }
        let sport = u16::from_be_bytes([l4[0], l4[1]]);
        let dport = u16::from_be_bytes([l4[2], l4[3]]);
        let owner = h.owner(dport).filter(|&w| w != h.id)?;
        let (src, dst) = (p.src_addr(), p.dst_addr());
        let claimed = match p.protocol() {
            Protocol::TCP => self.tcp.claims(
                std::net::SocketAddrV4::new(dst, dport),
                std::net::SocketAddrV4::new(src, sport),
            ),
            Protocol::UDP => self.udp.lookup(dst, dport, (src, sport)).is_some(),
            _ => return None,
        };
        (!claimed).then_some(owner)
    }

    /// Moves a datagram to worker `owner`'s queue.
    pub(super) fn hand_off(&mut self, owner: usize, port: PortId, hl: usize, buf: Q::Buf) {
        let Some(h) = self.handoff.as_ref() else {
            return;
        };
        let hl = if self.cur_trace.is_some() {
            hl | TRACED
        } else {
            hl
        };
        match h.queues[owner].push((port, hl as u8, buf)) {
            Ok(()) => {
                self.ipv4.handed_off += 1;
                self.step(Step::HandedOff {
                    core: owner as u16,
                    steered: hl & STEERED != 0,
                });
            }
            Err(back) => {
                drop(back);
                self.ipv4.drop_handoff_full += 1;
                self.step(Step::Drop("drop_handoff_full"));
            }
        }
    }

    /// Moves a datagram to worker `owner` for NAT or the firewall: the owner runs it through
    /// IPv4 input again (the whole datagram, any path), without steering it again.
    pub(super) fn hand_off_steered(&mut self, owner: usize, port: PortId, hl: usize, buf: Q::Buf) {
        self.hand_off(owner, port, hl | STEERED, buf);
    }

    /// Moves a hairpinned datagram to worker `owner`, which owns its source's mapping (the
    /// destination's was found here).
    pub(super) fn hand_off_hairpin(&mut self, owner: usize, port: PortId, hl: usize, buf: Q::Buf) {
        self.hand_off(owner, port, hl | STEERED | HAIRPIN, buf);
    }

    /// Runs the datagrams other workers handed to this one through the local path.
    pub(super) fn take_handed(&mut self, now: Nanos) -> usize {
        let Some(h) = self.handoff.as_ref() else {
            return 0;
        };
        let queues = h.queues.clone();
        let mine = &queues[h.id];
        let mut n = 0;
        while n < PER_POLL {
            let Some((port, hl, buf)) = mine.pop() else {
                break;
            };
            n += 1;
            self.ipv4.handed_in += 1;
            let hl = usize::from(hl);
            // A traced datagram's trace goes on here, without taking from the budget: the
            // control thread joins this record to the one that handed it off.
            let traced = hl & TRACED != 0;
            if traced {
                let mut t = TraceRecord::new(self.id as u16);
                t.push(Step::HandedIn { port });
                self.cur_trace = Some(t);
            }
            if hl & HAIRPIN != 0 {
                if let Some(fw) = self.fw.as_mut() {
                    fw.hairpin_checked = true;
                }
            }
            let hl = hl & !(TRACED | HAIRPIN);
            if hl & STEERED != 0 {
                self.ipv4_input_from(port, buf, hl & !STEERED, now, true);
                if let Some(fw) = self.fw.as_mut() {
                    fw.hairpin_checked = false;
                }
            } else {
                self.for_us(port, buf, hl, Destination::Local, false, now);
            }
            if traced {
                self.push_trace();
            }
        }
        n
    }

    /// Counts a reassembled datagram whose destination port another worker owns: it cannot
    /// move (only whole single-buffer datagrams do).
    pub(super) fn steered_fragment(&mut self, datagram: &[u8]) -> bool {
        if self.steer(datagram).is_none() {
            return false;
        }
        self.ipv4.drop_handoff_fragmented += 1;
        self.step(Step::Drop("drop_handoff_fragmented"));
        true
    }
}
