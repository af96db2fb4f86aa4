//! IPsec fixed headers: the Authentication Header (AH, RFC 4302) and the Encapsulating Security
//! Payload (ESP, RFC 4303), for IPv4.
//!
//! Only the parts readable without a security association are parsed: AH's next header, length,
//! SPI, sequence number and the ICV as opaque bytes; ESP's SPI and sequence number, everything
//! after them being ciphertext (IV, payload, padding, pad length, next header, ICV) whose layout
//! depends on the SA. With extended sequence numbers (ESN) only the low 32 bits are on the wire.
//!
//! SPI 0 is reserved (RFC 4302 §2.4, RFC 4303 §2.1) but is not rejected here: it is a normal
//! "no SA" miss for the SA lookup, and in UDP encapsulation (RFC 3948) it marks a non-ESP
//! packet, which the UDP demultiplexer has to see first anyway.
//!
//! [`AhPacket::new_checked`] and [`EspPacket::new_checked`] validate lengths once; afterwards no
//! accessor panics (as long as [`AhPacket::set_payload_len`] is not used to grow the header
//! beyond the buffer).

use crate::ipv4::Protocol;
use crate::{be16, be32, put16, put32, Error, Layer, Result};

/// Length of the fixed part of AH (next header, length, reserved, SPI, sequence number).
pub const AH_MIN_HEADER_LEN: usize = 12;
/// Largest AH header: a payload length of 255 encodes (255 + 2) × 4 bytes.
pub const AH_MAX_HEADER_LEN: usize = (255 + 2) * 4;
/// Largest ICV an AH header can carry.
pub const AH_MAX_ICV_LEN: usize = AH_MAX_HEADER_LEN - AH_MIN_HEADER_LEN;
/// Length of the ESP header (SPI and sequence number).
pub const ESP_HEADER_LEN: usize = 8;

mod field {
    pub(crate) mod ah {
        pub(crate) const NEXT_HEADER: usize = 0;
        pub(crate) const PAYLOAD_LEN: usize = 1;
        pub(crate) const RESERVED: usize = 2;
        pub(crate) const SPI: usize = 4;
        pub(crate) const SEQ: usize = 8;
        /// The ICV starts here and runs to the end of the header.
        pub(crate) const ICV_START: usize = 12;
    }
    pub(crate) mod esp {
        use crate::Rest;
        pub(crate) const SPI: usize = 0;
        pub(crate) const SEQ: usize = 4;
        pub(crate) const PAYLOAD: Rest = 8..;
    }
}

/// Header length in bytes for an AH payload-length field: the field counts 32-bit words minus 2
/// (RFC 4302 §2.2).
const fn ah_header_len(payload_len: u8) -> usize {
    (payload_len as usize + 2) * 4
}

