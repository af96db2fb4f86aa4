//! A local kernel as the peer of a port: partial checksums and TSO/GSO super-frames
//! (`burst_stack::kernel` explains both), and the one-time hints an operator needs when frames
//! arrive cut or with checksums that keep failing.
//!
//! Only ports with `partial_checksums` on pay anything: one flag read per burst on the fast path
//! and a few adds per TCP/UDP datagram to compare the checksum field with the pseudo-header
//! sum.

use std::net::Ipv4Addr;

use burst_port::{ChecksumStatus, L4Checksum, PacketBuf, Queue, TxOffload};
use burst_stack::kernel::{self, L4Sum};
use burst_stack::PortId;
use burst_wire::ethernet;
use burst_wire::ipv4::{self, Protocol};

use super::Worker;

/// Checksum failures from one source on one port (with no other source's failure in between)
/// before the hint is logged.
const CSUM_HINT_AFTER: u32 = 3;

/// Per port: what a worker has noticed and told the operator (each hint once per worker).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PortNotes {
    /// The source of the last L4 checksum failure and how many failures in a row it caused.
    csum_src: Option<Ipv4Addr>,
    csum_run: u32,
    warned_csum: bool,
    warned_truncated: bool,
    warned_gso: bool,
}

/// What a transit datagram from a kernel peer needs on the way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transit {
    /// Nothing: a datagram like any other.
    Plain,
    /// Its L4 checksum is partial: the port completes it (offload or software fallback), or
    /// it is completed before fragmentation.
    Partial,
    /// A TCP super-frame: the port cuts it into segments of at most `segsz` payload bytes (its
    /// checksum field is ready for TSO); `seg_len` is the largest segment's IP length.
    Super {
        /// TCP payload per segment.
        segsz: u16,
        /// IPv4 length of a full segment.
        seg_len: usize,
        /// TCP header length.
        thl: u8,
    },
    /// A super-frame that cannot be cut (a peer's UDP segmentation offload): dropped, counted.
    Unsegmentable,
}

impl<Q: Queue> Worker<Q> {
    /// Whether `port` expects a kernel peer's partial checksums.
    #[inline]
    pub(super) fn partial_port(&self, port: PortId) -> bool {
        self.ports
            .get(usize::from(port.0))
            .is_some_and(|p| p.partial_csum)
    }

    /// The L4 checksum verdict for a datagram delivered locally: on a port expecting a kernel
    /// peer, a partial checksum counts as good (and is counted); elsewhere the NIC's verdict
    /// stands (`Unknown` is verified later by the protocol).
    pub(super) fn local_l4_status(
        &mut self,
        port: PortId,
        datagram: &[u8],
        status: ChecksumStatus,
    ) -> ChecksumStatus {
        if status == ChecksumStatus::Good || !self.partial_port(port) {
            return status;
        }
        match kernel::classify(datagram) {
            L4Sum::Good => ChecksumStatus::Good,
            L4Sum::Partial => {
                self.port_counters[usize::from(port.0)].rx_partial_csum += 1;
                ChecksumStatus::Good
            }
            L4Sum::Bad => ChecksumStatus::Bad,
            L4Sum::NotApplicable => status,
        }
    }

    /// Decides what a transit datagram (IPv4 at `hl` in `buf`) from `port` needs, and prepares
    /// its checksum field for it. Counts what it finds.
    pub(super) fn transit_offloads(
        &mut self,
        port: PortId,
        buf: &mut Q::Buf,
        hl: usize,
    ) -> Transit {
        let p = usize::from(port.0);
        let in_mtu = usize::from(self.ports[p].mtu);
        let d = &mut buf.data_mut()[hl..];
        let tl = usize::from(u16::from_be_bytes([d[2], d[3]])).min(d.len());
        let d = &mut d[..tl];
        let oversize = tl > in_mtu && !ipv4::Packet::new_unchecked(&*d).is_fragment();
        let tcp = ipv4::Packet::new_unchecked(&*d).protocol() == Protocol::TCP;
        if oversize && tcp {
            // Larger than the link could carry: a GSO super-frame, cut as the peer's missing
            // device would have cut it, to the arrival link's MTU.
            if kernel::looks_partial(d) {
                self.port_counters[p].rx_partial_csum += 1;
            }
            let ihl = usize::from(d[0] & 0x0f) * 4;
            let Some(thl) = kernel::prepare_tso(d) else {
                self.port_counters[p].drop_unsegmentable += 1;
                return Transit::Unsegmentable;
            };
            self.port_counters[p].rx_super_frames += 1;
            let segsz = in_mtu.saturating_sub(ihl + thl).max(1);
            return Transit::Super {
                segsz: segsz as u16,
                seg_len: ihl + thl + segsz,
                thl: thl as u8,
            };
        }
        if oversize && kernel::looks_partial(d) {
            // A UDP datagram beyond the MTU with a partial checksum is the peer's UDP
            // segmentation offload (a kernel-reassembled datagram has a complete checksum,
            // and is forwarded like any other, fragmented if need be): nothing can cut it
            // into the datagrams the sender meant.
            self.port_counters[p].drop_unsegmentable += 1;
            self.note_gso(port, tl);
            return Transit::Unsegmentable;
        }
        if kernel::looks_partial(d) {
            self.port_counters[p].rx_partial_csum += 1;
            return Transit::Partial;
        }
        Transit::Plain
    }

