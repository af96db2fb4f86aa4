//! UDP (RFC 768): datagram view, checksum over the IPv4 pseudo-header and the value `Repr`.
//!
//! [`Packet::new_checked`] validates the length field once (at least the 8-byte header, at most
//! the buffer; the buffer may be longer, e.g. Ethernet padding left in an IP payload slice);
//! afterwards no accessor panics. Everything length-dependent (payload, checksum) uses the
//! length field, never the buffer length.

use core::net::Ipv4Addr;

use crate::ipv4::Protocol;
use crate::{be16, checksum, put16, ChecksumCheck, ChecksumMode, Error, Layer, Result};

/// Header length.
pub const HEADER_LEN: usize = 8;

mod field {
    pub(crate) const SRC_PORT: usize = 0;
    pub(crate) const DST_PORT: usize = 2;
    pub(crate) const LENGTH: usize = 4;
    pub(crate) const CHECKSUM: usize = 6;
}

/// A zero-copy view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer holding a whole datagram (it may extend beyond the length field).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validates the header and the length field against the buffer.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        Error::need(Layer::Udp, HEADER_LEN, have)?;
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            return Err(Error::BadLength {
                layer: Layer::Udp,
                value: len,
            });
        }
        Error::need(Layer::Udp, len, have)
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

    /// Length field: header plus payload, in bytes.
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Whether the datagram carries no payload (length field is exactly 8).
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// Checksum field (0 means "no checksum" over IPv4).
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The datagram (header and payload) up to the length field.
    fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.len())]
    }

    /// The payload, up to the length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    /// Whether the checksum verifies for this source/destination pair. A zero field means the
    /// sender computed none (RFC 768) and verifies.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let ph = checksum::pseudo_header(src, dst, Protocol::UDP.0, self.len());
        checksum::combine(&[ph, checksum::sum(self.datagram())]) == 0xffff
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

    /// Sets the length field (header plus payload).
    pub fn set_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, v)
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v)
    }

    /// Computes the checksum over the pseudo-header, header and payload (up to the length
    /// field). A computed 0 is sent as 0xffff, since 0 would mean "no checksum" (RFC 768).
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let ph = checksum::pseudo_header(src, dst, Protocol::UDP.0, self.len());
        let c = !checksum::combine(&[ph, checksum::sum(self.datagram())]);
        self.set_checksum(if c == 0 { 0xffff } else { c })
    }

    /// Writes the uncomplemented pseudo-header sum (with the length field) into the checksum
    /// field, which is what a NIC doing UDP checksum offload (DPDK `RTE_MBUF_F_TX_UDP_CKSUM`,
    /// `rte_ipv4_phdr_cksum`) completes.
    pub fn fill_pseudo_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let ph = checksum::pseudo_header(src, dst, Protocol::UDP.0, self.len());
        self.set_checksum(ph)
    }

    /// The payload (up to the length field), mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The value of a UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload length in bytes (length field minus 8).
    pub payload_len: usize,
}

