//! A queue pair of a port: receive and transmit bursts with the software offload fallback.

use super::*;

/// Counters of a queue's transmit path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DpdkQueueStats {
    /// The software offload fallback's counters.
    pub offload: OffloadStats,
    /// Packets the driver's `tx_prepare` refused (malformed offload request); dropped.
    pub tx_prepare_dropped: u64,
}

/// One rx/tx queue pair of a [`DpdkPort`]; keeps the port open while it lives.
pub struct DpdkQueue {
    pub(super) port_id: u16,
    pub(super) queue: u16,
    pub(super) caps: Capabilities,
    pub(super) mp: NonNull<sys::rte_mempool>,
    /// Some transmit offload (or chaining) is missing in hardware: `tx_burst` looks at each
    /// packet and sends requests through `prepare_tx`.
    pub(super) scan: bool,
    /// See [`DpdkQueue::set_tx_checks`].
    pub(super) tx_checks: bool,
    pub(super) stats: DpdkQueueStats,
    pub(super) _port: Arc<PortInner>,
}

// SAFETY: a queue is used by one thread at a time (`&mut self` for bursts); DPDK allows any
// single thread to drive a queue, and the pool pointer is kept alive by `_port` and is
// thread-safe (see PoolInner).
unsafe impl Send for DpdkQueue {}

impl fmt::Debug for DpdkQueue {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        fm.debug_struct("DpdkQueue")
            .field("port", &self.port_id)
            .field("queue", &self.queue)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl DpdkQueue {
    /// The transmit path's counters.
    pub fn stats(&self) -> &DpdkQueueStats {
        &self.stats
    }

    /// The ethdev port id.
    pub fn port_id(&self) -> u16 {
        self.port_id
    }

    /// Receives up to `max` packets (and at most the batch's room), appended to `batch`;
    /// returns how many. DPDK applications usually burst 32.
    #[inline]
    pub fn rx_burst_max(&mut self, batch: &mut Batch<Mbuf>, max: usize) -> usize {
        let (p, room) = batch.spare_ptr();
        let want = room.min(max);
        if want == 0 {
            return 0;
        }
        // SAFETY: `p` points at `room ≥ want` free slots of the batch, laid out as
        // `*mut rte_mbuf` (Mbuf is transparent); the driver writes `n ≤ want` owned mbuf
        // pointers there.
        let n =
            unsafe { sys::burst_rte_eth_rx_burst(self.port_id, self.queue, p.cast(), want as u16) };
        // SAFETY: the driver initialised exactly `n` slots with mbufs now owned by the batch.
        unsafe { batch.commit(usize::from(n)) };
        usize::from(n)
    }

    /// Turns the transmit checks on (the default) or off. Off, `tx_burst` hands the batch to
    /// the driver as is: no software offload fallback and no `tx_prepare`. Only for paths whose
    /// packets request no offload the port lacks and are not chained unless the port takes
    /// chains, e.g. forwarding received packets unchanged; otherwise checksums go out wrong.
    pub fn set_tx_checks(&mut self, on: bool) {
        self.tx_checks = on;
    }
}

/// Runs the driver's `tx_prepare` (pseudo-header fix-ups, limit checks) over the first `n`
/// packets of `batch`; packets it refuses are dropped and counted. Returns how many of the
/// first `n` remain.
fn tx_prepare_prefix(
    port_id: u16,
    queue: u16,
    batch: &mut Batch<Mbuf>,
    mut n: usize,
    dropped: &mut u64,
) -> usize {
    let mut done = 0;
    while done < n {
        let rest = &mut batch.as_mut_slice()[done..n];
        // SAFETY: `rest` is an array of owned, valid mbuf pointers (Mbuf is transparent);
        // tx_prepare only modifies the packets, it does not take them.
        let k = unsafe {
            sys::burst_rte_eth_tx_prepare(
                port_id,
                queue,
                rest.as_mut_ptr().cast(),
                rest.len() as u16,
            )
        };
        done += usize::from(k);
        if done < n {
            drop(batch.drain(done..=done));
            *dropped += 1;
            n -= 1;
        }
    }
    n
}

/// Hands the first `n` packets of `batch` to the driver; returns how many it took (those leave
/// the batch, the rest stay).
#[inline]
fn raw_send(port_id: u16, queue: u16, batch: &mut Batch<Mbuf>, n: usize) -> usize {
    let slots = &mut batch.as_mut_slice()[..n];
    // SAFETY: `slots` is an array of owned mbuf pointers; the driver takes ownership of the
    // first `sent`, which forget_front then stops the batch from freeing.
    let sent = unsafe {
        sys::burst_rte_eth_tx_burst(
            port_id,
            queue,
            slots.as_mut_ptr().cast(),
            slots.len() as u16,
        )
    };
    // SAFETY: ownership of the first `sent` mbufs passed to the driver.
    unsafe { batch.forget_front(usize::from(sent)) };
    usize::from(sent)
}

impl Queue for DpdkQueue {
    type Buf = Mbuf;

    #[inline]
    fn rx_burst(&mut self, batch: &mut Batch<Mbuf>) -> usize {
        self.rx_burst_max(batch, BURST_MAX)
    }