/// A zero-copy view of an IPsec Authentication Header and the data it protects.
#[derive(Debug, Clone)]
pub struct AhPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> AhPacket<T> {
    /// Wraps a buffer without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        AhPacket { buffer }
    }

    /// Wraps a buffer after checking it holds the whole header, ICV included.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the fixed part is present, the length field encodes at least the fixed part, and
    /// the buffer holds the whole header.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        Error::need(Layer::Ah, AH_MIN_HEADER_LEN, len)?;
        let hl = self.header_len();
        // A payload length of 0 encodes 8 bytes, shorter than the fixed part; the formula makes
        // every value a multiple of 4, as IPv4 requires (RFC 4302 §2.2).
        if hl < AH_MIN_HEADER_LEN {
            return Err(Error::BadHeaderLength {
                layer: Layer::Ah,
                value: hl,
            });
        }
        Error::need(Layer::Ah, hl, len)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The protocol of the data after this header.
    pub fn next_header(&self) -> Protocol {
        Protocol(self.buffer.as_ref()[field::ah::NEXT_HEADER])
    }

    /// The raw payload-length field (header length in 32-bit words, minus 2).
    pub fn payload_len(&self) -> u8 {
        self.buffer.as_ref()[field::ah::PAYLOAD_LEN]
    }

    /// Header length in bytes, ICV included: (payload length + 2) × 4.
    pub fn header_len(&self) -> usize {
        ah_header_len(self.payload_len())
    }

    /// The reserved field (zero on send, ignored on receipt: RFC 4302 §2.3).
    pub fn reserved(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ah::RESERVED)
    }

    /// Security parameters index.
    pub fn spi(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ah::SPI)
    }

    /// Sequence number (the low 32 bits when ESN is in use).
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ah::SEQ)
    }

    /// The integrity check value: the header bytes after the sequence number.
    pub fn icv(&self) -> &[u8] {
        &self.buffer.as_ref()[field::ah::ICV_START..self.header_len()]
    }

    /// The whole header, ICV included.
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// The bytes after the header, to the end of the buffer (the caller bounds the buffer by
    /// the IP payload).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> AhPacket<T> {
    /// Sets the next header.
    pub fn set_next_header(&mut self, p: Protocol) {
        self.buffer.as_mut()[field::ah::NEXT_HEADER] = p.0
    }

    /// Sets the raw payload-length field. A value whose header overruns the buffer voids the
    /// no-panic guarantee of `new_checked` for [`AhPacket::icv`] and the payload accessors.
    pub fn set_payload_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::ah::PAYLOAD_LEN] = v
    }

    /// Sets the reserved field.
    pub fn set_reserved(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::ah::RESERVED, v)
    }

    /// Sets the security parameters index.
    pub fn set_spi(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::ah::SPI, v)
    }

    /// Sets the sequence number.
    pub fn set_seq(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::ah::SEQ, v)
    }

    /// The integrity check value, mutable: where the caller writes the ICV it computed.
    pub fn icv_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[field::ah::ICV_START..hl]
    }

    /// The bytes after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

/// The value of an Authentication Header; the ICV itself is the SA's business and not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AhRepr {
    /// Protocol of the data after the header.
    pub next_header: Protocol,
    /// Security parameters index.
    pub spi: u32,
    /// Sequence number (low 32 bits with ESN).
    pub seq: u32,
    /// ICV length in bytes: a multiple of 4, at most [`AH_MAX_ICV_LEN`].
    pub icv_len: usize,
}

impl AhRepr {
    /// A value whose ICV length is encodable (a multiple of 4, at most [`AH_MAX_ICV_LEN`]);
    /// otherwise [`Error::BadHeaderLength`] with the header length it would have had.
    pub const fn new(next_header: Protocol, spi: u32, seq: u32, icv_len: usize) -> Result<AhRepr> {
        if icv_len % 4 != 0 || icv_len > AH_MAX_ICV_LEN {
            return Err(Error::BadHeaderLength {
                layer: Layer::Ah,
                value: AH_MIN_HEADER_LEN + icv_len,
            });
        }
        Ok(AhRepr {
            next_header,
            spi,
            seq,
            icv_len,
        })
    }

    /// Reads a checked header. The reserved field and the ICV bytes are not kept.
    pub fn parse<T: AsRef<[u8]>>(p: &AhPacket<T>) -> Result<AhRepr> {
        p.check_len()?;
        Ok(AhRepr {
            next_header: p.next_header(),
            spi: p.spi(),
            seq: p.seq(),
            icv_len: p.header_len() - AH_MIN_HEADER_LEN,
        })
    }

    /// Header length, ICV included.
    pub const fn header_len(&self) -> usize {
        AH_MIN_HEADER_LEN + self.icv_len
    }

