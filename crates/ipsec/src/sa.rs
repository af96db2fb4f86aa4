//! A security association (RFC 4301 §4.4.2): what one direction of one ESP flow needs — SPI,
//! mode, keyed transform, sequence numbers, anti-replay window, lifetime and counters.
//!
//! An SA is owned by one worker and used through `&mut`: the outbound sequence counter and the
//! inbound replay window have a single writer, so neither needs atomics. Packets of an inbound
//! SA that land on another core have to be handed to the owner (left for the runtime,
//! docs/ipsec.md).

use std::net::Ipv4Addr;

use crate::ah::{AhAuth, AH_LEN};
use crate::algo::{Algorithm, BadKeyLength, Cipher, ESP_HEADER_LEN, ICV_LEN};
use crate::replay::{BadWindowSize, ReplayWindow};
use crate::stats::{DropReason, EspStats};
use serde::Deserialize;

/// What a tunnel-mode SA does with the DF bit of the outer header (RFC 4301 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DfPolicy {
    /// Copy DF from the inner header (the default).
    #[default]
    Copy,
    /// Always set DF.
    Set,
    /// Always clear DF.
    Clear,
}

/// The outer header of a tunnel-mode SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// Outer source address (this end).
    pub src: Ipv4Addr,
    /// Outer destination address (the peer).
    pub dst: Ipv4Addr,
    /// TTL of the outer header.
    pub ttl: u8,
    /// DF of the outer header.
    pub df: DfPolicy,
}

/// Transport or tunnel mode (RFC 4301 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// ESP between the IP header and its payload.
    Transport,
    /// The whole datagram inside ESP, behind a new outer header.
    Tunnel(Tunnel),
}

/// The IPsec protocol of an SA: ESP (RFC 4303) or AH (RFC 4302).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpsecProtocol {
    /// Encapsulating Security Payload: confidentiality and integrity (the default).
    #[default]
    Esp,
    /// Authentication Header with HMAC-SHA-256-128: integrity of the payload and the IP
    /// header's immutable fields, no confidentiality.
    Ah,
}

impl IpsecProtocol {
    /// "ESP" or "AH".
    pub const fn name(self) -> &'static str {
        match self {
            IpsecProtocol::Esp => "ESP",
            IpsecProtocol::Ah => "AH",
        }
    }
}

/// Everything needed to make an SA. Its `Debug` form leaves the keys out.
#[derive(Clone, PartialEq, Eq)]
pub struct SaParams {
    /// Security parameters index (RFC 4303 §2.1); 1..=255 are reserved by IANA, 0 too.
    pub spi: u32,
    /// ESP or AH.
    pub protocol: IpsecProtocol,
    /// Mode.
    pub mode: Mode,
    /// Transform (ESP; ignored for AH, which is HMAC-SHA-256-128 with `auth_key`).
    pub algorithm: Algorithm,
    /// Encryption key material (the salt last for the AEADs).
    pub key: Vec<u8>,
    /// Integrity key (empty for the AEADs).
    pub auth_key: Vec<u8>,
    /// Extended (64-bit) sequence numbers.
    pub esn: bool,
    /// Anti-replay window size (inbound).
    pub replay_window: u32,
    /// Hard lifetime in packets: after this many the SA refuses more (0: none).
    pub max_packets: u64,
}

impl core::fmt::Debug for SaParams {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaParams")
            .field("spi", &self.spi)
            .field("protocol", &self.protocol)
            .field("mode", &self.mode)
            .field("algorithm", &self.algorithm)
            .field("key_len", &self.key.len())
            .field("auth_key_len", &self.auth_key.len())
            .field("esn", &self.esn)
            .field("replay_window", &self.replay_window)
            .field("max_packets", &self.max_packets)
            .finish()
    }
}

/// Why an SA could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaError {
    /// SPI 0 or in the IANA-reserved 1..=255 (RFC 4303 §2.1).
    ReservedSpi(u32),
    /// Key material of the wrong length.
    Key(BadKeyLength),
    /// Replay window size out of range.
    Window(BadWindowSize),
    /// AH: the integrity key is not 32 bytes (its length), or encryption key material given.
    AhKey(usize),
}