    /// Asks the egress port to finish what [`transit_offloads`](Self::transit_offloads) found:
    /// the L4 checksum, or segmentation into `segsz`-byte segments.
    pub(super) fn request_offloads(buf: &mut Q::Buf, hl: usize, t: Transit) {
        let d = &buf.data()[hl..];
        let proto = d[9];
        let l3 = (usize::from(d[0] & 0x0f) * 4) as u8;
        let l4 = if proto == Protocol::TCP.0 {
            L4Checksum::Tcp
        } else {
            L4Checksum::Udp
        };
        let off = match t {
            Transit::Partial => TxOffload {
                l2_len: hl as u8,
                l3_len: l3,
                l4_len: 0,
                ipv4_checksum: false,
                l4_checksum: Some(l4),
                tso_segsz: 0,
            },
            Transit::Super { segsz, thl, .. } => TxOffload {
                l2_len: hl as u8,
                l3_len: l3,
                l4_len: thl,
                ipv4_checksum: true,
                l4_checksum: Some(L4Checksum::Tcp),
                tso_segsz: segsz,
            },
            Transit::Plain | Transit::Unsegmentable => return,
        };
        buf.set_tx_offload(off);
    }

    /// An L4 checksum failed on a datagram to us: after a run of failures from one source,
    /// tell the operator the likely cause, once.
    pub(super) fn l4_checksum_failed(&mut self, port: PortId, datagram: &[u8]) {
        let p = usize::from(port.0);
        let Some(n) = self.notes.get_mut(p) else {
            return;
        };
        let src = ipv4::Packet::new_unchecked(datagram).src_addr();
        if n.csum_src == Some(src) {
            n.csum_run += 1;
        } else {
            n.csum_src = Some(src);
            n.csum_run = 1;
        }
        if n.warned_csum || n.csum_run < CSUM_HINT_AFTER {
            return;
        }
        n.warned_csum = true;
        let failures = n.csum_run;
        let name = self.port_name(port);
        if kernel::looks_partial(datagram) {
            tracing::warn!(
                port = %name,
                %src,
                failures,
                "TCP/UDP checksums from {src} keep failing and hold only the pseudo-header sum: \
                 the peer is a local kernel with checksum offload (a veth). Set \
                 partial_checksums = true on [[port]] {name}, or turn the offload off on the \
                 peer (ethtool -K IFACE tx off)"
            );
        } else {
            tracing::warn!(
                port = %name,
                %src,
                failures,
                "TCP/UDP checksums from {src} keep failing: frames are corrupted on the way \
                 (cable, NIC, or a peer's offloads); see udp.in_errors and tcp.in_csum_errors"
            );
        }
    }

    /// A frame whose IPv4 total length runs past its end arrived on `port`: once, say what
    /// cut it.
    pub(super) fn note_truncated(&mut self, port: PortId, frame: &[u8]) {
        let p = usize::from(port.0);
        self.port_counters[p].rx_truncated += 1;
        let Some(n) = self.notes.get_mut(p) else {
            return;
        };
        if n.warned_truncated {
            return;
        }
        n.warned_truncated = true;
        let total = frame
            .get(ethernet::HEADER_LEN + 2..ethernet::HEADER_LEN + 4)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        let name = self.port_name(port);
        tracing::warn!(
            port = %name,
            frame = frame.len(),
            ip_total = total,
            "a {}-byte datagram arrived cut to a {}-byte frame: the device holds smaller frames \
             than its peer sends (an af_packet ring slot: leave framesz out of the --vdev and \
             set [[port]] {name} max_frame = \"auto\"; or a kernel peer's TSO/GRO: ethtool -K \
             IFACE tso off gro off)",
            total + ethernet::HEADER_LEN,
            frame.len()
        );
    }

    /// A super-frame that cannot be segmented (UDP GSO) arrived: once, name the fix.
    fn note_gso(&mut self, port: PortId, len: usize) {
        let Some(n) = self.notes.get_mut(usize::from(port.0)) else {
            return;
        };
        if n.warned_gso {
            return;
        }
        n.warned_gso = true;
        let name = self.port_name(port);
        tracing::warn!(
            port = %name,
            len,
            "a {len}-byte non-TCP datagram larger than the MTU arrived whole (a kernel peer's \
             UDP segmentation offload) and cannot be forwarded: turn it off on the peer \
             (ethtool -K IFACE tx-udp-segmentation off)"
        );
    }

    fn port_name(&self, port: PortId) -> String {
        self.cfg
            .port_names
            .get(usize::from(port.0))
            .cloned()
            .unwrap_or_else(|| port.to_string())
    }
}