    /// Same as [`AhRepr::header_len`]: the header is all this value emits.
    pub const fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Writes the header into the start of `p` (at least `header_len` bytes long), with the
    /// reserved field and the ICV zeroed. A zero ICV is what the ICV is computed over
    /// (RFC 4302 §3.3.3.1); the caller then writes it with [`AhPacket::icv_mut`].
    ///
    /// # Panics
    /// If `icv_len` is not encodable (see [`AhRepr::new`]): emitting it would put a length on
    /// the wire that disagrees with the bytes written.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut AhPacket<T>) {
        assert!(
            self.icv_len % 4 == 0 && self.icv_len <= AH_MAX_ICV_LEN,
            "AH ICV length {} is not a multiple of 4 up to {}",
            self.icv_len,
            AH_MAX_ICV_LEN
        );
        let hl = self.header_len();
        p.set_next_header(self.next_header);
        p.set_payload_len((hl / 4 - 2) as u8);
        p.set_reserved(0);
        p.set_spi(self.spi);
        p.set_seq(self.seq);
        p.buffer.as_mut()[field::ah::ICV_START..hl].fill(0);
    }
}

/// A zero-copy view of an ESP packet: SPI, sequence number and opaque encrypted data.
#[derive(Debug, Clone)]
pub struct EspPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EspPacket<T> {
    /// Wraps a buffer without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        EspPacket { buffer }
    }

    /// Wraps a buffer after checking it holds the SPI and sequence number.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds the 8-byte header. How long the rest must be depends on the SA
    /// (IV, block size, ICV length), so it is not checked here.
    pub fn check_len(&self) -> Result<()> {
        Error::need(Layer::Esp, ESP_HEADER_LEN, self.buffer.as_ref().len())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Security parameters index.
    pub fn spi(&self) -> u32 {
        be32(self.buffer.as_ref(), field::esp::SPI)
    }

    /// Sequence number (the low 32 bits when ESN is in use).
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), field::esp::SEQ)
    }

    /// Everything after the header: IV, ciphertext, padding, trailer and ICV, undivided.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::esp::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EspPacket<T> {
    /// Sets the security parameters index.
    pub fn set_spi(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::esp::SPI, v)
    }

    /// Sets the sequence number.
    pub fn set_seq(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::esp::SEQ, v)
    }

    /// Everything after the header, mutable: where the caller encrypts in place.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::esp::PAYLOAD]
    }
}

/// The value of an ESP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EspRepr {
    /// Security parameters index.
    pub spi: u32,
    /// Sequence number (low 32 bits with ESN).
    pub seq: u32,
}

impl EspRepr {
    /// Reads a checked header.
    pub fn parse<T: AsRef<[u8]>>(p: &EspPacket<T>) -> Result<EspRepr> {
        p.check_len()?;
        Ok(EspRepr {
            spi: p.spi(),
            seq: p.seq(),
        })
    }

    /// Header length (8).
    pub const fn header_len(&self) -> usize {
        ESP_HEADER_LEN
    }

    /// Same as [`EspRepr::header_len`]: the header is all this value emits.
    pub const fn buffer_len(&self) -> usize {
        ESP_HEADER_LEN
    }

