//! IPv4 options (RFC 791 §3.1): walking, classifying and building the option bytes.

use core::fmt;

use super::*;
use crate::option_bytes::OptionBytes;
use crate::{be16, Error, Layer, Result};

/// One IPv4 option, as walked by [`OptionsIter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Option<'a> {
    /// End of option list (type 0).
    EndOfList,
    /// No operation (type 1).
    NoOperation,
    /// Record route (type 7): pointer and route data.
    RecordRoute {
        /// Pointer octet (1-based, from the option start).
        pointer: u8,
        /// Route data slots.
        route: &'a [u8],
    },
    /// Internet timestamp (type 68).
    Timestamp {
        /// Pointer octet.
        pointer: u8,
        /// Overflow count (high nibble).
        overflow: u8,
        /// Flag (low nibble): 0 timestamps only, 1 with addresses, 3 prespecified.
        flag: u8,
        /// Timestamp data.
        data: &'a [u8],
    },
    /// Loose source and record route (type 131).
    LooseSourceRoute {
        /// Pointer octet.
        pointer: u8,
        /// Route data.
        route: &'a [u8],
    },
    /// Strict source and record route (type 137).
    StrictSourceRoute {
        /// Pointer octet.
        pointer: u8,
        /// Route data.
        route: &'a [u8],
    },
    /// Router alert (type 148, RFC 2113).
    RouterAlert(u16),
    /// Any other option, skipped by its length.
    Unknown {
        /// Option type octet.
        kind: u8,
        /// Option data after the type and length octets.
        data: &'a [u8],
    },
}

impl Ipv4Option<'_> {
    /// Whether the option must be copied into every fragment (the copied flag).
    pub fn kind(&self) -> u8 {
        match self {
            Ipv4Option::EndOfList => 0,
            Ipv4Option::NoOperation => 1,
            Ipv4Option::RecordRoute { .. } => 7,
            Ipv4Option::Timestamp { .. } => 68,
            Ipv4Option::LooseSourceRoute { .. } => 131,
            Ipv4Option::StrictSourceRoute { .. } => 137,
            Ipv4Option::RouterAlert(_) => 148,
            Ipv4Option::Unknown { kind, .. } => *kind,
        }
    }

    /// Whether the option is copied into every fragment (RFC 791 copied flag).
    pub fn is_copied(&self) -> bool {
        self.kind() & 0x80 != 0
    }
}

/// Walks IPv4 option bytes; yields an error and stops at a malformed option.
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
}

impl<'a> OptionsIter<'a> {
    /// Walks `bytes` (the header's option area).
    pub fn new(bytes: &'a [u8]) -> Self {
        OptionsIter { rest: bytes }
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<Ipv4Option<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after) = self.rest.split_first()?;
        match kind {
            0 => {
                // Everything after End of List is padding.
                self.rest = &[];
                return Some(Ok(Ipv4Option::EndOfList));
            }
            1 => {
                self.rest = after;
                return Some(Ok(Ipv4Option::NoOperation));
            }
            _ => {}
        }
        let bad = |what| {
            Some(Err(Error::Malformed {
                layer: Layer::Ipv4Option,
                what,
            }))
        };
        let Some(&len) = after.first() else {
            self.rest = &[];
            return bad("option length missing");
        };
        let len = usize::from(len);
        if len < 2 || len > self.rest.len() {
            self.rest = &[];
            return bad("option length overruns the header");
        }
        let data = &self.rest[2..len];
        self.rest = &self.rest[len..];
        let pointed = |data: &'a [u8]| -> core::result::Result<(u8, &'a [u8]), ()> {
            data.split_first().map(|(&p, r)| (p, r)).ok_or(())
        };
        let opt = match kind {
            7 | 131 | 137 => {
                let Ok((pointer, route)) = pointed(data) else {
                    self.rest = &[];
                    return bad("route option too short");
                };
                match kind {
                    7 => Ipv4Option::RecordRoute { pointer, route },
                    131 => Ipv4Option::LooseSourceRoute { pointer, route },
                    _ => Ipv4Option::StrictSourceRoute { pointer, route },
                }
            }
            68 => {
                if data.len() < 2 {
                    self.rest = &[];
                    return bad("timestamp option too short");
                }
                Ipv4Option::Timestamp {
                    pointer: data[0],
                    overflow: data[1] >> 4,
                    flag: data[1] & 0x0f,
                    data: &data[2..],
                }
            }
            148 => {
                if data.len() != 2 {
                    self.rest = &[];
                    return bad("router alert option length is not 4");
                }
                Ipv4Option::RouterAlert(be16(data, 0))
            }
            _ => Ipv4Option::Unknown { kind, data },
        };
        Some(Ok(opt))
    }
}

/// The option area of a header, held inline (no allocation, `Copy`) so a `Repr` re-emits the
/// exact bytes it parsed.
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

    /// Takes raw option bytes (validated by walking them); pads with End-of-List to a multiple
    /// of 4.
    pub fn from_bytes(raw: &[u8]) -> Result<Options> {
        for o in OptionsIter::new(raw) {
            o?;
        }
        OptionBytes::padded(raw)
            .map(Options)
            .ok_or(Error::BadHeaderLength {
                layer: Layer::Ipv4,
                value: HEADER_LEN + raw.len(),
            })
    }

    /// Option bytes including padding.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes (a multiple of 4).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no options.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// Walks the options.
    pub fn iter(&self) -> OptionsIter<'_> {
        OptionsIter::new(self.as_bytes())
    }

    /// Whether a loose or strict source route option is present (which hosts refuse by
    /// default, RFC 1122 §3.3.5 allows it as a configuration choice).
    pub fn has_source_route(&self) -> bool {
        self.iter().any(|o| {
            matches!(
                o,
                Ok(Ipv4Option::LooseSourceRoute { .. } | Ipv4Option::StrictSourceRoute { .. })
            )
        })
    }
}
