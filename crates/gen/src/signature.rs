//! The signature every generated packet carries at the start of its L4 payload, so any core of
//! any generator receiving it can tell which stream and which of its cores sent it, its place in
//! that sequence and when it left:
//!
//! ```text
//!  0      1      2             4                           8                              16
//! +------+------+-------------+---------------------------+------------------------------+
//! | 0xB5 | core | stream (BE) | sequence (BE, per core)   | TX timestamp (BE, ticks)     |
//! +------+------+-------------+---------------------------+------------------------------+
//! ```
//!
//! The timestamp is the sending core's clock in ticks (the TSC on DPDK, nanoseconds on the
//! in-memory wire); the receiver is the same process, so the clocks agree. All fields start at
//! even offsets from the L4 header, so the checksum is patched word by word (RFC 1624).
//! The magic byte, a stream id below the stream count and a core below the core count are
//! checked; anything else received is counted as `rx_other`.

/// Signature length in bytes.
pub const LEN: usize = 16;
/// The first byte of every signature.
pub const MAGIC: u8 = 0xB5;

/// Offsets within the signature.
pub(crate) const CORE: usize = 1;
pub(crate) const STREAM: usize = 2;
pub(crate) const SEQ: usize = 4;
pub(crate) const TS: usize = 8;

/// What a received signature says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// The sending core.
    pub core: u8,
    /// The stream.
    pub stream: u16,
    /// Sequence number within (stream, core), from 0.
    pub seq: u32,
    /// Send time in the sender's ticks.
    pub ts: u64,
}

impl Signature {
    /// Writes the constant part (magic, core, stream) of a template's signature; sequence and
    /// timestamp stay zero.
    pub fn write_header(b: &mut [u8], core: u8, stream: u16) {
        b[0] = MAGIC;
        b[CORE] = core;
        b[STREAM..STREAM + 2].copy_from_slice(&stream.to_be_bytes());
        b[SEQ..LEN].fill(0);
    }

    /// Reads a signature from `b` (at least [`LEN`] bytes), if the magic byte is there.
    #[inline]
    pub fn read(b: &[u8]) -> Option<Signature> {
        if b.len() < LEN || b[0] != MAGIC {
            return None;
        }
        Some(Signature {
            core: b[CORE],
            stream: u16::from_be_bytes([b[STREAM], b[STREAM + 1]]),
            seq: u32::from_be_bytes([b[SEQ], b[SEQ + 1], b[SEQ + 2], b[SEQ + 3]]),
            ts: u64::from_be_bytes([
                b[TS],
                b[TS + 1],
                b[TS + 2],
                b[TS + 3],
                b[TS + 4],
                b[TS + 5],
                b[TS + 6],
                b[TS + 7],
            ]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = [0xa5u8; LEN];
        Signature::write_header(&mut b, 3, 0x1234);
        b[SEQ..SEQ + 4].copy_from_slice(&7u32.to_be_bytes());
        b[TS..TS + 8].copy_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
        assert_eq!(
            Signature::read(&b),
            Some(Signature {
                core: 3,
                stream: 0x1234,
                seq: 7,
                ts: 0x0102_0304_0506_0708
            })
        );
        b[0] = 0;
        assert_eq!(Signature::read(&b), None);
        assert_eq!(Signature::read(&b[..LEN - 1]), None);
    }
}