    #[inline]
    fn tx_burst(&mut self, batch: &mut Batch<Mbuf>) -> usize {
        let (port, queue) = (self.port_id, self.queue);
        let n = batch.len();
        if n == 0 {
            return 0;
        }
        if !self.tx_checks {
            return raw_send(port, queue, batch, n);
        }
        if !self.scan {
            // The port does every offload itself: only its own checks and fix-ups remain (a
            // no-op for drivers without a tx_prepare callback).
            let n = tx_prepare_prefix(port, queue, batch, n, &mut self.stats.tx_prepare_dropped);
            return raw_send(port, queue, batch, n);
        }
        // The port lacks some offload. One pass over the mbuf headers decides whether any
        // packet needs software; it is not free (about 20% of a pure forwarding loop on
        // net_null), hence `set_tx_checks` and the no-scan path above.
        let (mut flags, mut chained) = (0u64, false);
        for m in batch.iter() {
            let r = m.raw();
            flags |= r.ol_flags;
            chained |= r.nb_segs != 1;
        }
        if flags & TX_FLAGS == 0 && (!chained || self.caps.tx_multi_seg) {
            return raw_send(port, queue, batch, n);
        }
        let mp = self.mp;
        let stats = &mut self.stats;
        offload::transmit(
            &self.caps,
            batch,
            &mut || alloc_from(mp),
            &mut stats.offload,
            &mut |b: &mut Batch<Mbuf>, n: usize| {
                let n = tx_prepare_prefix(port, queue, b, n, &mut stats.tx_prepare_dropped);
                raw_send(port, queue, b, n)
            },
        )
    }

    #[inline]
    fn alloc(&mut self) -> Option<Mbuf> {
        alloc_from(self.mp)
    }

    #[inline]
    fn alloc_bulk(&mut self, batch: &mut Batch<Mbuf>, n: usize) -> usize {
        let (p, room) = batch.spare_ptr();
        let n = n.min(room);
        if n == 0 {
            return 0;
        }
        // For transmit (the trait's contract): only the mbufs' first cache line is reset
        // (the shim's comment says why); the flags say no offload, and `tx_offload_of`
        // reads the second line's lengths only under a flag.
        // SAFETY: `p` points at `room ≥ n` free slots of the batch, laid out as
        // `*mut rte_mbuf` (Mbuf is transparent); on success DPDK writes `n` owned, reset mbufs
        // there, on failure it writes nothing usable and we commit none.
        let ret =
            unsafe { sys::burst_rte_pktmbuf_alloc_bulk_tx(self.mp.as_ptr(), p.cast(), n as u32) };
        if ret != 0 {
            return 0;
        }
        // SAFETY: DPDK initialised exactly `n` slots with mbufs now owned by the batch.
        unsafe { batch.commit(n) };
        n
    }

    #[inline]
    fn alloc_fill<F: FnMut(usize, &mut [u8])>(
        &mut self,
        batch: &mut Batch<Mbuf>,
        n: usize,
        len: usize,
        mut fill: F,
    ) -> usize {
        let (p, room) = batch.spare_ptr();
        let n = n.min(room);
        if n == 0 || len > usize::from(u16::MAX) {
            return 0;
        }
        let slots: *mut *mut sys::rte_mbuf = p.cast();
        // Raw mbufs: the pool guarantees refcnt 1, one segment, no next (every free restores
        // them); the rest of the first cache line is set here with the final lengths, then
        // the data is written, one mbuf after the other, so each header line is touched once
        // per burst (testpmd's txonly does the same; the second line is not touched at all,
        // see the shim's burst_rte_pktmbuf_alloc_bulk_tx).
        // SAFETY: `slots` points at `room ≥ n` free slots of the batch; on success DPDK
        // writes `n` raw mbuf pointers there, on failure nothing usable.
        if unsafe { sys::burst_rte_mempool_get_bulk(self.mp.as_ptr(), slots.cast(), n as u32) } != 0
        {
            return 0;
        }
        let len16 = len as u16;
        for i in 0..n {
            // SAFETY: slot `i < n` holds a raw mbuf of our pool, ours alone until committed.
            let m = unsafe { &mut **slots.add(i) };
            let off = (sys::RTE_PKTMBUF_HEADROOM as u16).min(m.buf_len);
            if len16 > m.buf_len - off {
                // SAFETY: the `n` raw mbufs go back as they came (only first-line fields
                // the pool does not rely on were written).
                unsafe {
                    sys::burst_rte_mempool_put_bulk(self.mp.as_ptr(), slots.cast(), n as u32)
                };
                return 0;
            }
            m.data_off = off;
            m.port = f::RTE_MBUF_PORT_INVALID;
            m.ol_flags &= f::RTE_MBUF_F_EXTERNAL;
            m.__bindgen_anon_1.packet_type = 0;
            m.pkt_len = u32::from(len16);
            m.data_len = len16;
            m.vlan_tci = 0;
            m.vlan_tci_outer = 0;
            // SAFETY: [off, off + len) lies inside the mbuf's buffer (checked above), which
            // no one else holds.
            let d = unsafe {
                core::slice::from_raw_parts_mut(m.buf_addr.cast::<u8>().add(usize::from(off)), len)
            };
            fill(i, d);
        }
        // SAFETY: DPDK initialised exactly `n` slots with mbufs, now set up and owned by the
        // batch.
        unsafe { batch.commit(n) };
        n
    }

    fn caps(&self) -> Capabilities {
        self.caps
    }

    fn index(&self) -> u16 {
        self.queue
    }
}