impl core::fmt::Display for SaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SaError::ReservedSpi(s) => write!(f, "SPI {s:#x} is reserved (0..=255)"),
            SaError::Key(k) => write!(
                f,
                "{} {} must be {} bytes, not {}",
                k.algorithm.name(),
                k.which,
                k.want,
                k.got
            ),
            SaError::Window(w) => write!(
                f,
                "replay window {} is outside {}..={} (or 0, no anti-replay, without esn)",
                w.0,
                crate::replay::MIN_WINDOW,
                crate::replay::MAX_WINDOW
            ),
            SaError::AhKey(n) => write!(
                f,
                "AH (HMAC-SHA-256-128) takes auth_key of 32 bytes, not {n}, and no key"
            ),
        }
    }
}

impl std::error::Error for SaError {}

/// A tunnel-mode SA's outer IPv4 header with what every packet shares filled in (version
/// and header length, TTL, protocol, addresses; the rest zero) and the one's-complement sum
/// of its 16-bit words, unfolded: a packet's header is one copy plus its own fields, and its
/// checksum the template's sum plus those fields (RFC 1624 §3, the sum updated for the
/// fields that differ) instead of a sum over the whole header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OuterTemplate {
    /// The header.
    pub(crate) header: [u8; burst_wire::ipv4::HEADER_LEN],
    /// The sum of its 16-bit words.
    pub(crate) sum: u32,
}

impl OuterTemplate {
    fn new(t: &Tunnel) -> OuterTemplate {
        let mut header = [0u8; burst_wire::ipv4::HEADER_LEN];
        header[0] = 0x45;
        header[8] = t.ttl;
        header[9] = burst_wire::ipv4::Protocol::ESP.0;
        header[12..16].copy_from_slice(&t.src.octets());
        header[16..20].copy_from_slice(&t.dst.octets());
        let sum = header
            .chunks_exact(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        OuterTemplate { header, sum }
    }
}

/// One security association: keyed, with its sequence state and counters.
#[derive(Debug)]
pub struct Sa {
    spi: u32,
    mode: Mode,
    /// Tunnel mode: the outer header's template.
    outer: Option<OuterTemplate>,
    cipher: Cipher,
    /// AH SAs: the keyed HMAC (`cipher` is then an unused NULL + HMAC with the same key).
    ah: Option<AhAuth>,
    esn: bool,
    /// Last sequence number sent (0 before the first).
    seq_out: u64,
    replay: ReplayWindow,
    max_packets: u64,
    /// Counters of this SA.
    pub stats: EspStats,
}

impl Sa {
    /// Makes an SA (control path: allocates the keyed state and the replay bitmap).
    pub fn new(p: &SaParams) -> Result<Sa, SaError> {
        if p.spi <= 255 {
            return Err(SaError::ReservedSpi(p.spi));
        }
        let (cipher, ah) = match p.protocol {
            IpsecProtocol::Esp => (
                Cipher::new(p.algorithm, &p.key, &p.auth_key).map_err(SaError::Key)?,
                None,
            ),
            IpsecProtocol::Ah => {
                let auth = AhAuth::new(&p.auth_key).map_err(|e| SaError::AhKey(e.0))?;
                if !p.key.is_empty() {
                    return Err(SaError::AhKey(p.auth_key.len()));
                }
                let null = Cipher::new(Algorithm::NullHmacSha256, &[], &p.auth_key)
                    .map_err(SaError::Key)?;
                (null, Some(auth))
            }
        };
        let replay = ReplayWindow::new(p.replay_window, p.esn).map_err(SaError::Window)?;
        let outer = match p.mode {
            Mode::Tunnel(t) => Some(OuterTemplate::new(&t)),
            Mode::Transport => None,
        };
        Ok(Sa {
            spi: p.spi,
            mode: p.mode,
            outer,
            cipher,
            ah,
            esn: p.esn,
            seq_out: 0,
            replay,
            max_packets: p.max_packets,
            stats: EspStats::default(),
        })
    }

    /// The SPI.
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// ESP or AH.
    pub fn protocol(&self) -> IpsecProtocol {
        if self.ah.is_some() {
            IpsecProtocol::Ah
        } else {
            IpsecProtocol::Esp
        }
    }

