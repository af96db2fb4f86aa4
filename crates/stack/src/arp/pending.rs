//! A worker's packets waiting for a neighbour to resolve: bounded per neighbour and in total,
//! allocation-free after construction (a fixed slab of slots threaded into per-neighbour FIFO
//! lists, and a map pre-sized so it never grows).

use core::net::Ipv4Addr;

use burst_port::clock::Nanos;
use burst_port::map::HashMap;

use super::{ArpConfig, NeighKey};
use crate::PortId;

const NIL: u32 = u32::MAX;

/// What the caller of [`PendingQueues::push`] does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Queued, and no resolve request is outstanding (first packet, or the last request is
    /// older than the re-ask interval): ask the control thread to resolve the neighbour.
    AskResolve,
    /// Queued behind an outstanding resolve request: nothing more to do.
    Waiting,
}

/// Why packets were refused (the caller frees them; these say which limit was hit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingStats {
    /// Refused: the neighbour's queue was full (`pending_per_neighbor`).
    pub overflow_neighbor: u64,
    /// Refused: every slot was in use (`pending_total`).
    pub overflow_total: u64,
    /// Refused: too many neighbours already waiting (`pending_neighbors`).
    pub overflow_neighbors: u64,
}

struct Slot<B> {
    buf: Option<B>,
    next: u32,
}

#[derive(Debug, Clone, Copy)]
struct Queue {
    head: u32,
    tail: u32,
    len: u32,
    /// When the control thread was last asked to resolve this neighbour.
    asked: Nanos,
    /// When the oldest packet was queued.
    since: Nanos,
}

/// Per-neighbour queues of packets (`B`, e.g. an mbuf) waiting for ARP resolution.
pub struct PendingQueues<B> {
    slots: Vec<Slot<B>>,
    free: u32,
    queues: HashMap<NeighKey, Queue>,
    per_neighbor: usize,
    max_neighbors: usize,
    reask: Nanos,
    len: usize,
    stats: PendingStats,
}

