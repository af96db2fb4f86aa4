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

use core::fmt;
use core::net::Ipv4Addr;
use core::ops;

use crate::ipv4::Protocol;
use crate::option_bytes::{self, OptionBytes};
use crate::{
    be16, be32, checksum, put16, put32, ChecksumCheck, ChecksumMode, Error, Layer, Result,
};

/// Minimum header length (data offset 5).
pub const HEADER_LEN: usize = 20;
/// Maximum option bytes (data offset 15 → 60-byte header).
pub const MAX_OPTIONS_LEN: usize = option_bytes::CAPACITY;
/// Maximum header length.
pub const MAX_HEADER_LEN: usize = HEADER_LEN + MAX_OPTIONS_LEN;

// ---------------------------------------------------------------------------------------------
// Sequence numbers
// ---------------------------------------------------------------------------------------------

/// A TCP sequence number, compared modulo 2^32 (RFC 9293 §3.4).
///
/// `a < b` means `b` is ahead of `a` by less than 2^31, i.e. `(b - a) as i32 > 0`. Numbers
/// exactly 2^31 apart are incomparable (`partial_cmp` is `None`, every comparison is false), so
/// the order is antisymmetric; it is not transitive over spans of 2^31 or more, which the
/// engine's windows never reach.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The signed distance from `other` to `self` (positive when `self` is ahead).
    #[inline]
    pub const fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// The later of the two (`self` when incomparable).
    #[inline]
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if other > self {
            other
        } else {
            self
        }
    }

    /// The earlier of the two (`self` when incomparable).
    #[inline]
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if other < self {
            other
        } else {
            self
        }
    }
}

impl PartialOrd for SeqNumber {
    #[inline]
    fn partial_cmp(&self, other: &SeqNumber) -> Option<core::cmp::Ordering> {
        match self.diff(*other) {
            i32::MIN => None,
            d => Some(d.cmp(&0)),
        }
    }
}

impl ops::Add<usize> for SeqNumber {
    type Output = SeqNumber;

    /// Advances by `n` bytes modulo 2^32 (`n` is below 2^31 in any valid use).
    #[inline]
    fn add(self, n: usize) -> SeqNumber {
        debug_assert!(n <= i32::MAX as usize, "sequence advance {n} exceeds 2^31");
        SeqNumber(self.0.wrapping_add(n as u32))
    }
}

impl ops::AddAssign<usize> for SeqNumber {
    #[inline]
    fn add_assign(&mut self, n: usize) {
        *self = *self + n;
    }
}

impl ops::Sub<usize> for SeqNumber {
    type Output = SeqNumber;

    /// Steps back by `n` bytes modulo 2^32.
    #[inline]
    fn sub(self, n: usize) -> SeqNumber {
        debug_assert!(n <= i32::MAX as usize, "sequence step {n} exceeds 2^31");
        SeqNumber(self.0.wrapping_sub(n as u32))
    }
}

impl ops::SubAssign<usize> for SeqNumber {
    #[inline]
    fn sub_assign(&mut self, n: usize) {
        *self = *self - n;
    }
}

impl ops::Sub for SeqNumber {
    type Output = i32;

    /// The signed distance `self - rhs` (see [`SeqNumber::diff`]).
    #[inline]
    fn sub(self, rhs: SeqNumber) -> i32 {
        self.diff(rhs)
    }
}

impl From<u32> for SeqNumber {
    fn from(v: u32) -> Self {
        SeqNumber(v)
    }
}

impl From<SeqNumber> for u32 {
    fn from(s: SeqNumber) -> u32 {
        s.0
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNumber({})", self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------

/// The TCP control bits: the 8 flag bits of byte 13 plus NS (RFC 3540; AccECN's AE) from
/// byte 12. The three reserved bits are kept apart (see [`Packet::reserved`]).
///
/// `Display` follows tcpdump: one letter per set flag in the order
/// `F S R P . U E W e` (FIN SYN RST PSH ACK URG ECE CWR NS), `none` when empty; so a SYN-ACK
/// prints `S.` and a pure ACK `.`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u16);

impl Flags {
    /// No more data from sender.
    pub const FIN: Flags = Flags(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: Flags = Flags(0x002);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x004);
    /// Push function.
    pub const PSH: Flags = Flags(0x008);
    /// Acknowledgment field is significant.
    pub const ACK: Flags = Flags(0x010);
    /// Urgent pointer field is significant.
    pub const URG: Flags = Flags(0x020);
    /// ECN-Echo (RFC 3168).
    pub const ECE: Flags = Flags(0x040);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: Flags = Flags(0x080);
    /// ECN nonce sum (RFC 3540, historic), the AE bit of Accurate ECN.
    pub const NS: Flags = Flags(0x100);
    /// Every bit this type holds.
    pub const ALL: Flags = Flags(0x1ff);

    /// No flags.
    pub const fn empty() -> Flags {
        Flags(0)
    }

    /// The bits (NS is bit 8, FIN bit 0).
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Flags from bits; bits above NS are dropped.
    pub const fn from_bits_truncate(bits: u16) -> Flags {
        Flags(bits & Flags::ALL.0)
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    pub const fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    /// Both sets of flags (a `const` form of `|`).
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: Flags) {
        self.0 &= !other.0;
    }

    /// Sets or clears the flags of `other`.
    pub fn set(&mut self, other: Flags, on: bool) {
        if on {
            self.insert(other)
        } else {
            self.remove(other)
        }
    }
}

impl ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl ops::BitAnd for Flags {
    type Output = Flags;
    fn bitand(self, rhs: Flags) -> Flags {
        Flags(self.0 & rhs.0)
    }
}

impl ops::BitAndAssign for Flags {
    fn bitand_assign(&mut self, rhs: Flags) {
        self.0 &= rhs.0;
    }
}

impl ops::Not for Flags {
    type Output = Flags;
    fn not(self) -> Flags {
        Flags(!self.0 & Flags::ALL.0)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        // tcpdump's tcp_flag_values order, bit 0 upwards.
        const LETTERS: [char; 9] = ['F', 'S', 'R', 'P', '.', 'U', 'E', 'W', 'e'];
        for (bit, c) in LETTERS.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                fmt::Write::write_char(f, *c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({self})")
    }
}

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
// Options
// ---------------------------------------------------------------------------------------------

/// Option kind numbers (IANA "TCP Option Kind Numbers").
mod kind {
    pub(crate) const EOL: u8 = 0;
    pub(crate) const NOP: u8 = 1;
    pub(crate) const MSS: u8 = 2;
    pub(crate) const WINDOW_SCALE: u8 = 3;
    pub(crate) const SACK_PERMITTED: u8 = 4;
    pub(crate) const SACK: u8 = 5;
    pub(crate) const TIMESTAMP: u8 = 8;
}

/// The blocks of a SACK option (RFC 2018): 1 to 4 `(left, right)` edges, first block first
/// (RFC 2018 §4: the most recently received block). Held inline, so it is `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SackBlocks {
    // Entries at and beyond `len` are kept zero, so the derived equality is by value.
    blocks: [(u32, u32); SackBlocks::MAX],
    len: u8,
}

impl SackBlocks {
    /// Most blocks one option can carry (2 + 8 × 4 = 34 bytes).
    pub const MAX: usize = 4;

    /// Blocks from a slice of 1 to 4 `(left, right)` edges; `None` otherwise.
    pub fn new(blocks: &[(u32, u32)]) -> Option<SackBlocks> {
        if blocks.is_empty() || blocks.len() > Self::MAX {
            return None;
        }
        let mut s = SackBlocks {
            blocks: [(0, 0); Self::MAX],
            len: blocks.len() as u8,
        };
        s.blocks[..blocks.len()].copy_from_slice(blocks);
        Some(s)
    }

    /// One block.
    pub const fn single(left: u32, right: u32) -> SackBlocks {
        SackBlocks {
            blocks: [(left, right), (0, 0), (0, 0), (0, 0)],
            len: 1,
        }
    }

    /// The blocks.
    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.blocks[..usize::from(self.len)]
    }

    /// Number of blocks (1..=4).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a SACK option has at least one block.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Iterates over the blocks.
    pub fn iter(&self) -> core::slice::Iter<'_, (u32, u32)> {
        self.as_slice().iter()
    }