    /// Writes the header into the start of `p` (at least 8 bytes long).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut EspPacket<T>) {
        p.set_spi(self.spi);
        p.set_seq(self.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// AH with a 96-bit ICV (HMAC-SHA1-96 sized) over TCP, laid out from RFC 4302 §2: payload
    /// length 4 = 3 fixed words + 3 ICV words − 2, the example RFC 4302 §2.2 gives.
    const AH_96: [u8; 28] = [
        0x06, // next header: TCP
        0x04, // payload length
        0x00, 0x00, // reserved
        0x00, 0x00, 0x10, 0x01, // SPI 0x1001
        0x00, 0x00, 0x00, 0x2a, // sequence number 42
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, // ICV
        0xde, 0xad, 0xbe, 0xef, // first bytes of the TCP header
    ];

    /// ESP from RFC 4303 §2: SPI, sequence number, then opaque bytes.
    const ESP: [u8; 14] = [
        0x00, 0x00, 0x01, 0x00, // SPI 256 (the first value above IANA's reserved 1..=255)
        0xff, 0xff, 0xff, 0xfe, // sequence number
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, // "ciphertext"
    ];

    fn ah_emit_a5(r: &AhRepr, total: usize) -> Vec<u8> {
        let mut buf = std::vec![0xa5u8; total];
        r.emit(&mut AhPacket::new_unchecked(&mut buf[..]));
        buf
    }

    #[test]
    fn ah_known_vector() {
        let p = AhPacket::new_checked(&AH_96[..]).unwrap();
        assert_eq!(p.next_header(), Protocol::TCP);
        assert_eq!(p.payload_len(), 4);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.spi(), 0x1001);
        assert_eq!(p.seq(), 42);
        assert_eq!(p.icv(), &AH_96[12..24]);
        assert_eq!(p.header(), &AH_96[..24]);
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        let r = AhRepr::parse(&p).unwrap();
        assert_eq!(r, AhRepr::new(Protocol::TCP, 0x1001, 42, 12).unwrap());
        // Emit zeroes the ICV and leaves the payload alone; writing the ICV back restores the
        // input exactly.
        let mut buf = ah_emit_a5(&r, 28);
        assert_eq!(buf[..12], AH_96[..12]);
        assert_eq!(buf[12..24], [0; 12]);
        assert_eq!(buf[24..], [0xa5; 4]);
        let mut v = AhPacket::new_checked(&mut buf[..]).unwrap();
        v.icv_mut().copy_from_slice(&AH_96[12..24]);
        v.payload_mut().copy_from_slice(&AH_96[24..]);
        assert_eq!(buf[..], AH_96);
    }

    #[test]
    fn ah_null_authentication_has_no_icv() {
        // RFC 4302 §2.2: with a null algorithm the payload length is 1 (a 12-byte header).
        let r = AhRepr::new(Protocol::UDP, 0x100, 1, 0).unwrap();
        let buf = ah_emit_a5(&r, 16);
        assert_eq!(buf[..4], [17, 1, 0, 0]);
        let p = AhPacket::new_checked(&buf[..]).unwrap();
        assert!(p.icv().is_empty());
        assert_eq!(p.payload(), &[0xa5; 4]);
        assert_eq!(AhRepr::parse(&p).unwrap(), r);
    }

    #[test]
    fn ah_round_trips_on_a5_buffers() {
        for icv_len in [0, 12, 16, 32, AH_MAX_ICV_LEN] {
            let r = AhRepr::new(Protocol::ESP, 0xdead_beef, u32::MAX, icv_len).unwrap();
            let buf = ah_emit_a5(&r, r.buffer_len() + 3);
            let p = AhPacket::new_checked(&buf[..]).unwrap();
            assert_eq!(p.header_len(), r.header_len());
            let parsed = AhRepr::parse(&p).unwrap();
            assert_eq!(parsed, r);
            assert_eq!(ah_emit_a5(&parsed, buf.len()), buf);
        }
        assert_eq!(
            AhPacket::new_unchecked(
                &ah_emit_a5(
                    &AhRepr::new(Protocol::TCP, 1, 1, AH_MAX_ICV_LEN).unwrap(),
                    AH_MAX_HEADER_LEN
                )[..]
            )
            .payload_len(),
            255
        );
    }

    #[test]
    fn ah_matches_etherparse() {
        let icv = [0x5au8; 16];
        let theirs = etherparse::IpAuthHeader::new(etherparse::IpNumber::TCP, 0x0102_0304, 7, &icv)
            .unwrap()
            .to_bytes();
        let p = AhPacket::new_checked(&theirs[..]).unwrap();
        let r = AhRepr::parse(&p).unwrap();
        assert_eq!(r, AhRepr::new(Protocol::TCP, 0x0102_0304, 7, 16).unwrap());
        assert_eq!(p.icv(), &icv);
        let zero_icv =
            etherparse::IpAuthHeader::new(etherparse::IpNumber::TCP, 0x0102_0304, 7, &[0; 16])
                .unwrap()
                .to_bytes();
        assert_eq!(ah_emit_a5(&r, 28)[..], zero_icv[..]);
    }

