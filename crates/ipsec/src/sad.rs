//! The security association database (RFC 4301 §4.4.2): inbound SAs found by SPI (RFC 4301
//! §4.1, unicast: the SPI alone), outbound SAs by the SPI an SPD rule names.
//!
//! One `Sad` belongs to one worker (see [`crate::sa`]). Lookups hash a `u32` and allocate
//! nothing; inserting and removing SAs is control-path work. Inbound SAs live in slots that
//! the SPI map indexes, with the last SPI decrypted and its slot kept in front of the map:
//! a tunnel's datagrams come in runs of one SA, and then the hash lookup is skipped.

use hashbrown::HashMap;

use burst_wire::ipv4::{self, Protocol};

use crate::esp::{self, Decrypted, Encrypted, PacketBuf};
use crate::sa::{IpsecProtocol, Sa};
use crate::stats::{DropReason, EspStats};

/// Inbound and outbound SAs by SPI, and the drops counted before an SA is known.
#[derive(Debug, Default)]
pub struct Sad {
    /// Inbound SPI → its slot in `in_slots`.
    inbound: HashMap<u32, usize>,
    /// The inbound SAs (`None`: a removed SA's slot, reused by the next insert).
    in_slots: Vec<Option<Sa>>,
    /// The last inbound SPI found and its slot (cleared when an SA is removed).
    last_in: Option<(u32, usize)>,
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
        if let Some(&i) = self.inbound.get(&sa.spi()) {
            return self.in_slots[i].replace(sa);
        }
        let i = match self.in_slots.iter().position(Option::is_none) {
            Some(i) => {
                self.in_slots[i] = Some(sa);
                i
            }
            None => {
                self.in_slots.push(Some(sa));
                self.in_slots.len() - 1
            }
        };
        let spi = self.in_slots[i].as_ref().map_or(0, Sa::spi);
        self.inbound.insert(spi, i);
        None
    }

    /// Adds an outbound SA, returning the one it replaces.
    pub fn insert_outbound(&mut self, sa: Sa) -> Option<Sa> {
        self.outbound.insert(sa.spi(), sa)
    }

    /// Removes an inbound SA.
    pub fn remove_inbound(&mut self, spi: u32) -> Option<Sa> {
        let i = self.inbound.remove(&spi)?;
        // Its slot may be reused by another SPI: the front entry goes.
        self.last_in = None;
        self.in_slots[i].take()
    }

    /// Removes an outbound SA.
    pub fn remove_outbound(&mut self, spi: u32) -> Option<Sa> {
        self.outbound.remove(&spi)
    }

    /// The inbound SA with `spi`.
    pub fn inbound(&self, spi: u32) -> Option<&Sa> {
        let &i = self.inbound.get(&spi)?;
        self.in_slots[i].as_ref()
    }

    /// The outbound SA with `spi`.
    pub fn outbound(&self, spi: u32) -> Option<&Sa> {
        self.outbound.get(&spi)
    }

    /// The inbound SA with `spi`, mutable.
    pub fn inbound_mut(&mut self, spi: u32) -> Option<&mut Sa> {
        let &i = self.inbound.get(&spi)?;
        self.in_slots[i].as_mut()
    }

    /// The inbound SA with `spi` for a datagram: the last one found when the SPI is the same
    /// (no hash lookup), else from the map, then kept in front.
    #[inline]
    fn inbound_for(&mut self, spi: u32) -> Option<&mut Sa> {
        let i = match self.last_in {
            Some((s, i)) if s == spi => i,
            _ => {
                let &i = self.inbound.get(&spi)?;
                self.last_in = Some((spi, i));
                i
            }
        };
        self.in_slots.get_mut(i)?.as_mut()
    }

    /// The outbound SA with `spi`, mutable.
    pub fn outbound_mut(&mut self, spi: u32) -> Option<&mut Sa> {
        self.outbound.get_mut(&spi)
    }

    /// Every inbound SA.
    pub fn inbound_sas(&self) -> impl Iterator<Item = &Sa> {
        self.in_slots.iter().flatten()
    }

    /// Every outbound SA.
    pub fn outbound_sas(&self) -> impl Iterator<Item = &Sa> {
        self.outbound.values()
    }

    /// Decrypts the ESP (or verifies the AH) datagram in `pkt` with the inbound SA its SPI
    /// names (RFC 4303 §3.4.2, RFC 4302 §3.4.2: no SA, discard and count; an SA of the other
    /// protocol is no SA). Drops are counted in the SA's counters, or in [`Sad::stats`] when
    /// no SA was found.
    pub fn decrypt(&mut self, pkt: &mut PacketBuf<'_>) -> Result<Decrypted, DropReason> {
        let (spi, protocol) = match peek_spi(pkt.packet()) {
            Ok(x) => x,
            Err(r) => {
                self.stats.count(r);
                return Err(r);
            }
        };
        match self.inbound_for(spi) {
            // ESP's header was checked by the peek: not parsed again.
            Some(sa) if sa.protocol() == protocol => match protocol {
                IpsecProtocol::Esp => esp::decrypt_peeked(sa, pkt),
                IpsecProtocol::Ah => sa.unprotect(pkt),
            },
            _ => {
                self.stats.count(DropReason::UnknownSpi);
                Err(DropReason::UnknownSpi)
            }
        }
    }

    /// Encrypts the datagram in `pkt` with the outbound SA `spi` (the SA an SPD rule named).
    pub fn encrypt(&mut self, spi: u32, pkt: &mut PacketBuf<'_>) -> Result<Encrypted, DropReason> {
        match self.outbound.get_mut(&spi) {
            Some(sa) => sa.protect(pkt),
            None => {
                self.stats.count(DropReason::UnknownSpi);
                Err(DropReason::UnknownSpi)
            }
        }
    }
}

/// The SPI and protocol of the ESP or AH datagram in `pkt`, or the drop reason when it is
/// neither.
pub fn peek_spi(pkt: &[u8]) -> Result<(u32, IpsecProtocol), DropReason> {
    // Parsed once: ESP, the data path's case, is read from the checked header.
    let ip = ipv4::Packet::new_checked(pkt).map_err(|_| DropReason::Malformed)?;
    if ip.protocol() == Protocol::AH {
        crate::ah::peek_spi(pkt).map(|s| (s, IpsecProtocol::Ah))
    } else {
        esp::peek_spi_of(&ip).map(|s| (s, IpsecProtocol::Esp))
    }
}
