//! The mem port: a [`Port`] whose frames travel over a [`Wire`], behaving like a NIC
//! (bounded rings, MTU checks, offloads it "has" done by the wire, counters like
//! `rte_eth_stats`).

use burst_wire::ethernet::MacAddr;

use super::pool::{MemBuf, MemPool};
use super::wire::{Attach, Shared, State, Wire};
use super::{prepare_tx, ready_len, OffloadStats};
use crate::batch::Batch;
use crate::buf::{PacketBuf, TxOffload};
use crate::clock::Clock;
use crate::port::{Capabilities, LinkStatus, Port, PortInfo, PortStats, Queue};
use std::sync::Arc;

/// What the emulated NIC does at transmit for the offloads the port "has": everything
/// requested, except that chains stay chains (gathering segments onto the wire is what a
/// multi-segment NIC does; the bytes are the same).
const HW: Capabilities = Capabilities {
    tx_multi_seg: true,
    ..Capabilities::NONE
};

/// How a [`MemPort`] is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemPortConfig {
    /// Port name.
    pub name: String,
    /// MAC address.
    pub mac: MacAddr,
    /// IP MTU: longer frames (beyond MTU + 14, or + 18 with a VLAN tag) are dropped at
    /// transmit (`tx_errors`) and at receive (`rx_errors`).
    pub mtu: u16,
    /// Number of rx/tx queue pairs.
    pub queues: u16,
    /// The offloads the port pretends to have in hardware.
    pub caps: Capabilities,
    /// Descriptors per rx ring: frames received but not yet polled; more are `rx_missed`.
    pub rx_ring: usize,
    /// Descriptors per tx ring: frames not yet serialized onto the link; `tx_burst` takes no
    /// more.
    pub tx_ring: usize,
    /// Accept unicast frames for other MACs.
    pub promiscuous: bool,
    /// Link speed reported when the wire sets no rate for this port's direction.
    pub speed_mbps: u32,
    /// RSS Toeplitz key.
    pub rss_key: [u8; crate::rss::KEY_LEN],
    /// Receive frames of up to this many bytes whatever the MTU, as a kernel-backed device
    /// does (an af_packet ring slot, not the MTU, limits what arrives: kernel-reassembled
    /// datagrams, a local peer's TSO super-frames); `None` = the MTU's frame.
    pub rx_max_frame: Option<usize>,
    /// Receive into this port's own pool, as a NIC DMAs into its mbufs: each frame is copied
    /// into a buffer of `pool` (the sender's goes back to its pool), and a frame that finds
    /// the pool empty is dropped and counted in `rx_nombuf`. Off: the sender's buffer itself
    /// arrives (zero copy; one pool for the whole wire).
    pub rx_copy: bool,
}

impl MemPortConfig {
    /// Defaults: MTU 1500, one queue, no offloads, 1024-descriptor rings, promiscuous, 10G.
    pub fn new(name: &str, mac: MacAddr) -> MemPortConfig {
        MemPortConfig {
            name: name.to_string(),
            mac,
            mtu: 1500,
            queues: 1,
            caps: Capabilities::NONE,
            rx_ring: 1024,
            tx_ring: 1024,
            promiscuous: true,
            speed_mbps: 10_000,
            rss_key: crate::rss::SYMMETRIC_KEY,
            rx_max_frame: None,
            rx_copy: false,
        }
    }
}

/// A port on a [`Wire`]. Its endpoint stays attached for the wire's lifetime (frames for it
/// keep landing in its rx rings until [`Wire::clear`] or the wire is dropped).
#[derive(Debug)]
pub struct MemPort {
    wire: Wire,
    ep: usize,
    info: PortInfo,
    pool: MemPool,
    rx_copy: bool,
    speed_mbps: u32,
    taken: Vec<bool>,
}

