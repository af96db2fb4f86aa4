//! The mbuf as a [`PacketBuf`], and the mapping of offload and receive metadata to its flags.

use super::*;

/// A DPDK packet buffer (`struct rte_mbuf`), owned: dropping it frees the whole chain.
///
/// `#[repr(transparent)]` over the pointer, so `[Mbuf]` has the layout of
/// `struct rte_mbuf *[]`.
#[repr(transparent)]
pub struct Mbuf(pub(super) NonNull<sys::rte_mbuf>);

// The zero-copy burst path relies on this.
const _: () = assert!(core::mem::size_of::<Mbuf>() == core::mem::size_of::<*mut sys::rte_mbuf>());

// SAFETY: an Mbuf is the unique owner of its mbuf (we never hand out shared clones), and
// freeing returns it to a thread-safe pool, so it may move between threads.
unsafe impl Send for Mbuf {}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf chain; it is not used after this.
        unsafe { sys::burst_rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.raw();
        fm.debug_struct("Mbuf")
            .field("pkt_len", &m.pkt_len)
            .field("nb_segs", &m.nb_segs)
            .field("data_off", &m.data_off)
            .field("data_len", &m.data_len)
            .field("ol_flags", &format_args!("{:#x}", m.ol_flags))
            .finish()
    }
}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `m` must be a valid mbuf (head of its chain) that nothing else owns or frees.
    pub unsafe fn from_raw(m: NonNull<sys::rte_mbuf>) -> Mbuf {
        Mbuf(m)
    }

    /// Gives up ownership: the caller must free the mbuf (or hand it to DPDK).
    pub fn into_raw(self) -> NonNull<sys::rte_mbuf> {
        let p = self.0;
        core::mem::forget(self);
        p
    }

    /// The raw mbuf (still owned by `self`).
    pub fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.0.as_ptr()
    }

    /// DPDK's offload flags.
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.raw().ol_flags
    }

    /// The port it was received on.
    #[inline]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    #[inline]
    pub(super) fn raw(&self) -> &sys::rte_mbuf {
        // SAFETY: we own a valid mbuf; the reference lives no longer than `self`.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    pub(super) fn raw_mut(&mut self) -> &mut sys::rte_mbuf {
        // SAFETY: we own a valid mbuf exclusively; the reference lives no longer than `self`.
        unsafe { self.0.as_mut() }
    }

    /// The last segment of the chain.
    #[inline]
    fn last_seg(&mut self) -> &mut sys::rte_mbuf {
        let mut m = self.0.as_ptr();
        // Most buffers are one segment: `nb_segs` is in the first cache line, `next` in the
        // second, so this saves touching the second one.
        if self.raw().nb_segs == 1 {
            // SAFETY: we own the mbuf exclusively through `&mut self`.
            return unsafe { &mut *m };
        }
        // SAFETY: `next` links are valid mbufs of our chain (or null at the end); we own the
        // chain exclusively through `&mut self`.
        unsafe {
            while !(*m).next.is_null() {
                m = (*m).next;
            }
            &mut *m
        }
    }
}

/// Bytes of a segment's data.
///
/// # Safety
/// `m` must be a valid mbuf that outlives `'a` and is not written meanwhile.
#[inline]
unsafe fn seg_data<'a>(m: *const sys::rte_mbuf) -> &'a [u8] {
    // SAFETY: an mbuf's data (buf_addr + data_off, data_len bytes) lies within its buffer
    // (DPDK invariant data_off + data_len ≤ buf_len), valid as the caller promises.
    unsafe {
        let m = &*m;
        core::slice::from_raw_parts(
            m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
            usize::from(m.data_len),
        )
    }
}

/// Iterator over an mbuf chain's segments.
#[derive(Debug)]
pub struct MbufSegments<'a> {
    cur: *const sys::rte_mbuf,
    _chain: PhantomData<&'a Mbuf>,
}

impl<'a> Iterator for MbufSegments<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.cur.is_null() {
            return None;
        }
        // SAFETY: `cur` is a segment of a chain borrowed for 'a (shared), so it is valid and
        // unchanged for 'a; `next` is the following segment or null.
        unsafe {
            let s = seg_data(self.cur);
            self.cur = (*self.cur).next;
            Some(s)
        }
    }
}

