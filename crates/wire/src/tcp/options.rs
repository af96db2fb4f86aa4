//! TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018): parsing, iteration and building.

use core::fmt;

use super::{HEADER_LEN, MAX_OPTIONS_LEN};
use crate::option_bytes::OptionBytes;
use crate::{be16, be32, put16, put32, Error, Layer, Result};

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

/// Whether `raw` is made only of the 4-byte-aligned forms Linux and burst send (`MSS`,
/// `NOP NOP SACK_PERM`, `NOP WS`, `NOP NOP TS`, `SACK_PERM TS`, `NOP NOP SACK`): each of them
/// is well-formed, so the option walk that would find no error can be skipped. Anything else
/// (`false`) takes the walk.
#[inline]
fn common_layout(raw: &[u8]) -> bool {
    let mut rest = raw;
    while let Some((w, after)) = rest.split_first_chunk::<4>() {
        rest = match *w {
            [kind::MSS, 4, _, _] | [kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2] => after,
            [kind::NOP, kind::WINDOW_SCALE, 3, _] => after,
            [kind::NOP, kind::NOP, kind::TIMESTAMP, 10]
            | [kind::SACK_PERMITTED, 2, kind::TIMESTAMP, 10]
                if after.len() >= 8 =>
            {
                &after[8..]
            }
            [kind::NOP, kind::NOP, kind::SACK, len @ (10 | 18 | 26 | 34)]
                if after.len() >= usize::from(len) - 2 =>
            {
                &after[usize::from(len) - 2..]
            }
            _ => return false,
        };
    }
    rest.is_empty()
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
pub struct Options(pub(super) OptionBytes);

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
        if raw.is_empty() {
            return Ok(Options::EMPTY);
        }
        if !common_layout(raw) {
            for o in OptionsIter::new(raw) {
                o?;
            }
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
        // Written as the 4-byte words of those forms: one SYN and one SYN-ACK per
        // connection, and the option-by-option `put`s were a visible part of its cost.
        let mut b = [0u8; crate::option_bytes::CAPACITY];
        let [hi, lo] = mss.to_be_bytes();
        b[..4].copy_from_slice(&[kind::MSS, 4, hi, lo]);
        let mut n = 4;
        match (timestamp, sack_permitted) {
            (Some((tsval, tsecr)), sack) => {
                let head = if sack {
                    [kind::SACK_PERMITTED, 2, kind::TIMESTAMP, 10]
                } else {
                    [kind::NOP, kind::NOP, kind::TIMESTAMP, 10]
                };
                b[4..8].copy_from_slice(&head);
                b[8..12].copy_from_slice(&tsval.to_be_bytes());
                b[12..16].copy_from_slice(&tsecr.to_be_bytes());
                n = 16;
            }
            (None, true) => {
                b[4..8].copy_from_slice(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]);
                n = 8;
            }
            (None, false) => {}
        }
        if let Some(ws) = window_scale {
            b[n..n + 4].copy_from_slice(&[kind::NOP, kind::WINDOW_SCALE, 3, ws]);
            n += 4;
        }
        Options(OptionBytes::from_array(b, n))
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