impl<B> core::fmt::Debug for PendingQueues<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PendingQueues")
            .field("len", &self.len)
            .field("neighbors", &self.queues.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl<B> PendingQueues<B> {
    /// Queues for at most `max_neighbors` neighbours, `per_neighbor` packets each and `total`
    /// packets in all; a neighbour still pending after `reask` is asked for again.
    pub fn new(per_neighbor: usize, total: usize, max_neighbors: usize, reask: Nanos) -> Self {
        let total = total.min(NIL as usize);
        let slots = (0..total)
            .map(|i| Slot {
                buf: None,
                next: if i + 1 < total { (i + 1) as u32 } else { NIL },
            })
            .collect();
        PendingQueues {
            slots,
            free: if total > 0 { 0 } else { NIL },
            // Twice the bound: hashbrown then always rehashes removed-entry tombstones in place
            // instead of growing, so inserting never allocates.
            queues: HashMap::with_capacity_and_hasher(
                max_neighbors.saturating_mul(2),
                Default::default(),
            ),
            per_neighbor,
            max_neighbors,
            reask,
            len: 0,
            stats: PendingStats::default(),
        }
    }

    /// Queues sized by the `pending_*` fields of `cfg`.
    pub fn from_config(cfg: &ArpConfig) -> Self {
        PendingQueues::new(
            cfg.pending_per_neighbor,
            cfg.pending_total,
            cfg.pending_neighbors,
            cfg.pending_reask,
        )
    }

    /// Queues `buf` for `ip` on `port` at `now`; gives it back if a limit is hit (the caller
    /// frees it; [`PendingQueues::stats`] says which limit).
    pub fn push(&mut self, port: PortId, ip: Ipv4Addr, buf: B, now: Nanos) -> Result<Queued, B> {
        let key = (port, ip);
        // A neighbour has a record exactly while it has packets queued.
        let queued = self.queues.get(&key).map_or(0, |q| q.len as usize);
        if queued >= self.per_neighbor {
            self.stats.overflow_neighbor += 1;
            return Err(buf);
        }
        if queued == 0 && self.queues.len() >= self.max_neighbors {
            self.stats.overflow_neighbors += 1;
            return Err(buf);
        }
        if self.free == NIL {
            self.stats.overflow_total += 1;
            return Err(buf);
        }
        let idx = self.free;
        let slot = &mut self.slots[idx as usize];
        self.free = slot.next;
        slot.buf = Some(buf);
        slot.next = NIL;
        self.len += 1;
        match self.queues.get_mut(&key) {
            Some(q) => {
                self.slots[q.tail as usize].next = idx;
                q.tail = idx;
                q.len += 1;
                if now >= q.asked + self.reask {
                    q.asked = now;
                    Ok(Queued::AskResolve)
                } else {
                    Ok(Queued::Waiting)
                }
            }
            None => {
                self.queues.insert(
                    key,
                    Queue {
                        head: idx,
                        tail: idx,
                        len: 1,
                        asked: now,
                        since: now,
                    },
                );
                Ok(Queued::AskResolve)
            }
        }
    }

    /// The neighbour resolved: its packets, oldest first, to send now. Packets the iterator
    /// does not hand out (if dropped early) are dropped.
    pub fn take(&mut self, port: PortId, ip: Ipv4Addr) -> Taken<'_, B> {
        let head = self.queues.remove(&(port, ip)).map_or(NIL, |q| q.head);
        Taken {
            slots: &mut self.slots,
            free: &mut self.free,
            len: &mut self.len,
            cur: head,
        }
    }

    /// The neighbour failed to resolve: its packets, oldest first, for the caller to turn into
    /// ICMP host unreachable (to local senders) and free.
    pub fn drop_failed(&mut self, port: PortId, ip: Ipv4Addr) -> Taken<'_, B> {
        self.take(port, ip)
    }

    /// Whether packets wait for `ip` on `port` (and so a resolve request is outstanding).
    pub fn is_pending(&self, port: PortId, ip: Ipv4Addr) -> bool {
        self.queues.contains_key(&(port, ip))
    }

    /// Packets waiting for `ip` on `port`.
    pub fn pending(&self, port: PortId, ip: Ipv4Addr) -> usize {
        self.queues.get(&(port, ip)).map_or(0, |q| q.len as usize)
    }

    /// A neighbour whose oldest packet has waited `max_wait` or longer (housekeeping: drop it
    /// when the control thread's verdict was lost), if any.
    pub fn stale(&self, now: Nanos, max_wait: Nanos) -> Option<NeighKey> {
        self.queues
            .iter()
            .find(|(_, q)| now >= q.since + max_wait)
            .map(|(k, _)| *k)
    }

    /// Packets queued in all.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Neighbours with queued packets.
    pub fn neighbors(&self) -> usize {
        self.queues.len()
    }

    /// Refusal counters.
    pub fn stats(&self) -> PendingStats {
        self.stats
    }
}

/// The packets of one neighbour, oldest first, freed from the queues as they are handed out.
pub struct Taken<'a, B> {
    slots: &'a mut [Slot<B>],
    free: &'a mut u32,
    len: &'a mut usize,
    cur: u32,
}

impl<B> Iterator for Taken<'_, B> {
    type Item = B;

    fn next(&mut self) -> Option<B> {
        if self.cur == NIL {
            return None;
        }
        let idx = self.cur;
        let slot = &mut self.slots[idx as usize];
        let buf = slot.buf.take();
        self.cur = slot.next;
        slot.next = *self.free;
        *self.free = idx;
        *self.len -= 1;
        buf
    }
}

