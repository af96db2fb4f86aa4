//! TCP (RFC 9293): segment view, sequence-number arithmetic, flags, options (RFC 9293 §3.2,
//! RFC 7323, RFC 2018) and the value `Repr`.
//!
//! [`Packet::new_checked`] validates the data offset once (at least 5 words and within the
//! buffer); afterwards no accessor panics. TCP has no length field: the view's buffer must be
//! exactly the segment (the IP payload), since the payload and the checksum run to its end.
//! Options are not walked by the view; [`Repr::parse`] and [`Options::from_bytes`] validate them
//! (RFC 9293 §3.2: a receiver must be prepared for an illegal option length).
//!
//! A [`Repr`] keeps everything the wire had (raw acknowledgment field, reserved bits, option
//! order and padding), so parse → emit reproduces a segment byte for byte.

use core::net::Ipv4Addr;

use crate::ipv4::Protocol;
use crate::option_bytes;
use crate::{
    be16, be32, checksum, put16, put32, ChecksumCheck, ChecksumMode, Error, Layer, Result,
};

/// Minimum header length (data offset 5).
pub const HEADER_LEN: usize = 20;
/// Maximum option bytes (data offset 15 → 60-byte header).
pub const MAX_OPTIONS_LEN: usize = option_bytes::CAPACITY;
/// Maximum header length.
pub const MAX_HEADER_LEN: usize = HEADER_LEN + MAX_OPTIONS_LEN;

mod flags;
mod options;
mod seq;

pub use flags::Flags;
pub use options::{Options, OptionsBuilder, OptionsIter, Padding, SackBlocks, TcpOption};
pub use seq::SeqNumber;

// ---------------------------------------------------------------------------------------------
// Segment view
// ---------------------------------------------------------------------------------------------

mod field {
    pub(crate) const SRC_PORT: usize = 0;
    pub(crate) const DST_PORT: usize = 2;
    pub(crate) const SEQ: usize = 4;
    pub(crate) const ACK: usize = 8;
    /// Data offset (high nibble), reserved (3 bits), NS (low bit).
    pub(crate) const DOFF: usize = 12;
    pub(crate) const FLAGS: usize = 13;
    pub(crate) const WINDOW: usize = 14;
    pub(crate) const CHECKSUM: usize = 16;
    pub(crate) const URGENT: usize = 18;
}

/// A zero-copy view of a TCP segment (the buffer is exactly the segment).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// The folded sum of the pseudo-header and `segment`, or `None` if it is too long for the
/// 16-bit pseudo-header length.
fn segment_sum(src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) -> Option<u16> {
    let len = u16::try_from(segment.len()).ok()?;
    let ph = checksum::pseudo_header(src, dst, Protocol::TCP.0, len);
    Some(checksum::combine(&[ph, checksum::sum(segment)]))
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer holding exactly one segment, after checking the data offset.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validates the fixed header and the data offset against the buffer.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        Error::need(Layer::Tcp, HEADER_LEN, have)?;
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(Error::BadHeaderLength {
                layer: Layer::Tcp,
                value: hl,
            });
        }
        Error::need(Layer::Tcp, hl, have)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(be32(self.buffer.as_ref(), field::SEQ))
    }

    /// The raw acknowledgment number field (significant only with [`Flags::ACK`]).
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(be32(self.buffer.as_ref(), field::ACK))
    }

    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DOFF] >> 4) * 4
    }

    /// The three reserved bits between the data offset and NS (zero from any sane sender).
    pub fn reserved(&self) -> u8 {
        (self.buffer.as_ref()[field::DOFF] >> 1) & 0x07
    }

    /// The control bits (including NS).
    pub fn flags(&self) -> Flags {
        Flags::from_bits_truncate(be16(self.buffer.as_ref(), field::DOFF))
    }

    /// The raw (unscaled) window field.
    pub fn window_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer field (significant only with [`Flags::URG`]).
    pub fn urgent_at(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT)
    }

    /// The raw option bytes (including padding); walk them with [`OptionsIter`].
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: everything after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Sequence space the segment occupies: payload length plus one each for SYN and FIN.
    pub fn segment_len(&self) -> usize {
        let f = self.flags();
        self.payload().len()
            + usize::from(f.contains(Flags::SYN))
            + usize::from(f.contains(Flags::FIN))
    }

    /// Whether the checksum verifies for this source/destination pair.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        segment_sum(src, dst, self.buffer.as_ref()) == Some(0xffff)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, v)
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, v)
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, v: SeqNumber) {
        put32(self.buffer.as_mut(), field::SEQ, v.0)
    }

    /// Sets the raw acknowledgment number field.
    pub fn set_ack_number(&mut self, v: SeqNumber) {
        put32(self.buffer.as_mut(), field::ACK, v.0)
    }

    /// Sets the data offset from a header length in bytes (a multiple of 4, 20..=60),
    /// keeping the reserved bits and NS.
    pub fn set_header_len(&mut self, header_len: usize) {
        let b = &mut self.buffer.as_mut()[field::DOFF];
        *b = (((header_len / 4) as u8) << 4) | (*b & 0x0f);
    }

    /// Sets the three reserved bits, keeping the data offset and NS.
    pub fn set_reserved(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::DOFF];
        *b = (*b & 0xf1) | ((v & 0x07) << 1);
    }

    /// Sets the control bits (NS included), keeping the data offset and reserved bits.
    pub fn set_flags(&mut self, flags: Flags) {
        let b = self.buffer.as_mut();
        b[field::DOFF] = (b[field::DOFF] & 0xfe) | (flags.0 >> 8) as u8;
        b[field::FLAGS] = flags.0 as u8;
    }

    /// Sets the raw window field.
    pub fn set_window_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::WINDOW, v)
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v)
    }

    /// Sets the urgent pointer field.
    pub fn set_urgent_at(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::URGENT, v)
    }

    /// Computes the checksum over the pseudo-header and the whole buffer (which must be
    /// exactly the segment, at most 65535 bytes).
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let len = self.buffer.as_ref().len();
        self.fill_checksum_over(src, dst, len)
    }

    /// Computes the checksum over the pseudo-header and the first `len` bytes.
    fn fill_checksum_over(&mut self, src: Ipv4Addr, dst: Ipv4Addr, len: usize) {
        self.set_checksum(0);
        let s = segment_sum(src, dst, &self.buffer.as_ref()[..len]).unwrap_or(0);
        // Unlike UDP, a computed 0 stays 0: TCP has no "no checksum" value.
        self.set_checksum(!s)
    }

    /// Writes the uncomplemented pseudo-header sum (with the buffer length) into the checksum
    /// field, which is what a NIC doing TCP checksum offload (DPDK `RTE_MBUF_F_TX_TCP_CKSUM`,
    /// `rte_ipv4_phdr_cksum`) completes. For TSO, DPDK wants the sum with a zero length
    /// instead: write `checksum::pseudo_header(src, dst, 6, 0)` with [`Packet::set_checksum`].
    pub fn fill_pseudo_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let len = self.buffer.as_ref().len();
        self.fill_pseudo_checksum_over(src, dst, len)
    }

    fn fill_pseudo_checksum_over(&mut self, src: Ipv4Addr, dst: Ipv4Addr, len: usize) {
        let ph = checksum::pseudo_header(src, dst, Protocol::TCP.0, len as u16);
        self.set_checksum(ph)
    }

    /// The raw option bytes, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..hl]
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