    /// The transform's name as the configuration spells it ("hmac-sha256-128" for AH).
    pub fn algorithm_name(&self) -> &'static str {
        match self.ah {
            Some(_) => "hmac-sha256-128",
            None => self.algorithm().name(),
        }
    }

    pub(crate) fn ah_auth(&self) -> Option<&AhAuth> {
        self.ah.as_ref()
    }

    /// Protects the datagram in `pkt` with this outbound SA, ESP or AH as the SA is.
    pub fn protect(
        &mut self,
        pkt: &mut crate::esp::PacketBuf<'_>,
    ) -> Result<crate::esp::Encrypted, DropReason> {
        match self.protocol() {
            IpsecProtocol::Esp => crate::esp::encrypt(self, pkt),
            IpsecProtocol::Ah => crate::ah::encrypt(self, pkt),
        }
    }

    /// Removes this inbound SA's protection from the datagram in `pkt` (ESP or AH).
    pub fn unprotect(
        &mut self,
        pkt: &mut crate::esp::PacketBuf<'_>,
    ) -> Result<crate::esp::Decrypted, DropReason> {
        match self.protocol() {
            IpsecProtocol::Esp => crate::esp::decrypt(self, pkt),
            IpsecProtocol::Ah => crate::ah::decrypt(self, pkt),
        }
    }

    /// The transform.
    pub fn algorithm(&self) -> Algorithm {
        self.cipher.algorithm()
    }

    /// Whether sequence numbers are 64 bits.
    pub fn esn(&self) -> bool {
        self.esn
    }

    /// The anti-replay window (inbound).
    pub fn replay(&self) -> &ReplayWindow {
        &self.replay
    }

    /// The anti-replay window, to restart it (e.g. when taking over a peer's numbering).
    pub fn replay_mut(&mut self) -> &mut ReplayWindow {
        &mut self.replay
    }

    /// The last sequence number sent (0 before the first).
    pub fn last_seq_out(&self) -> u64 {
        self.seq_out
    }

    /// Sets the last sequence number sent, so the next packet carries `seq + 1`.
    pub fn set_last_seq_out(&mut self, seq: u64) {
        self.seq_out = seq;
    }

    /// The outer header's template (tunnel mode).
    pub(crate) fn outer(&self) -> Option<&OuterTemplate> {
        self.outer.as_ref()
    }

    pub(crate) fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// Bytes the SA puts in front of a datagram: the outer header in tunnel mode, the ESP
    /// header and the IV.
    pub fn headroom(&self) -> usize {
        let outer = match self.mode {
            Mode::Transport => 0,
            Mode::Tunnel(_) => burst_wire::ipv4::HEADER_LEN,
        };
        if self.ah.is_some() {
            return outer + AH_LEN;
        }
        outer + ESP_HEADER_LEN + self.algorithm().iv_len()
    }

    /// Bytes the SA appends at most: padding to the alignment, pad length, next header, ICV
    /// (AH: none).
    pub fn max_tailroom(&self) -> usize {
        if self.ah.is_some() {
            return 0;
        }
        self.algorithm().align() - 1 + 2 + ICV_LEN
    }

    /// Length of the protected datagram for a plain one of `len` bytes with an IP header of
    /// `header_len` bytes: what path MTU and MSS computations subtract.
    pub fn protected_len(&self, len: usize, header_len: usize) -> usize {
        if self.ah.is_some() {
            return len + self.headroom();
        }
        let body = match self.mode {
            Mode::Transport => len - header_len,
            Mode::Tunnel(_) => len,
        };
        let align = self.algorithm().align();
        let text = (body + 2).div_ceil(align) * align;
        let head = match self.mode {
            Mode::Transport => header_len,
            Mode::Tunnel(_) => burst_wire::ipv4::HEADER_LEN,
        };
        head + ESP_HEADER_LEN + self.algorithm().iv_len() + text + ICV_LEN
    }

