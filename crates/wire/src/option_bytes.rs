//! Inline storage for a header's option area, shared by IPv4 and TCP (both cap options at 40
//! bytes). Held by value so a `Repr` is `Copy`, never allocates, and re-emits the exact bytes
//! it parsed.

/// Most option bytes an IPv4 (IHL 15) or TCP (data offset 15) header can carry.
pub(crate) const CAPACITY: usize = 40;

/// Up to [`CAPACITY`] option bytes. Bytes at and beyond `len` stay zero, so the derived
/// equality and hash are by value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct OptionBytes {
    bytes: [u8; CAPACITY],
    len: u8,
}

impl OptionBytes {
    /// No options.
    pub(crate) const EMPTY: OptionBytes = OptionBytes {
        bytes: [0; CAPACITY],
        len: 0,
    };

    /// Copies `raw`, zero-padded (End-of-List in both protocols) to a multiple of 4; `None`
    /// when it does not fit.
    pub(crate) fn padded(raw: &[u8]) -> Option<OptionBytes> {
        if raw.len() > CAPACITY {
            return None;
        }
        let mut out = OptionBytes::EMPTY;
        out.bytes[..raw.len()].copy_from_slice(raw);
        out.len = raw.len().next_multiple_of(4) as u8;
        Some(out)
    }

    /// Takes the first `len` bytes of `bytes` (a multiple of 4; the rest must be zero).
    #[inline]
    pub(crate) fn from_array(bytes: [u8; CAPACITY], len: usize) -> OptionBytes {
        debug_assert!(len <= CAPACITY && len % 4 == 0);
        debug_assert!(bytes[len..].iter().all(|&b| b == 0));
        OptionBytes {
            bytes,
            len: len as u8,
        }
    }

    /// The bytes, padding included.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Length in bytes.
    #[inline]
    pub(crate) const fn len(&self) -> usize {
        self.len as usize
    }

    /// Appends `n` bytes and returns them for the caller to fill; `None` when they do not fit.
    pub(crate) fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let at = self.len();
        if at + n > CAPACITY {
            return None;
        }
        self.len += n as u8;
        Some(&mut self.bytes[at..at + n])
    }

    /// Pads with `fill` up to the next multiple of 4.
    pub(crate) fn pad(&mut self, fill: u8) {
        let start = self.len();
        let end = start.next_multiple_of(4);
        self.bytes[start..end].fill(fill);
        self.len = end as u8;
    }
}