// ---------------------------------------------------------------------------------------------
// Repr
// ---------------------------------------------------------------------------------------------

/// The value of a TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: SeqNumber,
    /// The raw acknowledgment field, kept when ACK is clear so re-emit is byte-exact; read it
    /// through [`Repr::ack`].
    pub ack_number: SeqNumber,
    /// Control bits.
    pub flags: Flags,
    /// The three reserved bits (zero on send, ignored on receive; kept for re-emit).
    pub reserved: u8,
    /// The raw window field (unscaled; scaling is the engine's job).
    pub window: u16,
    /// The urgent pointer field.
    pub urgent: u16,
    /// Options, as raw validated bytes.
    pub options: Options,
    /// Payload length in bytes.
    pub payload_len: usize,
}

impl Repr {
    /// The acknowledgment number, present iff the ACK flag is set.
    pub fn ack(&self) -> Option<SeqNumber> {
        self.flags.contains(Flags::ACK).then_some(self.ack_number)
    }

    /// Sets the acknowledgment number and the ACK flag together (`None` clears the flag and
    /// zeroes the field, as RFC 9293 senders do).
    pub fn set_ack(&mut self, ack: Option<SeqNumber>) {
        self.flags.set(Flags::ACK, ack.is_some());
        self.ack_number = ack.unwrap_or_default();
    }

    /// Reads a checked segment, validating options and (optionally) the checksum.
    pub fn parse<T: AsRef<[u8]>>(
        p: &Packet<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        check: ChecksumCheck,
    ) -> Result<Repr> {
        p.check_len()?;
        if check == ChecksumCheck::Verify && !p.verify_checksum(src, dst) {
            return Err(Error::BadChecksum { layer: Layer::Tcp });
        }
        Ok(Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq_number(),
            ack_number: p.ack_number(),
            flags: p.flags(),
            reserved: p.reserved(),
            window: p.window_len(),
            urgent: p.urgent_at(),
            options: Options::from_bytes(p.options())?,
            payload_len: p.payload().len(),
        })
    }

    /// Header length (20 plus options).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN + self.options.0.len()
    }

    /// Header plus payload.
    pub const fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Sequence space the segment occupies: payload plus one each for SYN and FIN.
    pub const fn segment_len(&self) -> usize {
        self.payload_len
            + self.flags.contains(Flags::SYN) as usize
            + self.flags.contains(Flags::FIN) as usize
    }

    /// Writes the header into a buffer of at least [`Repr::buffer_len`] bytes whose payload is
    /// already in place. The checksum covers exactly `buffer_len` bytes (a longer buffer is
    /// fine); [`ChecksumMode::Offload`] writes the pseudo-header sum for the NIC.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        p: &mut Packet<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        mode: ChecksumMode,
    ) {
        let hl = self.header_len();
        let len = self.buffer_len();
        debug_assert!(len <= usize::from(u16::MAX));
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq);
        p.set_ack_number(self.ack_number);
        {
            let b = p.buffer.as_mut();
            b[field::DOFF] =
                (((hl / 4) as u8) << 4) | ((self.reserved & 0x07) << 1) | (self.flags.0 >> 8) as u8;
            b[field::FLAGS] = self.flags.0 as u8;
            b[HEADER_LEN..hl].copy_from_slice(self.options.as_bytes());
        }
        p.set_window_len(self.window);
        p.set_urgent_at(self.urgent);
        match mode {
            ChecksumMode::Compute => p.fill_checksum_over(src, dst, len),
            ChecksumMode::Offload => p.fill_pseudo_checksum_over(src, dst, len),
        }
    }
}

#[cfg(test)]
mod tests;