    #[test]
    fn ah_errors() {
        assert_eq!(
            AhPacket::new_checked(&AH_96[..11]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Ah,
                need: 12,
                have: 11
            }
        );
        assert_eq!(
            AhPacket::new_checked(&AH_96[..20]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Ah,
                need: 24,
                have: 20
            }
        );
        let mut zero_len = AH_96;
        zero_len[1] = 0;
        assert_eq!(
            AhPacket::new_checked(&zero_len[..]).unwrap_err(),
            Error::BadHeaderLength {
                layer: Layer::Ah,
                value: 8
            }
        );
        assert!(AhRepr::parse(&AhPacket::new_unchecked(&zero_len[..])).is_err());
        assert_eq!(
            AhRepr::new(Protocol::TCP, 1, 1, 6).unwrap_err(),
            Error::BadHeaderLength {
                layer: Layer::Ah,
                value: 18
            }
        );
        assert_eq!(
            AhRepr::new(Protocol::TCP, 1, 1, AH_MAX_ICV_LEN + 4).unwrap_err(),
            Error::BadHeaderLength {
                layer: Layer::Ah,
                value: AH_MAX_HEADER_LEN + 4
            }
        );
    }

    #[test]
    #[should_panic(expected = "not a multiple of 4")]
    fn ah_emit_refuses_an_unencodable_icv() {
        let r = AhRepr {
            next_header: Protocol::TCP,
            spi: 1,
            seq: 1,
            icv_len: 10,
        };
        ah_emit_a5(&r, 64);
    }

    #[test]
    fn esp_known_vector_and_round_trip() {
        let p = EspPacket::new_checked(&ESP[..]).unwrap();
        assert_eq!(p.spi(), 256);
        assert_eq!(p.seq(), 0xffff_fffe);
        assert_eq!(p.payload(), &ESP[8..]);
        let r = EspRepr::parse(&p).unwrap();
        assert_eq!(
            r,
            EspRepr {
                spi: 256,
                seq: 0xffff_fffe
            }
        );
        assert_eq!((r.header_len(), r.buffer_len()), (8, 8));
        let mut buf = [0xa5u8; 14];
        r.emit(&mut EspPacket::new_unchecked(&mut buf[..]));
        assert_eq!(buf[..8], ESP[..8]);
        assert_eq!(buf[8..], [0xa5; 6]);
        let mut v = EspPacket::new_checked(&mut buf[..]).unwrap();
        v.payload_mut().copy_from_slice(&ESP[8..]);
        assert_eq!(buf, ESP);
        let again = EspRepr::parse(&EspPacket::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn esp_errors() {
        assert_eq!(
            EspPacket::new_checked(&ESP[..7]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Esp,
                need: 8,
                have: 7
            }
        );
        assert!(EspRepr::parse(&EspPacket::new_unchecked(&ESP[..3])).is_err());
        // Exactly the header is a (degenerate) packet with no ciphertext.
        assert!(EspPacket::new_checked(&ESP[..8])
            .unwrap()
            .payload()
            .is_empty());
    }

    proptest! {
        /// Whatever the bytes, a checked AH view never panics, and emit reproduces the input
        /// apart from the reserved field and the ICV, which it zeroes.
        #[test]
        fn ah_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = AhPacket::new_checked(&bytes[..]) {
                let r = AhRepr::parse(&p).unwrap();
                let (hl, _, _, _) = (p.header_len(), p.icv(), p.payload(), p.reserved());
                let mut out = bytes.clone();
                r.emit(&mut AhPacket::new_unchecked(&mut out[..]));
                let mut expect = bytes.clone();
                expect[2..4].fill(0);
                expect[12..hl].fill(0);
                prop_assert_eq!(out, expect);
            }
            if let Ok(p) = EspPacket::new_checked(&bytes[..]) {
                let r = EspRepr::parse(&p).unwrap();
                let mut out = bytes.clone();
                r.emit(&mut EspPacket::new_unchecked(&mut out[..]));
                prop_assert_eq!(out, bytes);
            }
        }
    }
}