impl<B> Drop for Taken<'_, B> {
    fn drop(&mut self) {
        // The neighbour's record is already gone: return every remaining slot.
        for _ in self.by_ref() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P0: PortId = PortId(0);
    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
    const B_: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
    const T0: Nanos = Nanos(0);

    #[test]
    fn seeds_style_one_datagram_per_neighbour() {
        let mut q = PendingQueues::<u32>::new(1, 8, 4, Nanos::from_secs(1));
        assert_eq!(q.push(P0, A, 1, T0), Ok(Queued::AskResolve));
        assert_eq!(q.push(P0, A, 2, T0), Err(2));
        assert_eq!(q.stats().overflow_neighbor, 1);
        assert_eq!(q.push(P0, B_, 3, T0), Ok(Queued::AskResolve));
        assert_eq!((q.len(), q.neighbors()), (2, 2));
        assert_eq!(q.take(P0, A).collect::<Vec<_>>(), [1]);
        assert_eq!(q.drop_failed(P0, B_).collect::<Vec<_>>(), [3]);
        assert!(q.is_empty());
    }

    #[test]
    fn sixteen_per_neighbour_fifo_drain_and_reuse() {
        let cfg = ArpConfig::default();
        let mut q = PendingQueues::<u32>::from_config(&cfg);
        assert_eq!(q.push(P0, A, 0, T0), Ok(Queued::AskResolve));
        for i in 1..16 {
            assert_eq!(
                q.push(P0, A, i, Nanos::from_millis(i.into())),
                Ok(Queued::Waiting)
            );
        }
        assert_eq!(q.push(P0, A, 16, Nanos::from_millis(16)), Err(16));
        assert_eq!(q.pending(P0, A), 16);
        assert!(q.is_pending(P0, A) && !q.is_pending(PortId(1), A));
        assert_eq!(q.take(P0, A).take(3).collect::<Vec<_>>(), [0, 1, 2]);
        // Dropping the iterator early freed the rest.
        assert!(q.is_empty() && q.neighbors() == 0);
        assert_eq!(q.take(P0, A).count(), 0);
        // Every slot is reusable: fill the whole pool across neighbours, in order.
        for round in 0..3u32 {
            for n in 0..64u32 {
                let ip = Ipv4Addr::new(198, 18, 1, n as u8);
                for i in 0..16 {
                    assert!(q.push(P0, ip, round * 10_000 + n * 100 + i, T0).is_ok());
                }
            }
            assert_eq!(q.len(), 1024);
            let ip65 = Ipv4Addr::new(198, 18, 2, 0);
            assert_eq!(q.push(P0, ip65, 7, T0), Err(7));
            for n in (0..64u32).rev() {
                let ip = Ipv4Addr::new(198, 18, 1, n as u8);
                let got: Vec<u32> = q.take(P0, ip).collect();
                let want: Vec<u32> = (0..16).map(|i| round * 10_000 + n * 100 + i).collect();
                assert_eq!(got, want);
            }
            assert!(q.is_empty());
        }
        assert_eq!(q.stats().overflow_total, 3);
    }

    #[test]
    fn reask_and_stale_and_neighbour_limit() {
        let mut q = PendingQueues::<u8>::new(4, 8, 1, Nanos::from_secs(1));
        assert_eq!(q.push(P0, A, 1, T0), Ok(Queued::AskResolve));
        assert_eq!(
            q.push(P0, A, 2, Nanos::from_millis(999)),
            Ok(Queued::Waiting)
        );
        assert_eq!(
            q.push(P0, A, 3, Nanos::from_secs(1)),
            Ok(Queued::AskResolve)
        );
        assert_eq!(
            q.push(P0, A, 4, Nanos::from_millis(1500)),
            Ok(Queued::Waiting)
        );
        assert_eq!(q.push(P0, B_, 9, T0), Err(9));
        assert_eq!(q.stats().overflow_neighbors, 1);
        assert_eq!(q.stale(Nanos::from_secs(7), Nanos::from_secs(8)), None);
        assert_eq!(
            q.stale(Nanos::from_secs(8), Nanos::from_secs(8)),
            Some((P0, A))
        );
        assert_eq!(q.drop_failed(P0, A).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(q.push(P0, B_, 9, T0), Ok(Queued::AskResolve));
    }

    #[test]
    fn zero_capacity_refuses() {
        let mut q = PendingQueues::<u8>::new(16, 0, 4, Nanos::from_secs(1));
        assert_eq!(q.push(P0, A, 1, T0), Err(1));
        assert_eq!(q.stats().overflow_total, 1);
        assert!(!q.is_pending(P0, A));
    }
}
