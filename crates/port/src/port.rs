//! The port and queue traits the stack is generic over.

use burst_wire::ethernet::MacAddr;

use crate::batch::Batch;
use crate::buf::PacketBuf;

/// Offloads a port performs in hardware (after negotiation with the device and the
/// configuration's `offloads = false` switch). What is `false` here is done in software.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities {
    /// Transmit IPv4 header checksum.
    pub tx_ipv4_checksum: bool,
    /// Transmit TCP checksum.
    pub tx_tcp_checksum: bool,
    /// Transmit UDP checksum.
    pub tx_udp_checksum: bool,
    /// TCP segmentation offload.
    pub tx_tso: bool,
    /// Multi-segment (chained) transmit.
    pub tx_multi_seg: bool,
    /// Receive IPv4 checksum verdicts.
    pub rx_ipv4_checksum: bool,
    /// Receive TCP/UDP checksum verdicts.
    pub rx_l4_checksum: bool,
    /// Hardware RSS hash (and queue spreading).
    pub rss: bool,
}

impl Capabilities {
    /// Nothing in hardware: every offload done in software.
    pub const NONE: Capabilities = Capabilities {
        tx_ipv4_checksum: false,
        tx_tcp_checksum: false,
        tx_udp_checksum: false,
        tx_tso: false,
        tx_multi_seg: false,
        rx_ipv4_checksum: false,
        rx_l4_checksum: false,
        rss: false,
    };

    /// Everything in hardware (a modern 10G NIC).
    pub const ALL: Capabilities = Capabilities {
        tx_ipv4_checksum: true,
        tx_tcp_checksum: true,
        tx_udp_checksum: true,
        tx_tso: true,
        tx_multi_seg: true,
        rx_ipv4_checksum: true,
        rx_l4_checksum: true,
        rss: true,
    };
}

/// What a port is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Configured name (e.g. `p0`).
    pub name: String,
    /// Driver name (e.g. `net_af_packet`, `mem`).
    pub driver: String,
    /// MAC address in use.
    pub mac: MacAddr,
    /// IP MTU in bytes (frame payload, without the Ethernet header).
    pub mtu: u16,
    /// Number of rx/tx queue pairs.
    pub queues: u16,
    /// Negotiated offloads.
    pub caps: Capabilities,
    /// The Toeplitz key used for RSS (hardware or software).
    pub rss_key: [u8; crate::rss::KEY_LEN],
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LinkStatus {
    /// Whether the link is up.
    pub up: bool,
    /// Speed in Mbit/s (0 when unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Port counters (DPDK's `rte_eth_stats` in our terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PortStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets the NIC dropped because no receive buffer was free (rx ring full).
    pub rx_missed: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Receive buffer allocation failures.
    pub rx_nombuf: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

/// One rx/tx queue pair of a port, owned by exactly one worker core.
pub trait Queue: Send {
    /// The packet buffer type of this backend.
    type Buf: PacketBuf;

    /// Receives up to `batch.room()` packets, appended to `batch`; returns how many.
    fn rx_burst(&mut self, batch: &mut Batch<Self::Buf>) -> usize;

    /// Transmits packets from the front of `batch`; returns how many were taken. Those that
    /// were not stay in `batch` (the caller retries or drops them). Offloads the port lacks are
    /// applied in software first; packets that cannot be (e.g. no buffers for segmentation)
    /// are dropped and counted.
    fn tx_burst(&mut self, batch: &mut Batch<Self::Buf>) -> usize;

    /// Allocates an empty buffer from the port's pool (with the default headroom).
    fn alloc(&mut self) -> Option<Self::Buf>;

    /// Allocates `n` empty buffers at once (at most the batch's room), appended to `batch`:
    /// all of them or none; returns how many. Backends with a bulk pool operation (DPDK's
    /// `rte_pktmbuf_alloc_bulk`) override this; a load generator's transmit path calls it.
    fn alloc_bulk(&mut self, batch: &mut Batch<Self::Buf>, n: usize) -> usize {
        let n = n.min(batch.room());
        let start = batch.len();
        for _ in 0..n {
            match self.alloc() {
                Some(b) => {
                    let _ = batch.push(b);
                }
                None => {
                    // All or none: give back what was taken.
                    drop(batch.drain(start..));
                    return 0;
                }
            }
        }
        n
    }

    /// Allocates `n` buffers at once (at most the batch's room; all or none) holding `len`
    /// bytes each, which `fill(i, data)` writes for the `i`-th; appends them to `batch` and
    /// returns how many (0 also when `len` does not fit a buffer). A generator's transmit path:
    /// backends that can (DPDK) set each buffer's header and hand its data to `fill` in one
    /// pass, so each buffer is touched once per burst.
    #[inline]
    fn alloc_fill<F: FnMut(usize, &mut [u8])>(
        &mut self,
        batch: &mut Batch<Self::Buf>,
        n: usize,
        len: usize,
        mut fill: F,
    ) -> usize
    where
        Self: Sized,
    {
        let start = batch.len();
        let got = self.alloc_bulk(batch, n);
        for (i, b) in batch.as_mut_slice()[start..].iter_mut().enumerate() {
            let Some(d) = b.append(len) else {
                drop(batch.drain(start..));
                return 0;
            };
            fill(i, d);
        }
        got
    }

    /// The queue's port capabilities.
    fn caps(&self) -> Capabilities;

    /// The queue index within its port.
    fn index(&self) -> u16;
}

/// The control side of a port.
pub trait Port {
    /// The queue type this port hands out.
    type Queue: Queue;

    /// What the port is.
    fn info(&self) -> &PortInfo;

    /// Link state now.
    fn link(&self) -> LinkStatus;

    /// Counters now.
    fn stats(&self) -> PortStats;

    /// Driver-specific extended counters.
    fn xstats(&self) -> Vec<(String, u64)>;

    /// Hands out queue `id` (once); `None` if out of range or already taken.
    fn take_queue(&mut self, id: u16) -> Option<Self::Queue>;
}
