//! Packet buffers and the offload metadata they carry.

use core::fmt;

/// Which L4 checksum a transmit offload request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4Checksum {
    /// TCP checksum.
    Tcp,
    /// UDP checksum.
    Udp,
}

/// What a packet asks of the transmit path (DPDK's `ol_flags` + `tx_offload`, in our terms).
///
/// The lengths describe the headers at the start of the packet. Requests are fulfilled by the
/// NIC when the port has the offload, else in software by [`crate::offload`] before the packet
/// is handed to the driver, with byte-identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TxOffload {
    /// Ethernet header length (14, or 18 with a VLAN tag).
    pub l2_len: u8,
    /// IPv4 header length (20..=60).
    pub l3_len: u8,
    /// TCP header length (with options) when TSO is requested; otherwise may be 0.
    pub l4_len: u8,
    /// Fill the IPv4 header checksum.
    pub ipv4_checksum: bool,
    /// Fill this L4 checksum. The field must hold the pseudo-header sum
    /// ([`burst_wire::ChecksumMode::Offload`]), as DPDK requires.
    pub l4_checksum: Option<L4Checksum>,
    /// TCP segmentation: the maximum payload per segment (0 = no segmentation). The TCP
    /// checksum field must hold the pseudo-header sum *without* the length (DPDK's rule).
    pub tso_segsz: u16,
}

impl TxOffload {
    /// Whether anything is requested.
    pub fn is_empty(&self) -> bool {
        !self.ipv4_checksum && self.l4_checksum.is_none() && self.tso_segsz == 0
    }
}

/// A receive checksum verdict from the NIC (or from software verification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumStatus {
    /// Not checked: the stack verifies in software.
    #[default]
    Unknown,
    /// Checked and correct.
    Good,
    /// Checked and wrong.
    Bad,
}

/// The NIC's classification of a received packet, where it provides one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PacketType {
    /// Not classified.
    #[default]
    Unknown,
    /// ARP.
    Arp,
    /// IPv4 with TCP.
    Ipv4Tcp,
    /// IPv4 with UDP.
    Ipv4Udp,
    /// IPv4 with something else (or a fragment).
    Ipv4Other,
    /// Anything else the NIC recognised.
    Other,
}

/// What the receive path learned about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RxMeta {
    /// The RSS hash, if the port computed one.
    pub rss_hash: Option<u32>,
    /// IPv4 header checksum verdict.
    pub ip_checksum: ChecksumStatus,
    /// TCP/UDP checksum verdict.
    pub l4_checksum: ChecksumStatus,
    /// Packet classification.
    pub packet_type: PacketType,
}

/// A packet buffer that owns its memory and returns it to its pool when dropped.
///
/// A buffer may be a chain of segments (jumbo frames, TSO super-segments, reassembly); `data`
/// is the first segment, [`PacketBuf::segments`] walks all of them, [`PacketBuf::pkt_len`] is
/// the total. Headers are prepended into the first segment's headroom.
pub trait PacketBuf: Sized + Send + fmt::Debug {
    /// The first segment's bytes.
    fn data(&self) -> &[u8];
    /// The first segment's bytes, mutable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Total length over all segments.
    fn pkt_len(&self) -> usize;
    /// Number of segments.
    fn nb_segs(&self) -> usize;
    /// Bytes free before the first segment's data.
    fn headroom(&self) -> usize;
    /// Bytes free after the last segment's data.
    fn tailroom(&self) -> usize;
    /// Grows the packet at the front by `n` bytes (into the headroom) and returns them.
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]>;
    /// Grows the packet at the end by `n` bytes (into the last segment's tailroom) and returns
    /// them.
    fn append(&mut self, n: usize) -> Option<&mut [u8]>;
    /// Removes `n` bytes from the front of the first segment.
    fn adj(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the end of the last segment.
    fn trim(&mut self, n: usize) -> bool;
    /// Iterator over the segments' bytes.
    type Segments<'a>: Iterator<Item = &'a [u8]>
    where
        Self: 'a;
    /// The segments' bytes, in order.
    fn segments(&self) -> Self::Segments<'_>;
    /// Appends `tail` (and its segments) to this chain; gives it back if the chain would be
    /// too long for the backend.
    fn chain(&mut self, tail: Self) -> Result<(), Self>;
    /// The transmit offload request.
    fn tx_offload(&self) -> TxOffload;
    /// Sets the transmit offload request.
    fn set_tx_offload(&mut self, o: TxOffload);
    /// What the receive path learned.
    fn rx_meta(&self) -> RxMeta;
    /// Records receive metadata (backends and software verification use this).
    fn set_rx_meta(&mut self, m: RxMeta);

    /// Copies the whole chain into `out` (at least `pkt_len` long); returns the length.
    fn copy_to(&self, out: &mut [u8]) -> usize {
        let mut at = 0;
        for s in self.segments() {
            out[at..at + s.len()].copy_from_slice(s);
            at += s.len();
        }
        at
    }
}