impl Repr {
    /// Reads a checked datagram, verifying the checksum if asked (a zero field verifies).
    pub fn parse<T: AsRef<[u8]>>(
        p: &Packet<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        check: ChecksumCheck,
    ) -> Result<Repr> {
        p.check_len()?;
        if check == ChecksumCheck::Verify && !p.verify_checksum(src, dst) {
            return Err(Error::BadChecksum { layer: Layer::Udp });
        }
        Ok(Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: usize::from(p.len()) - HEADER_LEN,
        })
    }

    /// Header length (always 8).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload (at most 65535; the caller keeps the payload within that).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header; the payload must already be in place when `mode` is
    /// [`ChecksumMode::Compute`]. [`ChecksumMode::Offload`] writes the pseudo-header sum.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        p: &mut Packet<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        mode: ChecksumMode,
    ) {
        debug_assert!(self.buffer_len() <= usize::from(u16::MAX));
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(self.buffer_len() as u16);
        match mode {
            ChecksumMode::Compute => p.fill_checksum(src, dst),
            ChecksumMode::Offload => p.fill_pseudo_checksum(src, dst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);

    fn emit_with(payload: &[u8], buf: &mut [u8], mode: ChecksumMode) -> Repr {
        let r = Repr {
            src_port: 49152,
            dst_port: 53,
            payload_len: payload.len(),
        };
        buf[HEADER_LEN..r.buffer_len()].copy_from_slice(payload);
        r.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, DST, mode);
        r
    }

    #[test]
    fn round_trip_on_a5_buffer() {
        let payload = *b"hello, burst";
        let mut buf = [0xa5u8; 20];
        let r = emit_with(&payload, &mut buf, ChecksumMode::Compute);
        assert_eq!(&buf[..6], &[0xc0, 0x00, 0x00, 0x35, 0x00, 0x14]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum(SRC, DST));
        assert_eq!(p.payload(), &payload);
        assert_eq!(Repr::parse(&p, SRC, DST, ChecksumCheck::Verify).unwrap(), r);
        let mut again = [0xa5u8; 20];
        again[HEADER_LEN..].copy_from_slice(&payload);
        r.emit(
            &mut Packet::new_unchecked(&mut again[..]),
            SRC,
            DST,
            ChecksumMode::Compute,
        );
        assert_eq!(buf, again);
        // Another destination does not verify (unless trusted).
        let other = Ipv4Addr::new(198, 19, 0, 3);
        assert_eq!(
            Repr::parse(&p, SRC, other, ChecksumCheck::Verify),
            Err(Error::BadChecksum { layer: Layer::Udp })
        );
        assert!(Repr::parse(&p, SRC, other, ChecksumCheck::Trust).is_ok());
    }

    #[test]
    fn checksum_matches_etherparse() {
        for len in [0usize, 1, 2, 7, 100, 1471] {
            let payload: std::vec::Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut buf = std::vec![0xa5u8; HEADER_LEN + len + 3];
            emit_with(&payload, &mut buf, ChecksumMode::Compute);
            let (h, _) = etherparse::UdpHeader::from_slice(&buf).unwrap();
            let want = h
                .calc_checksum_ipv4_raw(SRC.octets(), DST.octets(), &payload)
                .unwrap();
            assert_eq!(h.checksum, want, "len {len}");
            // Trailing bytes beyond the length field are not covered.
            assert!(Packet::new_checked(&buf[..])
                .unwrap()
                .verify_checksum(SRC, DST));
        }
    }

    #[test]
    fn zero_checksum_means_none_and_computed_zero_is_sent_as_ffff() {
        let mut buf = [0u8; 10];
        emit_with(&[0x12, 0x34], &mut buf, ChecksumMode::Compute);
        let mut none = buf;
        none[6..8].copy_from_slice(&[0, 0]);
        let p = Packet::new_checked(&none[..]).unwrap();
        assert!(p.verify_checksum(SRC, DST));
        assert!(Repr::parse(&p, SRC, DST, ChecksumCheck::Verify).is_ok());

        // Choose a payload word that makes the one's-complement sum 0xffff, so the checksum
        // computes to 0 and must go out as 0xffff.
        let mut zero = [0u8; 10];
        emit_with(&[0, 0], &mut zero, ChecksumMode::Compute);
        let c = be16(&zero, 6);
        // Adding word w raises the sum by w; we need the sum to reach 0xffff (checksum 0).
        let w = c; // old checksum = !sum, so sum + c == 0xffff.
        let mut buf2 = [0u8; 10];
        emit_with(&w.to_be_bytes(), &mut buf2, ChecksumMode::Compute);
        assert_eq!(be16(&buf2, 6), 0xffff);
        assert!(Packet::new_checked(&buf2[..])
            .unwrap()
            .verify_checksum(SRC, DST));
    }

    #[test]
    fn offload_writes_the_pseudo_header_sum() {
        let mut buf = [0xa5u8; 12];
        emit_with(&[1, 2, 3, 4], &mut buf, ChecksumMode::Offload);
        let want = checksum::pseudo_header(SRC, DST, 17, 12);
        assert_eq!(be16(&buf, 6), want);
        // What the NIC then does: sum everything (field included) and complement.
        let mut full = buf;
        let c = !checksum::sum(&full);
        full[6..8].copy_from_slice(&c.to_be_bytes());
        let mut sw = buf;
        Packet::new_unchecked(&mut sw[..]).fill_checksum(SRC, DST);
        assert_eq!(full, sw);
    }

    #[test]
    fn length_errors() {
        let mut buf = [0u8; 16];
        emit_with(&[9; 8], &mut buf, ChecksumMode::Compute);
        assert_eq!(
            Packet::new_checked(&buf[..7]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Udp,
                need: 8,
                have: 7
            }
        );
        assert_eq!(
            Packet::new_checked(&buf[..15]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Udp,
                need: 16,
                have: 15
            }
        );
        let mut short = buf;
        short[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&short[..]).unwrap_err(),
            Error::BadLength {
                layer: Layer::Udp,
                value: 7
            }
        );
        // A longer buffer is fine; the payload stops at the length field.
        let mut padded = [0u8; 60];
        padded[..16].copy_from_slice(&buf);
        let p = Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload(), &[9; 8]);
        assert!(!p.is_empty());
        assert!(p.verify_checksum(SRC, DST));
        let mut p = Packet::new_checked(&mut padded[..]).unwrap();
        assert_eq!(p.payload_mut().len(), 8);
        let r = Repr::parse(&p, SRC, DST, ChecksumCheck::Verify).unwrap();
        assert_eq!((r.header_len(), r.buffer_len()), (8, 16));
        assert_eq!(p.into_inner().len(), 60);
    }
}
