//! The security association database (RFC 4301 §4.4.2): inbound SAs found by SPI (RFC 4301
//! §4.1, unicast: the SPI alone), outbound SAs by the SPI an SPD rule names.
//!
//! One `Sad` belongs to one worker (see [`crate::sa`]). Lookups hash a `u32` and allocate
//! nothing; inserting and removing SAs is control-path work.

use hashbrown::HashMap;

use crate::esp::{self, Decrypted, Encrypted, PacketBuf};
use crate::sa::Sa;
use crate::stats::{DropReason, EspStats};

/// Inbound and outbound SAs by SPI, and the drops counted before an SA is known.
#[derive(Debug, Default)]
pub struct Sad {
    inbound: HashMap<u32, Sa>,
    outbound: HashMap<u32, Sa>,
    /// Drops before an SA was found: malformed, too short, unknown SPI.
    pub stats: EspStats,
}

impl Sad {
    /// An empty database.
    pub fn new() -> Sad {
        Sad::default()
    }

    /// Adds an inbound SA, returning the one it replaces.
    pub fn insert_inbound(&mut self, sa: Sa) -> Option<Sa> {
        self.inbound.insert(sa.spi(), sa)
    }

    /// Adds an outbound SA, returning the one it replaces.
    pub fn insert_outbound(&mut self, sa: Sa) -> Option<Sa> {
        self.outbound.insert(sa.spi(), sa)
    }

    /// Removes an inbound SA.
    pub fn remove_inbound(&mut self, spi: u32) -> Option<Sa> {
        self.inbound.remove(&spi)
    }

    /// Removes an outbound SA.
    pub fn remove_outbound(&mut self, spi: u32) -> Option<Sa> {
        self.outbound.remove(&spi)
    }

    /// The inbound SA with `spi`.
    pub fn inbound(&self, spi: u32) -> Option<&Sa> {
        self.inbound.get(&spi)
    }

    /// The outbound SA with `spi`.
    pub fn outbound(&self, spi: u32) -> Option<&Sa> {
        self.outbound.get(&spi)
    }

    /// The inbound SA with `spi`, mutable.
    pub fn inbound_mut(&mut self, spi: u32) -> Option<&mut Sa> {
        self.inbound.get_mut(&spi)
    }

    /// The outbound SA with `spi`, mutable.
    pub fn outbound_mut(&mut self, spi: u32) -> Option<&mut Sa> {
        self.outbound.get_mut(&spi)
    }

    /// Every inbound SA.
    pub fn inbound_sas(&self) -> impl Iterator<Item = &Sa> {
        self.inbound.values()
    }

    /// Every outbound SA.
    pub fn outbound_sas(&self) -> impl Iterator<Item = &Sa> {
        self.outbound.values()
    }

    /// Decrypts the ESP datagram in `pkt` with the inbound SA its SPI names (RFC 4303 §3.4.2:
    /// no SA, discard and count). Drops are counted in the SA's counters, or in
    /// [`Sad::stats`] when no SA was found.
    pub fn decrypt(&mut self, pkt: &mut PacketBuf<'_>) -> Result<Decrypted, DropReason> {
        let spi = match esp::peek_spi(pkt.packet()) {
            Ok(spi) => spi,
            Err(r) => {
                self.stats.count(r);
                return Err(r);
            }
        };
        match self.inbound.get_mut(&spi) {
            Some(sa) => esp::decrypt(sa, pkt),
            None => {
                self.stats.count(DropReason::UnknownSpi);
                Err(DropReason::UnknownSpi)
            }
        }
    }

    /// Encrypts the datagram in `pkt` with the outbound SA `spi` (the SA an SPD rule named).
    pub fn encrypt(&mut self, spi: u32, pkt: &mut PacketBuf<'_>) -> Result<Encrypted, DropReason> {
        match self.outbound.get_mut(&spi) {
            Some(sa) => esp::encrypt(sa, pkt),
            None => {
                self.stats.count(DropReason::UnknownSpi);
                Err(DropReason::UnknownSpi)
            }
        }
    }
}