    /// Keeps the first `n` blocks (at least one).
    pub fn truncate(&mut self, n: usize) {
        let n = n.clamp(1, self.len());
        for b in &mut self.blocks[n..] {
            *b = (0, 0);
        }
        self.len = n as u8;
    }

    /// Decodes validated option data (8 × n bytes, n in 1..=4).
    fn from_data(data: &[u8]) -> SackBlocks {
        let mut s = SackBlocks {
            blocks: [(0, 0); Self::MAX],
            len: (data.len() / 8) as u8,
        };
        for (slot, c) in s.blocks.iter_mut().zip(data.chunks_exact(8)) {
            *slot = (be32(c, 0), be32(c, 4));
        }
        s
    }

    /// Bytes the option takes on the wire.
    const fn option_len(&self) -> usize {
        2 + 8 * self.len as usize
    }
}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One TCP option, as walked by [`OptionsIter`] or pushed to an [`OptionsBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// End of option list (kind 0); what follows is padding.
    EndOfList,
    /// No operation (kind 1), used for alignment.
    NoOperation,
    /// Maximum segment size (kind 2, length 4).
    MaxSegmentSize(u16),
    /// Window scale shift count (kind 3, length 3; RFC 7323 §2). Values above 14 are passed
    /// through; RFC 7323 §2.3 has the receiver use 14 instead.
    WindowScale(u8),
    /// SACK permitted (kind 4, length 2; RFC 2018).
    SackPermitted,
    /// SACK blocks (kind 5, length 2 + 8n; RFC 2018).
    SackBlocks(SackBlocks),
    /// Timestamps (kind 8, length 10; RFC 7323 §3).
    Timestamp {
        /// Timestamp value.
        tsval: u32,
        /// Timestamp echo reply.
        tsecr: u32,
    },
    /// Any other option, skipped by its length.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data after the kind and length octets.
        data: &'a [u8],
    },
}

impl TcpOption<'_> {
    /// The option kind octet.
    pub fn kind(&self) -> u8 {
        match self {
            TcpOption::EndOfList => kind::EOL,
            TcpOption::NoOperation => kind::NOP,
            TcpOption::MaxSegmentSize(_) => kind::MSS,
            TcpOption::WindowScale(_) => kind::WINDOW_SCALE,
            TcpOption::SackPermitted => kind::SACK_PERMITTED,
            TcpOption::SackBlocks(_) => kind::SACK,
            TcpOption::Timestamp { .. } => kind::TIMESTAMP,
            TcpOption::Unknown { kind, .. } => *kind,
        }
    }

    /// Bytes the option takes on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::SackBlocks(s) => s.option_len(),
            TcpOption::Timestamp { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the start of `out` (at least [`TcpOption::wire_len`] bytes; an
    /// `Unknown` option's data is at most 253 bytes).
    fn write(&self, out: &mut [u8]) {
        let len = self.wire_len();
        out[0] = self.kind();
        if len > 1 {
            out[1] = len as u8;
        }
        match *self {
            TcpOption::EndOfList | TcpOption::NoOperation | TcpOption::SackPermitted => {}
            TcpOption::MaxSegmentSize(v) => put16(out, 2, v),
            TcpOption::WindowScale(v) => out[2] = v,
            TcpOption::SackBlocks(s) => {
                for (i, &(l, r)) in s.iter().enumerate() {
                    put32(out, 2 + 8 * i, l);
                    put32(out, 6 + 8 * i, r);
                }
            }
            TcpOption::Timestamp { tsval, tsecr } => {
                put32(out, 2, tsval);
                put32(out, 6, tsecr);
            }
            TcpOption::Unknown { data, .. } => out[2..len].copy_from_slice(data),
        }
    }
}

/// Walks TCP option bytes; yields an error and stops at a malformed option.
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
}

impl<'a> OptionsIter<'a> {
    /// Walks `bytes` (the header's option area).
    pub fn new(bytes: &'a [u8]) -> Self {
        OptionsIter { rest: bytes }
    }

    fn fail(&mut self, what: &'static str) -> Option<Result<TcpOption<'a>>> {
        self.rest = &[];
        Some(Err(Error::Malformed {
            layer: Layer::TcpOption,
            what,
        }))
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&k, after) = self.rest.split_first()?;
        match k {
            kind::EOL => {
                // Everything after End of List is padding (RFC 9293 §3.2).
                self.rest = &[];
                return Some(Ok(TcpOption::EndOfList));
            }
            kind::NOP => {
                self.rest = after;
                return Some(Ok(TcpOption::NoOperation));
            }
            _ => {}
        }
        let Some(&len) = after.first() else {
            return self.fail("option length missing");
        };
        let len = usize::from(len);
        if len < 2 {
            return self.fail("option length below 2");
        }
        if len > self.rest.len() {
            return self.fail("option overruns the header");
        }
        let data = &self.rest[2..len];
        let opt = match k {
            kind::MSS if len == 4 => TcpOption::MaxSegmentSize(be16(data, 0)),
            kind::MSS => return self.fail("MSS option length is not 4"),
            kind::WINDOW_SCALE if len == 3 => TcpOption::WindowScale(data[0]),
            kind::WINDOW_SCALE => return self.fail("window scale option length is not 3"),
            kind::SACK_PERMITTED if len == 2 => TcpOption::SackPermitted,
            kind::SACK_PERMITTED => return self.fail("SACK-permitted option length is not 2"),
            kind::SACK if matches!(len, 10 | 18 | 26 | 34) => {
                TcpOption::SackBlocks(SackBlocks::from_data(data))
            }
            kind::SACK => return self.fail("SACK option length is not 2 + 8n with n in 1..=4"),
            kind::TIMESTAMP if len == 10 => TcpOption::Timestamp {
                tsval: be32(data, 0),
                tsecr: be32(data, 4),
            },
            kind::TIMESTAMP => return self.fail("timestamp option length is not 10"),
            _ => TcpOption::Unknown { kind: k, data },
        };
        self.rest = &self.rest[len..];
        Some(Ok(opt))
    }
}

/// How [`OptionsBuilder::finish`] pads the options to a multiple of 4 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Padding {
    /// End-of-List then zeros (RFC 9293 §3.2: padding is zeros).
    #[default]
    Eol,
    /// No-operation bytes (what Linux uses in front of options, never after).
    Nop,
}

/// The option area of a header, held inline (no allocation, `Copy`) so a [`Repr`] re-emits
/// the exact bytes it parsed. Always a multiple of 4 bytes and valid when walked.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Options(OptionBytes);

impl Default for Options {
    fn default() -> Self {
        Options::EMPTY
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Options {
    /// No options.
    pub const EMPTY: Options = Options(OptionBytes::EMPTY);

    /// Takes raw option bytes (validated by walking them up to End-of-List); pads with zeros
    /// (End-of-List) to a multiple of 4.
    pub fn from_bytes(raw: &[u8]) -> Result<Options> {
        for o in OptionsIter::new(raw) {
            o?;
        }
        OptionBytes::padded(raw)
            .map(Options)
            .ok_or(Error::BadHeaderLength {
                layer: Layer::Tcp,
                value: HEADER_LEN + raw.len(),
            })
    }

    /// A builder that appends options in the order given.
    pub const fn builder() -> OptionsBuilder {
        OptionsBuilder {
            opts: Options::EMPTY,
            error: None,
        }
    }

    /// SYN (or SYN-ACK) options in Linux's layout (`tcp_options_write`): MSS; then SACK-permitted
    /// merged in front of the timestamps (`SACK_PERM TS`), or `NOP NOP TS`, or
    /// `NOP NOP SACK_PERM`; then `NOP WS`. Every form is a multiple of 4 (at most 20 bytes).
    pub fn syn(
        mss: u16,
        window_scale: Option<u8>,
        sack_permitted: bool,
        timestamp: Option<(u32, u32)>,
    ) -> Options {
        let mut o = Options::EMPTY;
        o.put(&TcpOption::MaxSegmentSize(mss));
        match (timestamp, sack_permitted) {
            (Some((tsval, tsecr)), sack) => {
                if sack {
                    o.put(&TcpOption::SackPermitted);
                } else {
                    o.put(&TcpOption::NoOperation);
                    o.put(&TcpOption::NoOperation);
                }
                o.put(&TcpOption::Timestamp { tsval, tsecr });
            }
            (None, true) => {
                o.put(&TcpOption::NoOperation);
                o.put(&TcpOption::NoOperation);
                o.put(&TcpOption::SackPermitted);
            }
            (None, false) => {}
        }
        if let Some(ws) = window_scale {
            o.put(&TcpOption::NoOperation);
            o.put(&TcpOption::WindowScale(ws));
        }
        o
    }

    /// Options of a synchronized-state segment in Linux's layout: `NOP NOP TS`, then
    /// `NOP NOP SACK`. SACK blocks that do not fit are dropped from the end (with timestamps
    /// only 3 fit), as Linux does; the first block (the most recent, RFC 2018 §4) is kept.
    pub fn ack(timestamp: Option<(u32, u32)>, sack: Option<SackBlocks>) -> Options {
        let mut o = Options::EMPTY;
        if let Some((tsval, tsecr)) = timestamp {
            o.put(&TcpOption::NoOperation);
            o.put(&TcpOption::NoOperation);
            o.put(&TcpOption::Timestamp { tsval, tsecr });
        }
        if let Some(mut s) = sack {
            s.truncate((MAX_OPTIONS_LEN - o.len() - 4) / 8);
            o.put(&TcpOption::NoOperation);
            o.put(&TcpOption::NoOperation);
            o.put(&TcpOption::SackBlocks(s));
        }
        o
    }

    /// Appends an option if it fits (callers guarantee validity); returns whether it did.
    fn put(&mut self, opt: &TcpOption<'_>) -> bool {
        match self.0.append(opt.wire_len()) {
            Some(b) => {
                opt.write(b);
                true
            }
            None => false,
        }
    }

    /// Option bytes including padding.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes (a multiple of 4 once finished).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no options.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// Walks the options (never yields an error: they were validated on construction).
    pub fn iter(&self) -> OptionsIter<'_> {
        OptionsIter::new(self.as_bytes())
    }

    /// The first option matching `f`.
    fn find<R>(&self, f: impl FnMut(TcpOption<'_>) -> Option<R>) -> Option<R> {
        self.iter().filter_map(|o| o.ok()).find_map(f)
    }

    /// The maximum segment size, if present.
    pub fn mss(&self) -> Option<u16> {
        self.find(|o| match o {
            TcpOption::MaxSegmentSize(v) => Some(v),
            _ => None,
        })
    }

    /// The window scale shift count as sent (the engine clamps it to 14), if present.
    pub fn window_scale(&self) -> Option<u8> {
        self.find(|o| match o {
            TcpOption::WindowScale(v) => Some(v),
            _ => None,
        })
    }

    /// Whether SACK-permitted is present.
    pub fn sack_permitted(&self) -> bool {
        self.find(|o| matches!(o, TcpOption::SackPermitted).then_some(()))
            .is_some()
    }

    /// The SACK blocks, if present.
    pub fn sack_blocks(&self) -> Option<SackBlocks> {
        self.find(|o| match o {
            TcpOption::SackBlocks(s) => Some(s),
            _ => None,
        })
    }

    /// The timestamps `(tsval, tsecr)`, if present.
    pub fn timestamp(&self) -> Option<(u32, u32)> {
        let b = self.0.as_bytes();
        // Fast path for the layout RFC 7323 Appendix A recommends and Linux sends on every
        // synchronized segment: NOP NOP TS first.
        if b.len() >= 12 && b[..4] == [kind::NOP, kind::NOP, kind::TIMESTAMP, 10] {
            return Some((be32(b, 4), be32(b, 8)));
        }
        self.find(|o| match o {
            TcpOption::Timestamp { tsval, tsecr } => Some((tsval, tsecr)),
            _ => None,
        })
    }
}

/// Builds an [`Options`] from options in the caller's order; errors (no room, a malformed
/// `Unknown`) are kept and reported by [`OptionsBuilder::finish`], so calls chain.
#[derive(Debug, Clone, Copy)]
pub struct OptionsBuilder {
    opts: Options,
    error: Option<Error>,
}

impl OptionsBuilder {
    /// Appends an option.
    pub fn push(mut self, opt: TcpOption<'_>) -> Self {
        if self.error.is_some() {
            return self;
        }
        if let TcpOption::Unknown { kind: k, .. } = opt {
            if k == kind::EOL || k == kind::NOP {
                self.error = Some(Error::Malformed {
                    layer: Layer::TcpOption,
                    what: "option of kind 0 or 1 with a length",
                });
                return self;
            }
        }
        if !self.opts.put(&opt) {
            self.error = Some(Error::BadHeaderLength {
                layer: Layer::Tcp,
                value: HEADER_LEN + self.opts.len() + opt.wire_len(),
            });
        }
        self
    }

    /// Appends a No-Operation.
    pub fn nop(self) -> Self {
        self.push(TcpOption::NoOperation)
    }

    /// Appends an End-of-List (later options are then padding to a receiver).
    pub fn eol(self) -> Self {
        self.push(TcpOption::EndOfList)
    }

    /// Appends a maximum segment size.
    pub fn mss(self, mss: u16) -> Self {
        self.push(TcpOption::MaxSegmentSize(mss))
    }

    /// Appends a window scale shift count.
    pub fn window_scale(self, shift: u8) -> Self {
        self.push(TcpOption::WindowScale(shift))
    }

    /// Appends SACK-permitted.
    pub fn sack_permitted(self) -> Self {
        self.push(TcpOption::SackPermitted)
    }

    /// Appends SACK blocks.
    pub fn sack(self, blocks: SackBlocks) -> Self {
        self.push(TcpOption::SackBlocks(blocks))
    }

    /// Appends timestamps.
    pub fn timestamp(self, tsval: u32, tsecr: u32) -> Self {
        self.push(TcpOption::Timestamp { tsval, tsecr })
    }

    /// Bytes appended so far (before padding).
    pub fn len(&self) -> usize {
        self.opts.len()
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.opts.is_empty()
    }

    /// Pads to a multiple of 4 and returns the options, or the first error met.
    pub fn finish(self, padding: Padding) -> Result<Options> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut o = self.opts;
        o.0.pad(match padding {
            Padding::Eol => kind::EOL,
            Padding::Nop => kind::NOP,
        });
        Ok(o)
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
mod tests {
    use super::*;
    use std::format;
    use std::vec::Vec;

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);

    /// Emits `r` with `payload` on a 0xa5 buffer; returns the segment bytes.
    fn emit(r: &Repr, payload: &[u8], mode: ChecksumMode) -> Vec<u8> {
        assert_eq!(r.payload_len, payload.len());
        let mut buf = std::vec![0xa5u8; r.buffer_len()];
        buf[r.header_len()..].copy_from_slice(payload);
        r.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, DST, mode);
        buf
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        s.chunks(2)
            .map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect()
    }

    fn malformed(what: &'static str) -> Error {
        Error::Malformed {
            layer: Layer::TcpOption,
            what,
        }
    }

    #[test]
    fn seq_numbers_wrap() {
        let a = SeqNumber(0xffff_fff0);
        let b = a + 0x20;
        assert_eq!(b, SeqNumber(0x10));
        assert_eq!(
            [a < b, a <= b, b > a, b >= a, b < a],
            [true, true, true, true, false]
        );
        assert_eq!(b - a, 0x20);
        assert_eq!(a - b, -0x20);
        assert_eq!(b - 0x20, a);
        let mut c = a;
        c += 0x10;
        assert_eq!(c, SeqNumber(0));
        c -= 1;
        assert_eq!(c, SeqNumber(u32::MAX));
        assert_eq!(a.max(b), b);
        assert_eq!(b.min(a), a);
        assert!(SeqNumber(5) <= SeqNumber(5) && SeqNumber(5) >= SeqNumber(5));
        // Just under half the space apart is still ordered; exactly half is incomparable.
        let far = SeqNumber(0) + 0x7fff_ffff;
        assert!(SeqNumber(0) < far && far > SeqNumber(0));
        let half = SeqNumber(0x8000_0000);
        assert_eq!(SeqNumber(0).partial_cmp(&half), None);
        let z = SeqNumber(0);
        assert_eq!(
            [z < half, z <= half, z > half, z >= half, half < z],
            [false; 5]
        );
        assert_eq!(format!("{} {:?}", b, b), "16 SeqNumber(16)");
        assert_eq!(u32::from(SeqNumber::from(7)), 7);
    }

    #[test]
    fn flags_print_like_tcpdump() {
        let cases = [
            (Flags::SYN, "S"),
            (Flags::SYN | Flags::ACK, "S."),
            (Flags::ACK, "."),
            (Flags::PSH | Flags::ACK, "P."),
            (Flags::FIN | Flags::ACK, "F."),
            (Flags::RST, "R"),
            (Flags::RST | Flags::ACK, "R."),
            (Flags::SYN | Flags::ECE | Flags::CWR, "SEW"),
            (Flags::URG | Flags::ACK | Flags::NS, ".Ue"),
            (Flags::empty(), "none"),
        ];
        for (f, s) in cases {
            assert_eq!(format!("{f}"), s);
        }
        assert_eq!(format!("{:?}", Flags::SYN), "Flags(S)");
        let mut f = Flags::SYN.union(Flags::ACK);
        assert!(f.contains(Flags::SYN) && !f.contains(Flags::SYN | Flags::FIN));
        assert!(f.intersects(Flags::SYN | Flags::FIN));
        f.set(Flags::SYN, false);
        f.insert(Flags::FIN);
        f.remove(Flags::ACK);
        assert_eq!(f, Flags::FIN);
        f |= Flags::ACK;
        f &= !Flags::FIN;
        assert_eq!(f & Flags::ALL, Flags::ACK);
        assert_eq!(Flags::from_bits_truncate(0xffff).bits(), 0x1ff);
        assert!(Flags::empty().is_empty());
    }

    /// Seed 001, first capture: a SYN with MSS, NOP, WS 5, NOP, NOP, TS, NOP, NOP,
    /// SACK-permitted and a data offset of 44 bytes.
    #[test]
    fn seed_syn_with_data_offset_44() {
        let options = Options::builder()
            .mss(1460)
            .nop()
            .window_scale(5)
            .nop()
            .nop()
            .timestamp(2525186, 0)
            .nop()
            .nop()
            .sack_permitted()
            .finish(Padding::Eol)
            .unwrap();
        let r = Repr {
            src_port: 1217,
            dst_port: 139,
            seq: SeqNumber(725163),
            flags: Flags::SYN,
            window: 65535,
            options,
            ..Repr::default()
        };
        assert_eq!(r.header_len(), 44);
        assert_eq!(r.segment_len(), 1);
        let buf = emit(&r, &[], ChecksumMode::Compute);
        assert_eq!(
            &buf[..16],
            &hex("04c1 008b 000b 10ab 0000 0000 b002 ffff")[..]
        );
        assert_eq!(&buf[18..20], &[0, 0]);
        assert_eq!(
            &buf[20..],
            &hex("0204 05b4 0103 0305 0101 080a 0026 8802 0000 0000 0101 0402")[..]
        );
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.header_len(), 44);
        let got = Repr::parse(&p, SRC, DST, ChecksumCheck::Verify).unwrap();
        assert_eq!(got, r);
        assert_eq!(got.ack(), None);
        assert_eq!(got.options.mss(), Some(1460));
        assert_eq!(got.options.window_scale(), Some(5));
        assert!(got.options.sack_permitted());
        assert_eq!(got.options.timestamp(), Some((2525186, 0)));
        assert_eq!(got.options.sack_blocks(), None);
    }

    /// Seed 001, second capture: an ACK with NOP NOP TS NOP NOP SACK (one block), ack
    /// 54857341, data offset 44.
    #[test]
    fn seed_ack_with_one_sack_block() {
        let sack = SackBlocks::single(54858789, 54861685);
        let mut r = Repr {
            src_port: 1242,
            dst_port: 139,
            seq: SeqNumber(925104),
            window: 32722,
            options: Options::ack(Some((2525186, 1823192)), Some(sack)),
            ..Repr::default()
        };
        r.set_ack(Some(SeqNumber(54857341)));
        assert_eq!(r.flags, Flags::ACK);
        assert_eq!(r.header_len(), 44);
        let buf = emit(&r, &[], ChecksumMode::Compute);
        assert_eq!(&buf[8..14], &hex("0345 0e7d b010"));
        assert_eq!(
            &buf[20..],
            &hex("0101 080a 0026 8802 001b d1d8 0101 050a 0345 1425 0345 1f75")[..]
        );
        let got = Repr::parse(
            &Packet::new_checked(&buf[..]).unwrap(),
            SRC,
            DST,
            ChecksumCheck::Verify,
        )
        .unwrap();
        assert_eq!(got, r);
        assert_eq!(got.ack(), Some(SeqNumber(54857341)));
        assert_eq!(got.options.sack_blocks(), Some(sack));
        assert_eq!(
            got.options.sack_blocks().unwrap().as_slice(),
            &[(54858789, 54861685)]
        );
        assert_eq!(got.options.timestamp(), Some((2525186, 1823192)));
        let items: Vec<_> = got.options.iter().map(Result::unwrap).collect();
        assert_eq!(
            items,
            [
                TcpOption::NoOperation,
                TcpOption::NoOperation,
                TcpOption::Timestamp {
                    tsval: 2525186,
                    tsecr: 1823192
                },
                TcpOption::NoOperation,
                TcpOption::NoOperation,
                TcpOption::SackBlocks(sack),
            ]
        );
    }

    /// Segments from public tcpdump captures of Linux hosts (IPv4 src, dst, TCP bytes).
    /// tcpdump reported these checksums as correct; they are not from the seeds.
    fn linux_captures() -> [(Ipv4Addr, Ipv4Addr, Vec<u8>); 5] {
        [
            // SYN: mss 1460, sackOK, TS val 949598155 ecr 0, nop, wscale 7.
            (
                Ipv4Addr::new(188, 188, 3, 240),
                Ipv4Addr::new(112, 65, 227, 148),
                hex("15e4 0050 930a bbdf 0000 0000 a002 3908 a4f2 0000
                     0204 05b4 0402 080a 3899 b7cb 0000 0000 0103 0307"),
            ),
            // ACK: nop, nop, TS, nop, nop, sack 1 {1:139}.
            (
                Ipv4Addr::new(10, 99, 0, 1),
                Ipv4Addr::new(10, 99, 0, 2),
                hex("e712 1f40 67a1 5f1e 2d70 c7d0 b010 0809 51f0 0000
                     0101 080a 061c 0477 9dac 7d95 0101 050a 2d70 c728 2d70 c7b2"),
            ),
            // FIN-ACK: nop, nop, TS.
            (
                Ipv4Addr::new(10, 99, 0, 1),
                Ipv4Addr::new(10, 99, 0, 2),
                hex("e712 1f40 67a1 5f1e 2d70 c7d0 8011 0809 71c2 0000
                     0101 080a 061c 0477 9dac 7d95"),
            ),
            // ACK with a SACK block below the ack number (a D-SACK).
            (
                Ipv4Addr::new(192, 168, 1, 105),
                Ipv4Addr::new(63, 247, 78, 178),
                hex("da4f 0050 68aa 05bf 4d2c c33e b010 006d cd79 0000
                     0101 080a 0001 9204 a38d 5980 0101 050a 4d2c ce8e 4d2c d095"),
            ),
            // PSH-ACK with a one-byte payload (odd length for the checksum).
            (
                Ipv4Addr::new(172, 250, 10, 10),
                Ipv4Addr::new(172, 11, 105, 5),
                hex("3600 c174 56d8 c15a b8a6 63f4 8018 4510 0221 0000
                     0101 080a 2681 ea4b 045e 2200 00"),
            ),
        ]
    }

    #[test]
    fn linux_segments_verify_and_re_emit_byte_exact() {
        for (i, (src, dst, seg)) in linux_captures().into_iter().enumerate() {
            let p = Packet::new_checked(&seg[..]).unwrap();
            assert!(p.verify_checksum(src, dst), "capture {i}");
            let r = Repr::parse(&p, src, dst, ChecksumCheck::Verify).unwrap();
            let mut out = std::vec![0xa5u8; seg.len()];
            out[r.header_len()..].copy_from_slice(p.payload());
            r.emit(
                &mut Packet::new_unchecked(&mut out[..]),
                src,
                dst,
                ChecksumMode::Compute,
            );
            assert_eq!(out, seg, "capture {i}");
        }
    }

    #[test]
    fn convenience_constructors_match_linux_bytes() {
        let caps = linux_captures();
        let syn = Repr::parse(
            &Packet::new_checked(&caps[0].2[..]).unwrap(),
            caps[0].0,
            caps[0].1,
            ChecksumCheck::Verify,
        )
        .unwrap();
        assert_eq!(syn.flags, Flags::SYN);
        assert_eq!(syn.seq, SeqNumber(2466954207));
        assert_eq!(syn.window, 14600);
        assert_eq!(
            syn.options,
            Options::syn(1460, Some(7), true, Some((949598155, 0)))
        );
        let ack = Repr::parse(
            &Packet::new_checked(&caps[1].2[..]).unwrap(),
            caps[1].0,
            caps[1].1,
            ChecksumCheck::Verify,
        )
        .unwrap();
        let blocks = ack.options.sack_blocks().unwrap();
        assert_eq!(ack.ack(), Some(SeqNumber(0x2d70_c7d0)));
        assert_eq!(
            ack.options,
            Options::ack(Some((102499447, 2645327253)), Some(blocks))
        );
        let fin = Repr::parse(
            &Packet::new_checked(&caps[2].2[..]).unwrap(),
            caps[2].0,
            caps[2].1,
            ChecksumCheck::Verify,
        )
        .unwrap();
        assert_eq!(fin.flags, Flags::FIN | Flags::ACK);
        assert_eq!(fin.segment_len(), 1);
        assert_eq!(
            fin.options,
            Options::ack(Some((102499447, 2645327253)), None)
        );
    }

    #[test]
    fn syn_layouts_follow_linux() {
        let ts = Some((0x0102_0304, 0));
        let cases: [(Options, &str); 6] = [
            (
                Options::syn(1460, Some(7), true, ts),
                "0204 05b4 0402 080a 0102 0304 0000 0000 0103 0307",
            ),
            (
                Options::syn(1460, Some(7), false, ts),
                "0204 05b4 0101 080a 0102 0304 0000 0000 0103 0307",
            ),
            (
                Options::syn(1460, None, true, ts),
                "0204 05b4 0402 080a 0102 0304 0000 0000",
            ),
            (
                Options::syn(1460, Some(7), true, None),
                "0204 05b4 0101 0402 0103 0307",
            ),
            (
                Options::syn(1460, Some(0), false, None),
                "0204 05b4 0103 0300",
            ),
            (Options::syn(536, None, false, None), "0204 0218"),
        ];
        for (o, want) in cases {
            assert_eq!(o.as_bytes(), &hex(want)[..], "{want}");
            assert_eq!(Options::from_bytes(o.as_bytes()).unwrap(), o);
        }
        let o = cases[0].0;
        assert_eq!(
            (o.mss(), o.window_scale(), o.sack_permitted(), o.timestamp()),
            (Some(1460), Some(7), true, ts)
        );
    }

    #[test]
    fn ack_form_truncates_sack_blocks_to_fit() {
        let four = SackBlocks::new(&[(1, 2), (3, 4), (5, 6), (7, 8)]).unwrap();
        let with_ts = Options::ack(Some((9, 10)), Some(four));
        assert_eq!(with_ts.len(), 40);
        assert_eq!(
            with_ts.sack_blocks().unwrap().as_slice(),
            &four.as_slice()[..3]
        );
        let without = Options::ack(None, Some(four));
        assert_eq!(without.len(), 36);
        assert_eq!(without.sack_blocks(), Some(four));
        assert_eq!(&without.as_bytes()[..4], &[1, 1, 5, 34]);
        assert_eq!(Options::ack(None, None), Options::EMPTY);
        assert!(SackBlocks::new(&[]).is_none());
        assert!(SackBlocks::new(&[(0, 0); 5]).is_none());
        let mut t = four;
        t.truncate(0);
        assert_eq!(t, SackBlocks::single(1, 2));
        assert!(!t.is_empty());
        assert_eq!(format!("{t:?}"), "[(1, 2)]");
    }

    #[test]
    fn builder_pads_and_reports_overflow() {
        let eol = Options::builder()
            .mss(1460)
            .window_scale(7)
            .finish(Padding::Eol)
            .unwrap();
        assert_eq!(eol.as_bytes(), &hex("0204 05b4 0303 0700")[..]);
        let nop = Options::builder()
            .mss(1460)
            .window_scale(7)
            .finish(Padding::Nop)
            .unwrap();
        assert_eq!(nop.as_bytes(), &hex("0204 05b4 0303 0701")[..]);
        assert_eq!(nop.window_scale(), Some(7));
        let b = Options::builder().sack_permitted();
        assert_eq!((b.len(), b.is_empty()), (2, false));
        assert_eq!(
            Options::builder().finish(Padding::Eol).unwrap(),
            Options::EMPTY
        );
        let unknown = Options::builder()
            .push(TcpOption::Unknown {
                kind: 254,
                data: &[0xf9, 0x89],
            })
            .eol()
            .finish(Padding::Eol)
            .unwrap();
        assert_eq!(unknown.as_bytes(), &[254, 4, 0xf9, 0x89, 0, 0, 0, 0]);
        let four = SackBlocks::new(&[(1, 2), (3, 4), (5, 6), (7, 8)]).unwrap();
        assert_eq!(
            Options::builder()
                .timestamp(1, 2)
                .sack(four)
                .mss(1)
                .finish(Padding::Eol),
            Err(Error::BadHeaderLength {
                layer: Layer::Tcp,
                value: 64
            })
        );
        assert_eq!(
            Options::builder()
                .push(TcpOption::Unknown {
                    kind: 1,
                    data: &[1]
                })
                .finish(Padding::Nop),
            Err(malformed("option of kind 0 or 1 with a length"))
        );
    }

    #[test]
    fn every_malformed_option_is_rejected() {
        let cases: [(&[u8], &str); 16] = [
            (&[2], "option length missing"),
            (&[1, 1, 8], "option length missing"),
            (&[2, 0, 0, 0], "option length below 2"),
            (&[254, 1, 0, 0], "option length below 2"),
            (&[8, 10, 0, 0], "option overruns the header"),
            (&[254, 5, 0, 0], "option overruns the header"),
            (&[2, 3, 5, 0], "MSS option length is not 4"),
            (&[2, 5, 5, 0, 0, 0, 0, 0], "MSS option length is not 4"),
            (&[3, 4, 7, 0], "window scale option length is not 3"),
            (&[3, 2, 0, 0], "window scale option length is not 3"),
            (&[4, 3, 0, 0], "SACK-permitted option length is not 2"),
            (
                &[5, 2, 0, 0],
                "SACK option length is not 2 + 8n with n in 1..=4",
            ),
            (
                &[5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                "SACK option length is not 2 + 8n with n in 1..=4",
            ),
            (
                &[8, 8, 0, 0, 0, 0, 0, 0],
                "timestamp option length is not 10",
            ),
            (
                &[1, 1, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                "timestamp option length is not 10",
            ),
            // Five SACK blocks would need 42 bytes: more than any header holds.
            (
                &[
                    5, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
                "option overruns the header",
            ),
        ];
        for (raw, what) in cases {
            assert_eq!(Options::from_bytes(raw), Err(malformed(what)), "{raw:?}");
            // The iterator stops after the error.
            let mut it = OptionsIter::new(raw);
            assert!(it.find(Result::is_err).is_some());
            assert!(it.next().is_none());
            // And a segment carrying it does not parse (short areas would change once
            // padded, so only whole words are tried).
            if raw.len() % 4 != 0 {
                continue;
            }
            let mut seg = std::vec![0u8; HEADER_LEN + raw.len().next_multiple_of(4)];
            seg[HEADER_LEN..HEADER_LEN + raw.len()].copy_from_slice(raw);
            seg[12] = ((seg.len() / 4) as u8) << 4;
            let p = Packet::new_checked(&seg[..]).unwrap();
            assert_eq!(
                Repr::parse(&p, SRC, DST, ChecksumCheck::Trust),
                Err(malformed(what))
            );
        }
        assert_eq!(
            Options::from_bytes(&[1; 41]),
            Err(Error::BadHeaderLength {
                layer: Layer::Tcp,
                value: 61
            })
        );
    }

    #[test]
    fn unknown_options_are_skipped_and_eol_ends_the_walk() {
        // TFO cookie (34), experimental (254), then MSS, EOL, and junk after EOL.
        let raw = [34, 6, 1, 2, 3, 4, 254, 2, 2, 4, 5, 180, 0, 9, 9, 9];
        let o = Options::from_bytes(&raw).unwrap();
        let v: Vec<_> = o.iter().map(Result::unwrap).collect();
        assert_eq!(
            v,
            [
                TcpOption::Unknown {
                    kind: 34,
                    data: &[1, 2, 3, 4]
                },
                TcpOption::Unknown {
                    kind: 254,
                    data: &[]
                },
                TcpOption::MaxSegmentSize(1460),
                TcpOption::EndOfList,
            ]
        );
        assert_eq!(o.mss(), Some(1460));
        assert_eq!(o.as_bytes(), &raw);
        assert_eq!(v.iter().map(TcpOption::wire_len).sum::<usize>(), 13);
        assert_eq!(v[0].kind(), 34);
        // A short option area is padded with zeros.
        assert_eq!(
            Options::from_bytes(&[1, 1]).unwrap().as_bytes(),
            &[1, 1, 0, 0]
        );
        assert_eq!(
            format!("{:?}", Options::from_bytes(&[1, 0]).unwrap()),
            "[Ok(NoOperation), Ok(EndOfList)]"
        );
    }

    #[test]
    fn header_checks_report_what_is_wrong() {
        let r = Repr {
            src_port: 80,
            dst_port: 40000,
            flags: Flags::ACK,
            options: Options::ack(Some((1, 2)), None),
            payload_len: 4,
            ..Repr::default()
        };
        let buf = emit(&r, b"data", ChecksumMode::Compute);
        assert_eq!(
            Packet::new_checked(&buf[..19]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Tcp,
                need: 20,
                have: 19
            }
        );
        let mut small = buf.clone();
        small[12] = 0x40;
        assert_eq!(
            Packet::new_checked(&small[..]).unwrap_err(),
            Error::BadHeaderLength {
                layer: Layer::Tcp,
                value: 16
            }
        );
        let mut big = buf.clone();
        big[12] = 0xb0;
        assert_eq!(
            Packet::new_checked(&big[..]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Tcp,
                need: 44,
                have: 36
            }
        );
        let mut bad = buf.clone();
        bad[35] ^= 1;
        let p = Packet::new_checked(&bad[..]).unwrap();
        assert!(!p.verify_checksum(SRC, DST));
        assert_eq!(
            Repr::parse(&p, SRC, DST, ChecksumCheck::Verify),
            Err(Error::BadChecksum { layer: Layer::Tcp })
        );
        assert!(Repr::parse(&p, SRC, DST, ChecksumCheck::Trust).is_ok());
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload(), b"data");
        assert_eq!(p.options().len(), 12);
        assert_eq!(p.segment_len(), 4);
    }

    #[test]
    fn round_trip_on_a5_buffer_keeps_raw_fields() {
        // ACK clear but a non-zero ack field, reserved bits and NS set, URG with a pointer.
        let r = Repr {
            src_port: 0xbeef,
            dst_port: 443,
            seq: SeqNumber(0xffff_ffff),
            ack_number: SeqNumber(0x1234_5678),
            flags: Flags::SYN | Flags::URG | Flags::ECE | Flags::CWR | Flags::NS,
            reserved: 0b101,
            window: 0xfffe,
            urgent: 3,
            options: Options::syn(8960, Some(14), true, Some((1, 0))),
            payload_len: 5,
        };
        let buf = emit(&r, b"hello", ChecksumMode::Compute);
        assert_eq!(buf[12], 0xab);
        assert_eq!(buf[13], 0xe2);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(
            (p.reserved(), p.flags(), p.ack_number(), p.urgent_at()),
            (0b101, r.flags, r.ack_number, 3)
        );
        let got = Repr::parse(&p, SRC, DST, ChecksumCheck::Verify).unwrap();
        assert_eq!(got, r);
        assert_eq!(got.ack(), None);
        assert_eq!(got.segment_len(), 6);
        assert_eq!(emit(&got, b"hello", ChecksumMode::Compute), buf);
        let mut cleared = got;
        cleared.set_ack(None);
        assert_eq!(cleared.ack_number, SeqNumber(0));
    }

    #[test]
    fn setters_keep_neighbouring_bits() {
        let mut buf = [0u8; 24];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_header_len(24);
        p.set_reserved(7);
        p.set_flags(Flags::NS | Flags::FIN);
        assert_eq!(
            (p.header_len(), p.reserved(), p.flags()),
            (24, 7, Flags::NS | Flags::FIN)
        );
        p.set_flags(Flags::ACK);
        p.set_header_len(20);
        assert_eq!(
            (p.header_len(), p.reserved(), p.flags()),
            (20, 7, Flags::ACK)
        );
        p.set_reserved(0);
        assert_eq!(p.into_inner()[12..14], [0x50, 0x10]);
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.set_seq_number(SeqNumber(1));
        p.set_ack_number(SeqNumber(2));
        p.set_window_len(3);
        p.set_urgent_at(4);
        p.set_src_port(5);
        p.set_dst_port(6);
        p.payload_mut().copy_from_slice(&[7; 4]);
        assert!(p.options_mut().is_empty());
        p.fill_checksum(SRC, DST);
        assert!(p.verify_checksum(SRC, DST));
        assert_eq!(
            (
                p.seq_number(),
                p.window_len(),
                p.src_port(),
                p.dst_port(),
                p.checksum() != 0
            ),
            (SeqNumber(1), 3, 5, 6, true)
        );
    }

    #[test]
    fn checksum_matches_etherparse() {
        for len in [0usize, 1, 2, 3, 536, 1447] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 131 + 7) as u8).collect();
            let r = Repr {
                src_port: 33000,
                dst_port: 5201,
                seq: SeqNumber(0x8000_0001),
                ack_number: SeqNumber(77),
                flags: Flags::ACK | Flags::PSH,
                window: 501,
                options: Options::ack(Some((11, 22)), Some(SackBlocks::single(5, 9))),
                payload_len: len,
                ..Repr::default()
            };
            let buf = emit(&r, &payload, ChecksumMode::Compute);
            let (h, rest) = etherparse::TcpHeader::from_slice(&buf).unwrap();
            assert_eq!(rest, &payload[..]);
            let want = h
                .calc_checksum_ipv4_raw(SRC.octets(), DST.octets(), rest)
                .unwrap();
            assert_eq!(h.checksum, want, "len {len}");
        }
    }

    #[test]
    fn offload_writes_the_pseudo_header_sum() {
        let r = Repr {
            src_port: 1,
            dst_port: 2,
            flags: Flags::SYN,
            options: Options::syn(1460, Some(7), true, Some((5, 0))),
            payload_len: 3,
            ..Repr::default()
        };
        let off = emit(&r, &[1, 2, 3], ChecksumMode::Offload);
        let len = r.buffer_len() as u16;
        assert_eq!(be16(&off, 16), checksum::pseudo_header(SRC, DST, 6, len));
        // The NIC completes it by summing the segment (field included) and complementing.
        let mut nic = off.clone();
        let c = !checksum::sum(&nic);
        nic[16..18].copy_from_slice(&c.to_be_bytes());
        assert_eq!(nic, emit(&r, &[1, 2, 3], ChecksumMode::Compute));
        // The view's own method agrees, and so does a buffer longer than the segment in emit.
        let mut view = off.clone();
        Packet::new_unchecked(&mut view[..]).fill_pseudo_checksum(SRC, DST);
        assert_eq!(view, off);
        let mut long = std::vec![0xa5u8; r.buffer_len() + 7];
        long[r.header_len()..r.buffer_len()].copy_from_slice(&[1, 2, 3]);
        r.emit(
            &mut Packet::new_unchecked(&mut long[..]),
            SRC,
            DST,
            ChecksumMode::Compute,
        );
        assert_eq!(&long[..r.buffer_len()], &nic[..]);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        fn option() -> impl Strategy<Value = (u8, u32, u32)> {
            (0u8..7, any::<u32>(), any::<u32>())
        }

        proptest! {
            #[test]
            fn builder_output_walks_back_to_its_input(
                opts in proptest::collection::vec(option(), 0..8),
                nop_pad in any::<bool>(),
            ) {
                let mut b = Options::builder();
                let mut pushed = Vec::new();
                for (k, x, y) in opts {
                    let o = match k {
                        0 => TcpOption::NoOperation,
                        1 => TcpOption::MaxSegmentSize(x as u16),
                        2 => TcpOption::WindowScale(x as u8),
                        3 => TcpOption::SackPermitted,
                        4 => TcpOption::Timestamp { tsval: x, tsecr: y },
                        5 => TcpOption::SackBlocks(
                            SackBlocks::new(&[(x, y), (y, x)][..1 + (x % 2) as usize]).unwrap(),
                        ),
                        _ => TcpOption::Unknown { kind: 200 + (x % 50) as u8, data: &[7, 7, 7] },
                    };
                    if b.len() + o.wire_len() <= MAX_OPTIONS_LEN {
                        b = b.push(o);
                        pushed.push(o);
                    }
                }
                let pad = if nop_pad { Padding::Nop } else { Padding::Eol };
                let built = b.finish(pad).unwrap();
                prop_assert_eq!(built.len() % 4, 0);
                prop_assert_eq!(Options::from_bytes(built.as_bytes()).unwrap(), built);
                let walked: Vec<_> = built.iter().map(Result::unwrap).collect();
                prop_assert_eq!(&walked[..pushed.len()], &pushed[..]);
                for extra in &walked[pushed.len()..] {
                    let want = if nop_pad { TcpOption::NoOperation } else { TcpOption::EndOfList };
                    prop_assert_eq!(*extra, want);
                }
            }

            #[test]
            fn seq_order_is_antisymmetric(a in any::<u32>(), b in any::<u32>()) {
                let (a, b) = (SeqNumber(a), SeqNumber(b));
                prop_assert!(!(a < b && b < a));
                prop_assert_eq!(a < b, b > a);
                prop_assert_eq!(SeqNumber(a.0.wrapping_add((b - a) as u32)), b);
                prop_assert_eq!(a.partial_cmp(&b).is_none(), (b - a) == i32::MIN);
            }

            #[test]
            fn random_option_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..44)) {
                if let Ok(o) = Options::from_bytes(&raw) {
                    prop_assert!(o.iter().all(|x| x.is_ok()));
                    let _ = (o.mss(), o.window_scale(), o.sack_permitted(), o.sack_blocks(), o.timestamp());
                }
            }
        }
    }
}