    /// The next outbound sequence number, or `SeqExhausted` when it would cycle
    /// (RFC 4303 §3.3.3) or the packet lifetime is used up.
    pub(crate) fn next_seq(&mut self) -> Result<u64, DropReason> {
        let limit = if self.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        if self.seq_out >= limit || (self.max_packets != 0 && self.seq_out >= self.max_packets) {
            return Err(DropReason::SeqExhausted);
        }
        self.seq_out += 1;
        Ok(self.seq_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(alg: Algorithm, esn: bool) -> SaParams {
        SaParams {
            spi: 0x1000,
            protocol: IpsecProtocol::Esp,
            mode: Mode::Transport,
            algorithm: alg,
            key: vec![1; alg.key_len()],
            auth_key: vec![2; alg.auth_key_len()],
            esn,
            replay_window: 64,
            max_packets: 0,
        }
    }

    #[test]
    fn reserved_spis_bad_keys_and_windows_are_refused() {
        let mut p = params(Algorithm::AesGcm128, false);
        p.spi = 255;
        assert_eq!(Sa::new(&p).unwrap_err(), SaError::ReservedSpi(255));
        p.spi = 256;
        assert!(Sa::new(&p).is_ok());
        p.key.pop();
        assert!(matches!(Sa::new(&p), Err(SaError::Key(_))));
        let mut p = params(Algorithm::AesGcm128, false);
        p.replay_window = 8;
        assert_eq!(Sa::new(&p).unwrap_err(), SaError::Window(BadWindowSize(8)));
        assert!(SaError::Window(BadWindowSize(8))
            .to_string()
            .contains("32..=4096"));
    }

    #[test]
    fn debug_output_shows_no_key_bytes() {
        let mut p = params(Algorithm::AesCbc128HmacSha256, false);
        p.key = vec![0xab; 16];
        p.auth_key = vec![0xcd; 32];
        let sa = Sa::new(&p).unwrap();
        for s in [format!("{p:?}"), format!("{sa:?}")] {
            assert!(
                !s.contains("171") && !s.contains("205") && !s.contains("ab, ab"),
                "{s}"
            );
            assert!(s.contains("AesCbc128HmacSha256"), "{s}");
        }
    }

    #[test]
    fn sequence_numbers_start_at_one_and_never_cycle() {
        let mut sa = Sa::new(&params(Algorithm::AesGcm128, false)).unwrap();
        assert_eq!(sa.next_seq(), Ok(1));
        sa.set_last_seq_out(u64::from(u32::MAX) - 1);
        assert_eq!(sa.next_seq(), Ok(u64::from(u32::MAX)));
        assert_eq!(sa.next_seq(), Err(DropReason::SeqExhausted));
        let mut sa = Sa::new(&params(Algorithm::AesGcm128, true)).unwrap();
        sa.set_last_seq_out(u64::from(u32::MAX));
        assert_eq!(sa.next_seq(), Ok(1 << 32));
        sa.set_last_seq_out(u64::MAX);
        assert_eq!(sa.next_seq(), Err(DropReason::SeqExhausted));
        let mut p = params(Algorithm::AesGcm128, false);
        p.max_packets = 2;
        let mut sa = Sa::new(&p).unwrap();
        assert_eq!(sa.next_seq(), Ok(1));
        assert_eq!(sa.next_seq(), Ok(2));
        assert_eq!(sa.next_seq(), Err(DropReason::SeqExhausted));
    }

    #[test]
    fn overhead_figures() {
        let sa = Sa::new(&params(Algorithm::AesGcm128, false)).unwrap();
        assert_eq!((sa.headroom(), sa.max_tailroom()), (16, 21));
        // 1400-byte datagram, 20-byte header: 1380 + 2 → 1384 aligned to 4.
        assert_eq!(sa.protected_len(1400, 20), 20 + 8 + 8 + 1384 + 16);
        let mut p = params(Algorithm::AesCbc128HmacSha256, false);
        p.mode = Mode::Tunnel(Tunnel {
            src: Ipv4Addr::new(198, 18, 200, 1),
            dst: Ipv4Addr::new(198, 18, 200, 2),
            ttl: 64,
            df: DfPolicy::Copy,
        });
        let sa = Sa::new(&p).unwrap();
        assert_eq!((sa.headroom(), sa.max_tailroom()), (44, 33));
        // 1400 + 2 → 1408 aligned to 16.
        assert_eq!(sa.protected_len(1400, 20), 20 + 8 + 16 + 1408 + 16);
    }
}