impl PacketBuf for Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        // SAFETY: we own the mbuf; the slice borrows `self`.
        unsafe { seg_data(self.0.as_ptr()) }
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw_mut();
        // SAFETY: as in `seg_data`; we own the mbuf (refcnt 1: this crate never shares
        // buffers) so no one else reads or writes the bytes while `self` is borrowed mutably.
        unsafe {
            core::slice::from_raw_parts_mut(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    #[inline]
    fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    #[inline]
    fn nb_segs(&self) -> usize {
        usize::from(self.raw().nb_segs)
    }

    #[inline]
    fn headroom(&self) -> usize {
        usize::from(self.raw().data_off)
    }

    fn tailroom(&self) -> usize {
        let mut m = self.0.as_ptr().cast_const();
        // SAFETY: walks our own chain of valid mbufs to the last one and reads its lengths.
        unsafe {
            while !(*m).next.is_null() {
                m = (*m).next;
            }
            usize::from((*m).buf_len - (*m).data_off - (*m).data_len)
        }
    }

    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let m = self.raw_mut();
        if n > usize::from(m.data_off) {
            return None;
        }
        // n ≤ data_off ≤ u16::MAX, and data_len + data_off ≤ buf_len, so nothing overflows.
        let n16 = n as u16;
        m.data_off -= n16;
        m.data_len += n16;
        m.pkt_len += u32::from(n16);
        // SAFETY: the first `n` bytes of the (grown) data are inside the buffer; owned by us.
        Some(unsafe {
            core::slice::from_raw_parts_mut(m.buf_addr.cast::<u8>().add(usize::from(m.data_off)), n)
        })
    }

    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let head = self.0.as_ptr();
        let last = self.last_seg();
        let room = usize::from(last.buf_len - last.data_off - last.data_len);
        if n > room {
            return None;
        }
        let at = usize::from(last.data_off) + usize::from(last.data_len);
        last.data_len += n as u16;
        let p = last.buf_addr.cast::<u8>();
        // SAFETY: `head` is our chain's first mbuf; `last` is no longer used, so updating
        // the head's pkt_len does not alias a live reference.
        unsafe { (*head).pkt_len += n as u32 };
        // SAFETY: bytes [at, at + n) are inside the last segment's buffer (n ≤ tailroom).
        Some(unsafe { core::slice::from_raw_parts_mut(p.add(at), n) })
    }

    fn adj(&mut self, n: usize) -> bool {
        let m = self.raw_mut();
        if n > usize::from(m.data_len) {
            return false;
        }
        let n16 = n as u16;
        m.data_off += n16;
        m.data_len -= n16;
        m.pkt_len -= u32::from(n16);
        true
    }

    fn trim(&mut self, n: usize) -> bool {
        let head = self.0.as_ptr();
        let last = self.last_seg();
        if n > usize::from(last.data_len) {
            return false;
        }
        last.data_len -= n as u16;
        // SAFETY: `head` is our chain's first mbuf; `last` is no longer used.
        unsafe { (*head).pkt_len -= n as u32 };
        true
    }

    type Segments<'a> = MbufSegments<'a>;

    fn segments(&self) -> MbufSegments<'_> {
        MbufSegments {
            cur: self.0.as_ptr(),
            _chain: PhantomData,
        }
    }

    fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        // SAFETY: both are valid chains we own; on success the head takes ownership of the
        // tail's segments, so the tail handle is forgotten, on failure nothing changed.
        let ret = unsafe { sys::burst_rte_pktmbuf_chain(self.0.as_ptr(), tail.as_ptr()) };
        if ret == 0 {
            core::mem::forget(tail);
            Ok(())
        } else {
            Err(tail)
        }
    }

    #[inline]
    fn tx_offload(&self) -> TxOffload {
        tx_offload_of(self.raw())
    }

    #[inline]
    fn set_tx_offload(&mut self, o: TxOffload) {
        set_tx_offload_on(self.raw_mut(), o)
    }

    #[inline]
    fn rx_meta(&self) -> RxMeta {
        rx_meta_of(self.raw())
    }

    #[inline]
    fn set_rx_meta(&mut self, meta: RxMeta) {
        set_rx_meta_on(self.raw_mut(), meta)
    }
}