impl MemPort {
    /// Attaches a new endpoint to `wire`; its queues allocate from `pool`.
    pub fn new(wire: &Wire, pool: &MemPool, cfg: MemPortConfig) -> MemPort {
        assert!(cfg.queues > 0, "a port needs at least one queue");
        let ep = wire.shared.lock().attach(Attach {
            mac: cfg.mac,
            mtu: cfg.mtu,
            queues: cfg.queues,
            caps: cfg.caps,
            promiscuous: cfg.promiscuous,
            rx_ring: cfg.rx_ring,
            tx_ring: cfg.tx_ring,
            rss_key: cfg.rss_key,
            rx_max_frame: cfg.rx_max_frame,
        });
        MemPort {
            wire: wire.clone(),
            ep,
            info: PortInfo {
                name: cfg.name,
                driver: "mem".to_string(),
                mac: cfg.mac,
                mtu: cfg.mtu,
                queues: cfg.queues,
                caps: cfg.caps,
                rss_key: cfg.rss_key,
            },
            pool: pool.clone(),
            rx_copy: cfg.rx_copy,
            speed_mbps: cfg.speed_mbps,
            taken: vec![false; usize::from(cfg.queues)],
        }
    }

    /// This port's endpoint index on the wire (for [`Wire::set_impairments`] and
    /// [`Wire::counters`]).
    pub fn endpoint(&self) -> usize {
        self.ep
    }

    /// The pool the port's queues allocate from.
    pub fn pool(&self) -> &MemPool {
        &self.pool
    }

    /// The wire the port is attached to.
    pub fn wire(&self) -> &Wire {
        &self.wire
    }
}

impl Port for MemPort {
    type Queue = MemQueue;

    fn info(&self) -> &PortInfo {
        &self.info
    }

    fn link(&self) -> LinkStatus {
        let rate = self.wire.impairments(self.ep).rate_bps;
        LinkStatus {
            up: true,
            speed_mbps: rate.map_or(self.speed_mbps, |r| (r / 1_000_000) as u32),
            full_duplex: true,
        }
    }

    fn stats(&self) -> PortStats {
        self.wire.shared.lock().endpoints[self.ep].stats
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        let s = self.stats();
        let mut v = vec![
            ("rx_good_packets".to_string(), s.rx_packets),
            ("rx_good_bytes".to_string(), s.rx_bytes),
            ("rx_missed_errors".to_string(), s.rx_missed),
            ("rx_errors".to_string(), s.rx_errors),
            ("tx_good_packets".to_string(), s.tx_packets),
            ("tx_good_bytes".to_string(), s.tx_bytes),
            ("tx_errors".to_string(), s.tx_errors),
        ];
        let c = self.wire.counters(self.ep);
        v.extend(c.named().iter().map(|&(k, n)| (k.to_string(), n)));
        let o = self.wire.shared.lock().endpoints[self.ep].offload;
        v.extend(
            [
                ("offload_sw_ipv4_checksums", o.sw_ipv4_checksums),
                ("offload_sw_l4_checksums", o.sw_l4_checksums),
                ("offload_sw_tso_packets", o.sw_tso_packets),
                ("offload_sw_tso_segments", o.sw_tso_segments),
                ("offload_tso_deferred", o.tso_deferred),
                ("offload_tso_stalled", o.tso_stalled),
                ("offload_dropped_no_buffer", o.dropped_no_buffer),
                ("offload_dropped_malformed", o.dropped_malformed),
            ]
            .map(|(k, n)| (k.to_string(), n)),
        );
        v
    }

    fn take_queue(&mut self, id: u16) -> Option<MemQueue> {
        let t = self.taken.get_mut(usize::from(id))?;
        if *t {
            return None;
        }
        *t = true;
        Some(MemQueue {
            shared: self.wire.shared.clone(),
            ep: self.ep,
            index: id,
            caps: self.info.caps,
            pool: self.pool.clone(),
            rx_copy: self.rx_copy,
        })
    }
}

/// One rx/tx queue pair of a [`MemPort`].
pub struct MemQueue {
    shared: Arc<Shared>,
    ep: usize,
    index: u16,
    caps: Capabilities,
    pool: MemPool,
    rx_copy: bool,
}

impl core::fmt::Debug for MemQueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemQueue")
            .field("endpoint", &self.ep)
            .field("index", &self.index)
            .finish()
    }
}

