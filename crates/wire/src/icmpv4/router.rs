//! Router advertisement entries (RFC 1256).

use core::fmt;
use core::net::Ipv4Addr;

use super::*;
use crate::{Error, Layer, Result};

/// Bytes taken by `num_addrs` entries of `entry_size` 32-bit words.
pub(super) fn entries_len(num_addrs: u8, entry_size: u8) -> usize {
    usize::from(num_addrs) * usize::from(entry_size) * 4
}

/// The (router address, preference level) entries of a router advertisement, borrowed.
///
/// Holds the raw entry bytes and the entry size, so entries wider than 2 words re-emit as they
/// were; iteration reads the first two words of each entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouterEntries<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) entry_size: u8,
}

impl<'a> RouterEntries<'a> {
    /// Takes raw entry bytes of `entry_size` words each (at least 2; 1 to 255 entries).
    pub fn new(bytes: &'a [u8], entry_size: u8) -> Result<Self> {
        if entry_size < MIN_ROUTER_ENTRY_WORDS {
            return Err(Error::Malformed {
                layer: Layer::Icmpv4,
                what: "router advertisement address entry size below 2",
            });
        }
        let width = usize::from(entry_size) * 4;
        if bytes.is_empty() || bytes.len() % width != 0 || bytes.len() / width > 255 {
            return Err(Error::BadLength {
                layer: Layer::Icmpv4,
                value: bytes.len(),
            });
        }
        Ok(RouterEntries { bytes, entry_size })
    }

    /// Writes `entries` with the RFC 1256 entry size of 2 into the start of `buf` and returns
    /// them, ready for [`Repr::RouterAdvertisement`].
    pub fn encode(buf: &'a mut [u8], entries: &[(Ipv4Addr, i32)]) -> Result<Self> {
        let len = entries.len() * 8;
        Error::need(Layer::Icmpv4, len, buf.len())?;
        for (chunk, (addr, pref)) in buf.chunks_exact_mut(8).zip(entries) {
            chunk[..4].copy_from_slice(&addr.octets());
            chunk[4..].copy_from_slice(&pref.to_be_bytes());
        }
        let buf: &'a [u8] = buf;
        RouterEntries::new(&buf[..len], MIN_ROUTER_ENTRY_WORDS)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.bytes.len() / (usize::from(self.entry_size) * 4)
    }

    /// Whether there are no entries (never true for a value built by `new` or `encode`).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Entry size in 32-bit words.
    pub fn entry_size(&self) -> u8 {
        self.entry_size
    }

    /// The raw entry bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Walks the (router address, preference level) pairs.
    pub fn iter(&self) -> RouterEntriesIter<'a> {
        RouterEntriesIter {
            chunks: self.bytes.chunks_exact(usize::from(self.entry_size) * 4),
        }
    }
}

impl fmt::Debug for RouterEntries<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for RouterEntries<'a> {
    type Item = (Ipv4Addr, i32);
    type IntoIter = RouterEntriesIter<'a>;

    fn into_iter(self) -> RouterEntriesIter<'a> {
        self.iter()
    }
}

/// Iterator over router advertisement entries: (router address, preference level).
#[derive(Debug, Clone)]
pub struct RouterEntriesIter<'a> {
    chunks: core::slice::ChunksExact<'a, u8>,
}

impl Iterator for RouterEntriesIter<'_> {
    type Item = (Ipv4Addr, i32);

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks
            .next()
            .map(|c| (addr_at(c, 0), i32::from_be_bytes([c[4], c[5], c[6], c[7]])))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for RouterEntriesIter<'_> {}