/// The transmit flags we set or read (the rest of `ol_flags` is left alone).
pub(super) const TX_FLAGS: u64 = f::RTE_MBUF_F_TX_IPV4
    | f::RTE_MBUF_F_TX_IP_CKSUM
    | f::RTE_MBUF_F_TX_L4_MASK
    | f::RTE_MBUF_F_TX_TCP_SEG;

fn tx_offload_of(m: &sys::rte_mbuf) -> TxOffload {
    let fl = m.ol_flags;
    // Without a transmit flag the lengths mean nothing (a buffer from `alloc_bulk` keeps
    // the last user's): no offload.
    if fl & TX_FLAGS == 0 {
        return TxOffload::default();
    }
    // SAFETY: the tx_offload union is plain integers in every variant.
    let lens = unsafe { m.__bindgen_anon_3.__bindgen_anon_1 };
    TxOffload {
        l2_len: lens.l2_len() as u8,
        l3_len: lens.l3_len() as u8,
        l4_len: lens.l4_len() as u8,
        ipv4_checksum: fl & f::RTE_MBUF_F_TX_IP_CKSUM != 0,
        l4_checksum: match fl & f::RTE_MBUF_F_TX_L4_MASK {
            f::RTE_MBUF_F_TX_TCP_CKSUM => Some(L4Checksum::Tcp),
            f::RTE_MBUF_F_TX_UDP_CKSUM => Some(L4Checksum::Udp),
            _ => None,
        },
        tso_segsz: if fl & f::RTE_MBUF_F_TX_TCP_SEG != 0 {
            lens.tso_segsz() as u16
        } else {
            0
        },
    }
}

fn set_tx_offload_on(m: &mut sys::rte_mbuf, o: TxOffload) {
    let mut fl = m.ol_flags & !TX_FLAGS;
    if !o.is_empty() {
        // Every IPv4 offload (L4 checksum and TSO included) needs TX_IPV4 for the driver to
        // find the L4 header with l2_len + l3_len.
        fl |= f::RTE_MBUF_F_TX_IPV4;
    }
    if o.ipv4_checksum {
        fl |= f::RTE_MBUF_F_TX_IP_CKSUM;
    }
    fl |= match o.l4_checksum {
        Some(L4Checksum::Tcp) => f::RTE_MBUF_F_TX_TCP_CKSUM,
        Some(L4Checksum::Udp) => f::RTE_MBUF_F_TX_UDP_CKSUM,
        None => f::RTE_MBUF_F_TX_L4_NO_CKSUM,
    };
    if o.tso_segsz != 0 {
        fl |= f::RTE_MBUF_F_TX_TCP_SEG;
    }
    m.ol_flags = fl;
    // SAFETY: the tx_offload union is plain integers in every variant; writing the bitfields
    // leaves the outer_l2/l3 lengths (unused by us) as they were.
    let lens = unsafe { &mut m.__bindgen_anon_3.__bindgen_anon_1 };
    lens.set_l2_len(u64::from(o.l2_len));
    lens.set_l3_len(u64::from(o.l3_len));
    lens.set_l4_len(u64::from(o.l4_len));
    lens.set_tso_segsz(u64::from(o.tso_segsz));
}

fn checksum_status(fl: u64, mask: u64, good: u64, bad: u64) -> ChecksumStatus {
    match fl & mask {
        x if x == good => ChecksumStatus::Good,
        x if x == bad => ChecksumStatus::Bad,
        // NONE: the checksum field is not filled in but the data was verified (virtio from a
        // local guest); for the stack that is as good as a correct checksum.
        x if x == mask => ChecksumStatus::Good,
        _ => ChecksumStatus::Unknown,
    }
}

fn rx_meta_of(m: &sys::rte_mbuf) -> RxMeta {
    let fl = m.ol_flags;
    // SAFETY: the union variants are plain integers.
    let (rss, ptype) = unsafe { (m.__bindgen_anon_2.hash.rss, m.__bindgen_anon_1.packet_type) };
    RxMeta {
        rss_hash: (fl & f::RTE_MBUF_F_RX_RSS_HASH != 0).then_some(rss),
        ip_checksum: checksum_status(
            fl,
            f::RTE_MBUF_F_RX_IP_CKSUM_MASK,
            f::RTE_MBUF_F_RX_IP_CKSUM_GOOD,
            f::RTE_MBUF_F_RX_IP_CKSUM_BAD,
        ),
        l4_checksum: checksum_status(
            fl,
            f::RTE_MBUF_F_RX_L4_CKSUM_MASK,
            f::RTE_MBUF_F_RX_L4_CKSUM_GOOD,
            f::RTE_MBUF_F_RX_L4_CKSUM_BAD,
        ),
        packet_type: packet_type_of(ptype),
    }
}