/// The emulated NIC's transmit side for one frame the software path made ready: the offloads
/// the port has (the same routine, applied as hardware would), the length check, the wire.
fn nic_transmit(
    st: &mut State,
    ep: usize,
    frame: MemBuf,
    alloc: &mut dyn FnMut() -> Option<MemBuf>,
    now: crate::clock::Nanos,
) {
    let mut hw = Batch::new();
    if hw.push(frame).is_err() {
        unreachable!("an empty batch has room");
    }
    let mut work = OffloadStats::default();
    while !hw.is_empty() {
        prepare_tx(&HW, &mut hw, alloc, &mut work);
        let ready = ready_len(&HW, &hw);
        if ready == 0 {
            // Cannot happen with one packet in a batch (segmentation always progresses with a
            // free slot); drop rather than spin.
            st.endpoints[ep].stats.tx_errors += hw.len() as u64;
            break;
        }
        for mut f in hw.drain(..ready) {
            let e = &mut st.endpoints[ep];
            if e.too_long(&f) {
                e.stats.tx_errors += 1;
                continue;
            }
            e.stats.tx_packets += 1;
            e.stats.tx_bytes += f.pkt_len() as u64;
            f.set_tx_offload(TxOffload::default());
            st.transmit(ep, f, now);
        }
    }
    // Requests the NIC could not carry out (malformed, or no buffer to segment into).
    st.endpoints[ep].stats.tx_errors += work.dropped_malformed + work.dropped_no_buffer;
}

impl Queue for MemQueue {
    type Buf = MemBuf;

    fn rx_burst(&mut self, batch: &mut Batch<MemBuf>) -> usize {
        let now = self.shared.clock.now();
        let mut st = self.shared.lock();
        st.deliver_due(now);
        let ring = &mut st.endpoints[self.ep].rx[usize::from(self.index)];
        let mut n = 0;
        let mut nombuf = 0;
        while !batch.is_full() {
            let Some(b) = ring.pop_front() else { break };
            let b = if self.rx_copy {
                // A stack copy for what a real link carries; a heap one beyond (tests only).
                let mut small = [0u8; 16384];
                let mut big = Vec::new();
                let bytes: &mut [u8] = if b.pkt_len() <= small.len() {
                    &mut small
                } else {
                    big.resize(b.pkt_len(), 0);
                    &mut big
                };
                let len = b.copy_to(bytes);
                match self.pool.alloc_from(&bytes[..len]) {
                    Some(mut c) => {
                        c.set_rx_meta(b.rx_meta());
                        c
                    }
                    None => {
                        nombuf += 1;
                        continue;
                    }
                }
            } else {
                b
            };
            if batch.push(b).is_err() {
                unreachable!("checked not full");
            }
            n += 1;
        }
        st.endpoints[self.ep].stats.rx_nombuf += nombuf;
        n
    }

    fn tx_burst(&mut self, batch: &mut Batch<MemBuf>) -> usize {
        let now = self.shared.clock.now();
        let mut st = self.shared.lock();
        let n = batch.len().min(st.tx_room(self.ep, now));
        let pool = &self.pool;
        let mut alloc = || pool.alloc();
        for buf in batch.drain(..n) {
            // One packet at a time, so a TSO packet has a whole batch of room for its segments;
            // a deferred super-segment resumes once the ready segments are gone.
            let mut sw = Batch::new();
            if sw.push(buf).is_err() {
                unreachable!("an empty batch has room");
            }
            while !sw.is_empty() {
                prepare_tx(
                    &self.caps,
                    &mut sw,
                    &mut alloc,
                    &mut st.endpoints[self.ep].offload,
                );
                let ready = ready_len(&self.caps, &sw);
                if ready == 0 {
                    // Cannot happen with a free slot (see `offload`); drop rather than spin.
                    st.endpoints[self.ep].stats.tx_errors += sw.len() as u64;
                    break;
                }
                for f in sw.drain(..ready) {
                    nic_transmit(&mut st, self.ep, f, &mut alloc, now);
                }
            }
        }
        n
    }

    fn alloc(&mut self) -> Option<MemBuf> {
        self.pool.alloc()
    }

    fn caps(&self) -> Capabilities {
        self.caps
    }

    fn index(&self) -> u16 {
        self.index
    }
}