fn packet_type_of(pt: u32) -> PacketType {
    if pt == sys::RTE_PTYPE_UNKNOWN {
        return PacketType::Unknown;
    }
    if pt & sys::RTE_PTYPE_L2_MASK == sys::RTE_PTYPE_L2_ETHER_ARP {
        return PacketType::Arp;
    }
    match pt & sys::RTE_PTYPE_L3_MASK {
        sys::RTE_PTYPE_L3_IPV4
        | sys::RTE_PTYPE_L3_IPV4_EXT
        | sys::RTE_PTYPE_L3_IPV4_EXT_UNKNOWN => match pt & sys::RTE_PTYPE_L4_MASK {
            sys::RTE_PTYPE_L4_TCP => PacketType::Ipv4Tcp,
            sys::RTE_PTYPE_L4_UDP => PacketType::Ipv4Udp,
            _ => PacketType::Ipv4Other,
        },
        _ => PacketType::Other,
    }
}

fn set_rx_meta_on(m: &mut sys::rte_mbuf, meta: RxMeta) {
    let status = |s: ChecksumStatus, good: u64, bad: u64| match s {
        ChecksumStatus::Unknown => 0,
        ChecksumStatus::Good => good,
        ChecksumStatus::Bad => bad,
    };
    let mut fl = m.ol_flags
        & !(f::RTE_MBUF_F_RX_RSS_HASH
            | f::RTE_MBUF_F_RX_IP_CKSUM_MASK
            | f::RTE_MBUF_F_RX_L4_CKSUM_MASK);
    fl |= status(
        meta.ip_checksum,
        f::RTE_MBUF_F_RX_IP_CKSUM_GOOD,
        f::RTE_MBUF_F_RX_IP_CKSUM_BAD,
    );
    fl |= status(
        meta.l4_checksum,
        f::RTE_MBUF_F_RX_L4_CKSUM_GOOD,
        f::RTE_MBUF_F_RX_L4_CKSUM_BAD,
    );
    if let Some(h) = meta.rss_hash {
        fl |= f::RTE_MBUF_F_RX_RSS_HASH;
        m.__bindgen_anon_2.hash.rss = h;
    }
    m.ol_flags = fl;
    let ether = sys::RTE_PTYPE_L2_ETHER;
    let v4 = sys::RTE_PTYPE_L3_IPV4_EXT_UNKNOWN;
    m.__bindgen_anon_1.packet_type = match meta.packet_type {
        PacketType::Unknown => sys::RTE_PTYPE_UNKNOWN,
        PacketType::Arp => sys::RTE_PTYPE_L2_ETHER_ARP,
        PacketType::Ipv4Tcp => ether | v4 | sys::RTE_PTYPE_L4_TCP,
        PacketType::Ipv4Udp => ether | v4 | sys::RTE_PTYPE_L4_UDP,
        PacketType::Ipv4Other => ether | v4,
        PacketType::Other => ether,
    };
}

#[cfg(test)]
mod tests {
    //! The flag mappings, on a zeroed `rte_mbuf` (no EAL needed).
    use super::*;

    fn blank() -> sys::rte_mbuf {
        // SAFETY: rte_mbuf is plain data; these tests only read and write its fields.
        unsafe { core::mem::zeroed() }
    }

    #[test]
    fn symmetric_key_is_6d5a() {
        assert_eq!(&SYMMETRIC_RSS_KEY[..4], &[0x6d, 0x5a, 0x6d, 0x5a]);
        assert!(SYMMETRIC_RSS_KEY.chunks(2).all(|c| c == [0x6d, 0x5a]));
    }

    #[test]
    fn tx_offload_sets_exactly_dpdks_flags() {
        let mut m = blank();
        m.ol_flags = f::RTE_MBUF_F_RX_IP_CKSUM_GOOD; // rx bits survive
        let o = TxOffload {
            l2_len: 14,
            l3_len: 20,
            l4_len: 32,
            ipv4_checksum: true,
            l4_checksum: Some(L4Checksum::Tcp),
            tso_segsz: 1448,
        };
        set_tx_offload_on(&mut m, o);
        assert_eq!(
            m.ol_flags,
            f::RTE_MBUF_F_RX_IP_CKSUM_GOOD
                | f::RTE_MBUF_F_TX_IPV4
                | f::RTE_MBUF_F_TX_IP_CKSUM
                | f::RTE_MBUF_F_TX_TCP_CKSUM
                | f::RTE_MBUF_F_TX_TCP_SEG
        );
        // The union as DPDK's rte_mbuf_tx_offload() packs it: 7 + 9 + 8 + 16 bits.
        // SAFETY: plain integer union.
        let raw = unsafe { m.__bindgen_anon_3.tx_offload };
        assert_eq!(raw, 14 | (20 << 7) | (32 << 16) | (1448 << 24));
        assert_eq!(tx_offload_of(&m), o);

        let udp = TxOffload {
            l2_len: 18,
            l3_len: 60,
            l4_checksum: Some(L4Checksum::Udp),
            ..TxOffload::default()
        };
        set_tx_offload_on(&mut m, udp);
        assert_eq!(
            m.ol_flags,
            f::RTE_MBUF_F_RX_IP_CKSUM_GOOD | f::RTE_MBUF_F_TX_IPV4 | f::RTE_MBUF_F_TX_UDP_CKSUM
        );
        assert_eq!(tx_offload_of(&m), udp);

        set_tx_offload_on(&mut m, TxOffload::default());
        assert_eq!(m.ol_flags, f::RTE_MBUF_F_RX_IP_CKSUM_GOOD);
        assert!(tx_offload_of(&m).is_empty());

        // Lengths a previous user left (an mbuf from `alloc_bulk`, whose second cache line
        // is not reset) under no transmit flag: no offload.
        set_tx_offload_on(&mut m, o);
        m.ol_flags &= !TX_FLAGS;
        assert_eq!(tx_offload_of(&m), TxOffload::default());
    }

    #[test]
    fn rx_meta_round_trips_and_reads_driver_flags() {
        let mut m = blank();
        m.ol_flags = f::RTE_MBUF_F_TX_IPV4; // tx bits survive
        let types = [
            PacketType::Unknown,
            PacketType::Arp,
            PacketType::Ipv4Tcp,
            PacketType::Ipv4Udp,
            PacketType::Ipv4Other,
            PacketType::Other,
        ];
        let st = [
            ChecksumStatus::Unknown,
            ChecksumStatus::Good,
            ChecksumStatus::Bad,
        ];
        for (i, &packet_type) in types.iter().enumerate() {
            for &ip in &st {
                for &l4 in &st {
                    let meta = RxMeta {
                        rss_hash: (i % 2 == 0).then_some(0xdead_beef ^ i as u32),
                        ip_checksum: ip,
                        l4_checksum: l4,
                        packet_type,
                    };
                    set_rx_meta_on(&mut m, meta);
                    assert_eq!(rx_meta_of(&m), meta);
                    assert_ne!(m.ol_flags & f::RTE_MBUF_F_TX_IPV4, 0);
                }
            }
        }
        // What a NIC writes: NONE counts as verified; an IPv4 ptype with options and UDP.
        m.ol_flags = f::RTE_MBUF_F_RX_IP_CKSUM_NONE | f::RTE_MBUF_F_RX_L4_CKSUM_BAD;
        m.__bindgen_anon_1.packet_type =
            sys::RTE_PTYPE_L2_ETHER | sys::RTE_PTYPE_L3_IPV4_EXT | sys::RTE_PTYPE_L4_UDP;
        let meta = rx_meta_of(&m);
        assert_eq!(meta.ip_checksum, ChecksumStatus::Good);
        assert_eq!(meta.l4_checksum, ChecksumStatus::Bad);
        assert_eq!(meta.packet_type, PacketType::Ipv4Udp);
        assert_eq!(meta.rss_hash, None);
        m.__bindgen_anon_1.packet_type =
            sys::RTE_PTYPE_L2_ETHER | sys::RTE_PTYPE_L3_IPV4 | sys::RTE_PTYPE_L4_FRAG;
        assert_eq!(rx_meta_of(&m).packet_type, PacketType::Ipv4Other);
    }
}
