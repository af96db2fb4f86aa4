use core::net::Ipv4Addr;

use burst_port::{ChecksumStatus, Nanos, PacketBuf, TxOffload};
use burst_wire::ipv4::{self, Protocol, HEADER_LEN, MAX_DATAGRAM};

use super::*;
use crate::icmp::{self, ErrorKind};
use burst_port::mem::{MemBuf, MemPool, DEFAULT_BUF_SIZE};
use burst_port::L4Checksum;
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::icmpv4::{self, TimeExceeded};
use burst_wire::ipv4::{Ipv4Option, Options, OptionsIter};
use burst_wire::{ChecksumCheck, ChecksumMode};
use proptest::prelude::*;

const L2: usize = ethernet::HEADER_LEN;
const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);
const T0: Nanos = Nanos::from_secs(1);
/// Record route (not copied) with two empty slots, then router alert (copied): 16 bytes
/// padded; later fragments carry 4.
const RR_RA: &[u8] = &[7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 148, 4, 0, 0];
/// Loose source route (copied), 7 bytes: later fragments carry it padded to 8.
const LSRR: &[u8] = &[131, 7, 4, 198, 18, 0, 9];
/// The longest option area, 40 NOPs (a 60-byte header).
const NOPS: &[u8] = &[1; 40];

fn frame_bytes(ip: ipv4::Repr, payload: &[u8]) -> Vec<u8> {
    let ip = ipv4::Repr {
        payload_len: payload.len(),
        ..ip
    };
    let mut b = vec![0u8; L2 + ip.buffer_len()];
    ethernet::Repr {
        src_addr: MacAddr::new(2, 0, 0, 0, 0, 1),
        dst_addr: MacAddr::new(2, 0, 0, 0, 0, 2),
        vlan: None,
        ethertype: EtherType::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut b[..]));
    let hl = ip.header_len();
    b[L2 + hl..].copy_from_slice(payload);
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut b[L2..]),
        ChecksumMode::Compute,
    );
    b
}

fn header(ident: u16, protocol: Protocol, opts: &[u8]) -> ipv4::Repr {
    ipv4::Repr {
        ident,
        options: Options::from_bytes(opts).unwrap(),
        ..ipv4::Repr::new(SRC, DST, protocol, 0, 64)
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32 * 31 + u32::from(seed) * 7 + (i >> 8) as u32) as u8)
        .collect()
}

fn bytes(b: &MemBuf) -> Vec<u8> {
    let mut v = vec![0; b.pkt_len()];
    b.copy_to(&mut v);
    v
}

/// A whole UDP datagram of `len` payload bytes, as a (possibly chained) buffer.
fn datagram(pool: &MemPool, len: usize, opts: &[u8]) -> (MemBuf, Vec<u8>) {
    let b = frame_bytes(header(0x4242, Protocol::UDP, opts), &pattern(len, 1));
    (pool.alloc_from(&b).unwrap(), b)
}

/// A fragment built by hand: `payload` at byte `offset`.
fn frag(
    pool: &MemPool,
    ident: u16,
    protocol: Protocol,
    offset: u16,
    more: bool,
    payload: &[u8],
    opts: &[u8],
) -> MemBuf {
    let ip = ipv4::Repr {
        frag_offset: offset,
        more_frags: more,
        ..header(ident, protocol, opts)
    };
    pool.alloc_from(&frame_bytes(ip, payload)).unwrap()
}

fn udp(pool: &MemPool, ident: u16, offset: u16, more: bool, len: usize) -> MemBuf {
    let data = pattern(len, offset as u8);
    frag(pool, ident, Protocol::UDP, offset, more, &data, &[])
}

fn split(pool: &MemPool, d: &MemBuf, mtu: u16) -> Result<Vec<MemBuf>, FragError> {
    let mut v = Vec::new();
    let n = fragment(d, L2, mtu, &mut || pool.alloc(), &mut |f| v.push(f))?;
    assert_eq!(n, v.len());
    Ok(v)
}

fn reassembler() -> Reassembler<MemBuf> {
    Reassembler::new(ReassemblyConfig::default())
}

/// The options other than padding and NOPs.
fn real_options(raw: &[u8]) -> Vec<Ipv4Option<'_>> {
    OptionsIter::new(raw)
        .map(Result::unwrap)
        .filter(|o| !matches!(o, Ipv4Option::EndOfList | Ipv4Option::NoOperation))
        .collect()
}

/// Every fragment is a valid datagram within the MTU, in order, covering `orig` exactly,
/// with RFC 791's flags and options.
#[track_caller]
fn check_fragments(frags: &[MemBuf], orig: &[u8], mtu: u16) {
    let o = ipv4::Packet::new_checked(&orig[L2..]).unwrap();
    let copied: Vec<_> = real_options(o.options())
        .into_iter()
        .filter(Ipv4Option::is_copied)
        .collect();
    let mut at = 0;
    for (i, f) in frags.iter().enumerate() {
        let b = bytes(f);
        assert_eq!(b[..L2], orig[..L2], "link header copied");
        let p = ipv4::Packet::new_checked(&b[L2..]).unwrap();
        assert_eq!(b.len(), L2 + usize::from(p.total_len()));
        assert!(p.total_len() <= mtu && p.verify_checksum());
        assert_eq!(
            (p.ident(), p.src_addr(), p.dst_addr(), p.protocol(), p.ttl()),
            (o.ident(), o.src_addr(), o.dst_addr(), o.protocol(), o.ttl())
        );
        assert!(!p.dont_frag());
        assert_eq!(
            usize::from(p.frag_offset()),
            usize::from(o.frag_offset()) + at
        );
        let last = i + 1 == frags.len();
        assert_eq!(p.more_frags(), !last || o.more_frags());
        let n = p.payload().len();
        assert!(n > 0 && (last || n % 8 == 0));
        assert_eq!(p.payload(), &o.payload()[at..at + n]);
        at += n;
        if i == 0 {
            assert_eq!(p.options(), o.options(), "first fragment: every option");
        } else {
            assert_eq!(real_options(p.options()), copied, "later: copied ones only");
            assert_eq!(p.header_len() % 4, 0);
        }
        assert_eq!(f.tx_offload().l3_len as usize, p.header_len());
    }
    assert_eq!(at, o.payload().len());
}

/// Inserts every buffer at `now`; returns the completed datagrams and the drop reasons.
fn feed(
    r: &mut Reassembler<MemBuf>,
    frags: impl IntoIterator<Item = MemBuf>,
    now: Nanos,
) -> (Vec<MemBuf>, Vec<DropReason>) {
    let (mut done, mut dropped) = (Vec::new(), Vec::new());
    for f in frags {
        match r.insert(f, L2, now) {
            Insert::Complete(b) => done.push(b),
            Insert::Pending => {}
            Insert::Dropped(why) => dropped.push(why),
        }
    }
    (done, dropped)
}

#[track_caller]
fn pending(r: &mut Reassembler<MemBuf>, f: MemBuf) {
    let got = r.insert(f, L2, T0);
    assert!(matches!(got, Insert::Pending), "{got:?}");
}

#[track_caller]
fn dropped(r: &mut Reassembler<MemBuf>, f: MemBuf, why: DropReason) {
    match r.insert(f, L2, T0) {
        Insert::Dropped(w) => assert_eq!(w, why),
        other => panic!("expected {why:?}, got {other:?}"),
    }
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Fragment at a random MTU, deliver in order, reversed or shuffled with duplicates:
    /// exactly one datagram comes out, byte-equal to the original, and every buffer is
    /// back in the pool at the end.
    #[test]
    fn round_trip(
        mtu in 68u16..=2000,
        len_pick in any::<u32>(),
        opts_pick in 0usize..3,
        order in 0u8..3,
        seed in any::<u64>(),
        dups in 0usize..4,
    ) {
        let pool = MemPool::new(512, DEFAULT_BUF_SIZE);
        let opts = [&[][..], RR_RA, LSRR][opts_pick];
        let hl = HEADER_LEN + opts.len().next_multiple_of(4);
        let later_hl = HEADER_LEN + [0, 4, 8][opts_pick];
        let (first, later) = ((usize::from(mtu) - hl) & !7, (usize::from(mtu) - later_hl) & !7);
        // Above the MTU, at most 64 fragments (the default per-datagram limit).
        let min = usize::from(mtu) - hl + 1;
        let max = (first + 63 * later).min(MAX_DATAGRAM - hl);
        let len = min + len_pick as usize % (max - min + 1);
        let (d, orig) = datagram(&pool, len, opts);
        let mut frags = split(&pool, &d, mtu).unwrap();
        check_fragments(&frags, &orig, mtu);
        drop(d);
        let n = frags.len();
        let mut rng = XorShift(seed | 1);
        match order {
            0 => {}
            1 => frags.reverse(),
            _ => {
                for i in (1..n).rev() {
                    frags.swap(i, rng.below(i + 1));
                }
            }
        }
        for _ in 0..dups {
            let copy = frags[rng.below(n)].try_clone().unwrap();
            let at = rng.below(frags.len() + 1);
            frags.insert(at, copy);
        }
        let mut r = reassembler();
        let (mut done, why) = feed(&mut r, frags, T0);
        // Once, or again when duplicates of every fragment follow the first completion
        // (a duplicated datagram is delivered twice, as without fragmentation).
        prop_assert!(!done.is_empty());
        prop_assert!(why.iter().all(|w| *w == DropReason::Duplicate), "{:?}", why);
        prop_assert_eq!(r.stats().reasm_oks, done.len() as u64);
        let whole = done.remove(0);
        prop_assert_eq!(whole.nb_segs(), n, "zero-copy: one segment per fragment");
        let b = bytes(&whole);
        prop_assert_eq!(&b, &orig);
        let p = ipv4::Packet::new_checked(&b[L2..]).unwrap();
        prop_assert!(ipv4::Repr::parse(&p, ChecksumCheck::Verify).is_ok());
        for again in done {
            prop_assert_eq!(bytes(&again), orig.clone());
        }
        drop(whole);
        // Duplicates arriving after completion start a new reassembly that times out.
        let mut handed_back = 0;
        r.expire(T0 + r.config().timeout, |_| handed_back += 1);
        prop_assert_eq!(r.in_progress(), 0);
        prop_assert_eq!(r.held_bytes(), 0);
        prop_assert_eq!(pool.in_use(), 0);
    }
}

#[test]
fn reassembly_chains_without_copying() {
    let pool = MemPool::new(64, DEFAULT_BUF_SIZE);
    let (d, orig) = datagram(&pool, 4000, &[]);
    let frags = split(&pool, &d, 1500).unwrap();
    drop(d);
    assert_eq!(pool.in_use(), 3);
    let mut r = reassembler();
    let (done, _) = feed(&mut r, frags, T0);
    assert_eq!(pool.in_use(), 3, "no buffer taken to reassemble");
    assert_eq!(done[0].nb_segs(), 3);
    assert_eq!(bytes(&done[0]), orig);
    assert_eq!(done[0].rx_meta().ip_checksum, ChecksumStatus::Good);
    assert_eq!((r.in_progress(), r.held_bytes()), (0, 0));
    drop(done);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn fragmenting_a_fragment() {
    let pool = MemPool::new(128, DEFAULT_BUF_SIZE);
    let (d, orig) = datagram(&pool, 3000, &[]);
    let level1 = split(&pool, &d, 1500).unwrap();
    drop(d);
    assert_eq!(level1.len(), 3);
    let mut pieces = Vec::new();
    for f in &level1 {
        match split(&pool, f, 576) {
            Ok(sub) => {
                check_fragments(&sub, &bytes(f), 576);
                if ipv4::Packet::new_checked(&bytes(f)[L2..])
                    .unwrap()
                    .more_frags()
                {
                    assert!(sub.iter().all(|s| bytes(s)[L2 + 6] & 0x20 != 0), "MF kept");
                }
                pieces.extend(sub);
            }
            Err(e) => {
                assert_eq!(e, FragError::Fits, "only the 40-byte tail fits");
                pieces.push(f.try_clone().unwrap());
            }
        }
    }
    drop(level1);
    assert_eq!(pieces.len(), 3 + 3 + 1);
    pieces.reverse();
    let mut r = reassembler();
    let (done, why) = feed(&mut r, pieces, T0);
    assert!(why.is_empty());
    assert_eq!(bytes(&done[0]), orig);
    drop(done);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn options_go_to_the_first_fragment_copied_ones_to_all() {
    let pool = MemPool::new(64, DEFAULT_BUF_SIZE);
    for (opts, later) in [
        (RR_RA, &[148u8, 4, 0, 0][..]),
        (LSRR, &[131, 7, 4, 198, 18, 0, 9, 0][..]),
        (NOPS, &[][..]),
    ] {
        let (d, orig) = datagram(&pool, 1500, opts);
        let frags = split(&pool, &d, 576).unwrap();
        check_fragments(&frags, &orig, 576);
        let first = bytes(&frags[0]);
        let p = ipv4::Packet::new_checked(&first[L2..]).unwrap();
        assert_eq!(p.options(), Options::from_bytes(opts).unwrap().as_bytes());
        for f in &frags[1..] {
            let b = bytes(f);
            let p = ipv4::Packet::new_checked(&b[L2..]).unwrap();
            assert_eq!(p.options(), later, "{opts:?}");
        }
        let mut r = reassembler();
        let (done, _) = feed(&mut r, frags.into_iter().rev(), T0);
        assert_eq!(
            bytes(&done[0]),
            orig,
            "the first fragment's options come back"
        );
    }
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn jumbo_mtu_over_small_buffers_builds_chained_fragments() {
    let pool = MemPool::new(128, DEFAULT_BUF_SIZE);
    let (d, orig) = datagram(&pool, 20_000, &[]);
    let frags = split(&pool, &d, 9000).unwrap();
    drop(d);
    assert_eq!(frags.len(), 3);
    assert!(frags[0].nb_segs() > 1);
    check_fragments(&frags, &orig, 9000);
    let mut r = reassembler();
    let (done, _) = feed(&mut r, frags, T0);
    assert_eq!(bytes(&done[0]), orig);
    drop(done);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn fragmentation_refusals_emit_nothing() {
    let pool = MemPool::new(4, DEFAULT_BUF_SIZE);
    let (d, _) = datagram(&pool, 3000, &[]);
    assert_eq!(pool.in_use(), 2);
    let mut emitted = 0;
    let mut try_split =
        |b: &MemBuf, mtu| fragment(b, L2, mtu, &mut || pool.alloc(), &mut |_| emitted += 1);
    assert_eq!(try_split(&d, 67), Err(FragError::MtuTooSmall));
    assert_eq!(try_split(&d, 3020), Err(FragError::Fits));
    // Six fragments at 576 need six buffers; two are free: all or nothing.
    assert_eq!(try_split(&d, 576), Err(FragError::NoBuffer));
    let b = frame_bytes(
        ipv4::Repr {
            dont_frag: true,
            ..header(1, Protocol::UDP, &[])
        },
        &[0; 1000],
    );
    let df = pool.alloc_from(&b).unwrap();
    assert_eq!(try_split(&df, 576), Err(FragError::DontFragment));
    drop(df);
    let mut off = pool.alloc_from(&b[..L2 + 600]).unwrap();
    off.data_mut()[L2 + 6] = 0; // clear DF: a 1020-byte datagram in a 600-byte buffer
    assert_eq!(try_split(&off, 576), Err(FragError::Malformed));
    drop(off);
    let (mut l4, _) = datagram(&pool, 1000, &[]);
    l4.set_tx_offload(TxOffload {
        l4_checksum: Some(L4Checksum::Udp),
        ..TxOffload::default()
    });
    assert_eq!(try_split(&l4, 576), Err(FragError::OffloadPending));
    drop(l4);
    assert_eq!(emitted, 0);
    drop(d);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn overlaps_discard_the_datagram_duplicates_only_themselves() {
    let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
    let mut r = reassembler();
    // Teardrop: the second fragment starts inside the first.
    for order in [false, true] {
        let (a, b) = (udp(&pool, 1, 0, true, 48), udp(&pool, 1, 40, false, 48));
        let (a, b) = if order { (b, a) } else { (a, b) };
        pending(&mut r, a);
        dropped(&mut r, b, DropReason::Overlap);
        assert_eq!(r.in_progress(), 0);
    }
    // A fragment wholly inside another, and one covering two.
    pending(&mut r, udp(&pool, 2, 0, true, 48));
    dropped(&mut r, udp(&pool, 2, 8, true, 16), DropReason::Overlap);
    pending(&mut r, udp(&pool, 3, 0, true, 16));
    pending(&mut r, udp(&pool, 3, 32, true, 16));
    dropped(&mut r, udp(&pool, 3, 8, true, 48), DropReason::Overlap);
    assert_eq!(r.stats().drop_overlap, 4);
    assert_eq!(r.stats().reasm_fails, 4);
    // An exact duplicate is dropped alone; the datagram still completes.
    pending(&mut r, udp(&pool, 4, 0, true, 16));
    dropped(&mut r, udp(&pool, 4, 0, true, 16), DropReason::Duplicate);
    let done = r.insert(udp(&pool, 4, 16, false, 5), L2, T0);
    assert!(matches!(done, Insert::Complete(_)));
    drop(done);
    assert_eq!((r.stats().drop_duplicate, r.stats().reasm_oks), (1, 1));
    assert_eq!((r.in_progress(), pool.in_use()), (0, 0));
}

#[test]
fn ping_of_death_is_refused() {
    let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
    let mut r = reassembler();
    // Valid alone for burst_wire (offset + payload = 65528 ≤ 65535), too big with a header.
    let f = udp(&pool, 1, 65512, false, 16);
    assert!(ipv4::Packet::new_checked(&bytes(&f)[L2..]).is_ok());
    dropped(&mut r, f, DropReason::TooBig);
    // The shape burst_wire's checked view refuses, built unchecked.
    let f = udp(&pool, 2, 65528, false, 16);
    assert!(ipv4::Packet::new_checked(&bytes(&f)[L2..]).is_err());
    dropped(&mut r, f, DropReason::TooBig);
    // Each valid, together too big: a 60-byte first header and a tail ending at 65512.
    for first_last in [true, false] {
        let first = frag(&pool, 3, Protocol::UDP, 0, true, &[9; 64], NOPS);
        let tail = udp(&pool, 3, 65472, false, 40);
        let (a, b) = if first_last {
            (tail, first)
        } else {
            (first, tail)
        };
        pending(&mut r, a);
        dropped(&mut r, b, DropReason::TooBig);
        assert_eq!(r.in_progress(), 0);
    }
    // A too-big fragment also takes down the datagram it claims to belong to.
    pending(&mut r, udp(&pool, 4, 0, true, 64));
    dropped(&mut r, udp(&pool, 4, 65520, false, 8), DropReason::TooBig);
    assert_eq!(r.in_progress(), 0);
    assert_eq!(r.stats().drop_too_big, 5);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn tiny_and_misaligned_fragments() {
    let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
    let mut r = reassembler();
    let tcp = |ident, offset, more, len| {
        frag(
            &pool,
            ident,
            Protocol::TCP,
            offset,
            more,
            &pattern(len, 3),
            &[],
        )
    };
    // RFC 1858 §3.2: a TCP first fragment must hold a whole header (24 bytes, in 8s).
    dropped(&mut r, tcp(1, 0, true, 8), DropReason::Tiny);
    dropped(&mut r, tcp(1, 0, true, 16), DropReason::Tiny);
    pending(&mut r, tcp(1, 0, true, 24));
    // ... and nothing may start inside it (FO=1, FO=2).
    dropped(&mut r, tcp(2, 8, true, 16), DropReason::Tiny);
    dropped(&mut r, tcp(2, 16, false, 3), DropReason::Tiny);
    pending(&mut r, tcp(2, 24, false, 3));
    // RFC 3128: a second offset-0 fragment rewriting the ports of a legal first one is
    // tiny, or (long enough) an overlap that discards the datagram.
    pending(&mut r, tcp(6, 0, true, 24));
    dropped(&mut r, tcp(6, 0, true, 8), DropReason::Tiny);
    dropped(&mut r, tcp(6, 0, true, 32), DropReason::Overlap);
    // Other protocols: RFC 791's 8 bytes are enough.
    pending(&mut r, udp(&pool, 3, 0, true, 8));
    pending(&mut r, udp(&pool, 4, 8, true, 8));
    // RFC 791: all but the last fragment carry a non-empty multiple of 8.
    dropped(&mut r, udp(&pool, 5, 0, true, 12), DropReason::BadLength);
    dropped(&mut r, udp(&pool, 5, 16, true, 0), DropReason::BadLength);
    assert_eq!((r.stats().drop_tiny, r.stats().drop_overlap), (5, 1));
    assert_eq!(r.stats().drop_bad_length, 2);
    assert_eq!(r.in_progress(), 4);
    r.clear();
    assert_eq!((r.in_progress(), r.held_bytes(), pool.in_use()), (0, 0, 0));
}

#[test]
fn tiny_fragment_flood_stays_bounded() {
    let pool = MemPool::new(1024, DEFAULT_BUF_SIZE);
    // The datagram limit binds.
    let mut r = reassembler();
    for ident in 0..10_000u16 {
        let _ = r.insert(udp(&pool, ident, 0, true, 8), L2, T0);
        assert!(pool.in_use() <= 256);
    }
    assert_eq!(r.in_progress(), 256);
    assert_eq!(r.stats().drop_table_full, 10_000 - 256);
    assert_eq!(r.held_bytes(), 256 * DEFAULT_BUF_SIZE);
    // A legitimate datagram is refused too, but nothing in progress is pushed out.
    dropped(
        &mut r,
        udp(&pool, 20_000, 0, true, 8),
        DropReason::TableFull,
    );
    r.clear();
    assert_eq!(pool.in_use(), 0);
    // The memory cap binds: each tiny fragment costs its whole buffer.
    let mut r = Reassembler::new(ReassemblyConfig {
        max_datagrams: 1000,
        max_bytes_total: 100 * DEFAULT_BUF_SIZE,
        ..ReassemblyConfig::default()
    });
    for ident in 0..10_000u16 {
        let _ = r.insert(udp(&pool, ident, 0, true, 8), L2, T0);
    }
    assert_eq!((r.in_progress(), pool.in_use()), (100, 100));
    assert_eq!(r.stats().drop_memory, 9_900);
    // All of it times out, each with its first fragment handed back.
    let mut back = 0;
    let n = r.expire(T0 + r.config().timeout, |e| {
        assert_eq!(e.l2_len, L2);
        back += 1;
    });
    assert_eq!((n, back), (100, 100));
    assert_eq!((r.in_progress(), r.held_bytes(), pool.in_use()), (0, 0, 0));
}

#[test]
fn per_datagram_and_global_caps() {
    let pool = MemPool::new(32, DEFAULT_BUF_SIZE);
    let mut r = Reassembler::new(ReassemblyConfig {
        max_datagrams: 4,
        max_fragments: 3,
        max_bytes_per_datagram: 200,
        max_bytes_total: 5 * DEFAULT_BUF_SIZE,
        ..ReassemblyConfig::default()
    });
    for ident in 0..4 {
        pending(&mut r, udp(&pool, ident, 0, true, 8));
    }
    dropped(&mut r, udp(&pool, 4, 0, true, 8), DropReason::TableFull);
    r.clear();
    // Fragments per datagram: the fourth discards the datagram (it could never finish).
    for off in [0, 16, 32] {
        pending(&mut r, udp(&pool, 5, off, true, 8));
    }
    dropped(
        &mut r,
        udp(&pool, 5, 48, true, 8),
        DropReason::TooManyFragments,
    );
    assert_eq!(r.in_progress(), 0);
    // Bytes per datagram: 14 + 20 + 64 for the first, 64 for each later payload.
    pending(&mut r, udp(&pool, 6, 0, true, 64));
    pending(&mut r, udp(&pool, 6, 128, true, 64));
    dropped(
        &mut r,
        udp(&pool, 6, 256, true, 64),
        DropReason::DatagramBytes,
    );
    assert_eq!(r.in_progress(), 0);
    // Memory: a growing datagram is discarded, a new one refused.
    for off in [0, 16, 32] {
        pending(&mut r, udp(&pool, 7, off, true, 8));
    }
    pending(&mut r, udp(&pool, 8, 0, true, 8));
    pending(&mut r, udp(&pool, 9, 0, true, 8));
    dropped(&mut r, udp(&pool, 10, 0, true, 8), DropReason::Memory);
    dropped(&mut r, udp(&pool, 8, 16, true, 8), DropReason::Memory);
    assert_eq!(r.in_progress(), 2);
    let s = *r.stats();
    assert_eq!(
        (
            s.drop_table_full,
            s.drop_too_many_fragments,
            s.drop_datagram_bytes,
            s.drop_memory
        ),
        (1, 1, 1, 2)
    );
    r.clear();
    assert_eq!((r.held_bytes(), pool.in_use()), (0, 0));
}

#[test]
fn inconsistent_lengths_discard_the_datagram() {
    let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
    let mut r = reassembler();
    // Two last fragments disagreeing on the length.
    pending(&mut r, udp(&pool, 1, 96, false, 8));
    dropped(
        &mut r,
        udp(&pool, 1, 200, false, 8),
        DropReason::Inconsistent,
    );
    // Data beyond the end the last fragment set...
    pending(&mut r, udp(&pool, 2, 96, false, 8));
    dropped(
        &mut r,
        udp(&pool, 2, 104, true, 8),
        DropReason::Inconsistent,
    );
    // ... and a last fragment ending before data already received.
    pending(&mut r, udp(&pool, 3, 96, true, 8));
    dropped(
        &mut r,
        udp(&pool, 3, 40, false, 8),
        DropReason::Inconsistent,
    );
    assert_eq!(r.stats().drop_inconsistent, 3);
    assert_eq!((r.in_progress(), pool.in_use()), (0, 0));
}

#[test]
fn padding_is_trimmed_and_whole_datagrams_pass_through() {
    let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
    let mut r = reassembler();
    let whole = frame_bytes(header(1, Protocol::UDP, &[]), &[5; 30]);
    match r.insert(pool.alloc_from(&whole).unwrap(), L2, T0) {
        Insert::Complete(b) => assert_eq!(bytes(&b), whole),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.stats().reasm_reqds, 0);
    // A 4-byte last fragment padded to Ethernet's 60-byte minimum.
    let head = udp(&pool, 2, 0, true, 16);
    let mut tail = udp(&pool, 2, 16, false, 4);
    tail.append(60 - tail.pkt_len()).unwrap().fill(0xee);
    let mut expect = bytes(&head);
    expect.extend_from_slice(&bytes(&tail)[L2 + 20..L2 + 24]);
    let (done, _) = feed(&mut r, [tail, head], T0);
    let b = bytes(&done[0]);
    let p = ipv4::Packet::new_checked(&b[L2..]).unwrap();
    assert!(p.verify_checksum() && !p.is_fragment());
    assert_eq!((b.len(), usize::from(p.total_len())), (L2 + 40, 40));
    assert_eq!(b[L2 + 20..], expect[L2 + 20..]);
    drop(done);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn timeouts_hand_back_the_first_fragment_only() {
    let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
    let mut r = reassembler();
    let timeout = r.config().timeout;
    assert_eq!(timeout, Nanos::from_secs(60));
    assert_eq!(r.next_deadline(), None);
    // Datagram 1: first and a middle fragment. Datagram 2: a later fragment only.
    // Datagram 3: completes, leaving the age list from the middle.
    pending(&mut r, udp(&pool, 1, 0, true, 16));
    pending(&mut r, udp(&pool, 1, 32, true, 16));
    let t1 = T0 + Nanos::from_secs(2);
    assert!(matches!(
        r.insert(udp(&pool, 3, 8, false, 8), L2, t1),
        Insert::Pending
    ));
    let t2 = T0 + Nanos::from_secs(5);
    assert!(matches!(
        r.insert(udp(&pool, 2, 8, true, 8), L2, t2),
        Insert::Pending
    ));
    let done = r.insert(udp(&pool, 3, 0, true, 8), L2, t2);
    assert!(matches!(done, Insert::Complete(_)));
    drop(done);
    assert_eq!(r.next_deadline(), Some(T0 + timeout));
    let mut expired = Vec::new();
    assert_eq!(r.expire(T0 + timeout - Nanos(1), |e| expired.push(e)), 0);
    assert_eq!(r.expire(T0 + timeout, |e| expired.push(e)), 1);
    let e = expired.pop().unwrap();
    assert_eq!((e.key.ident, e.key.src, e.l2_len), (1, SRC, L2));
    // The caller quotes it in a time exceeded, fragment reassembly time exceeded.
    let first = bytes(&e.first);
    let q = ipv4::Packet::new_checked(&first[e.l2_len..]).unwrap();
    assert!(q.more_frags() && q.frag_offset() == 0);
    assert!(icmp::may_send_error(&q, false));
    let mut out = [0u8; 128];
    let kind = ErrorKind::TimeExceeded(TimeExceeded::FragReassemblyExpired);
    let n = icmp::build_error(&first[L2..], kind, DST, SRC, 64, &mut out);
    let ip = ipv4::Packet::new_checked(&out[..n]).unwrap();
    let msg = icmpv4::Packet::new_checked(ip.payload()).unwrap();
    let m = icmpv4::Repr::parse(&msg, ChecksumCheck::Verify).unwrap();
    let inv = m.invoking_datagram().unwrap().unwrap();
    assert_eq!((inv.header.ident, inv.header.more_frags), (1, true));
    drop(e);
    // Datagram 2 never had its first fragment: it goes silently.
    assert_eq!(r.next_deadline(), Some(t2 + timeout));
    assert_eq!(r.expire(t2 + timeout, |e| expired.push(e)), 1);
    assert!(expired.is_empty());
    let s = *r.stats();
    assert_eq!((s.timeouts, s.reasm_fails, s.reasm_oks), (2, 2, 1));
    assert_eq!(
        (r.next_deadline(), r.in_progress(), pool.in_use()),
        (None, 0, 0)
    );
}

#[test]
fn stats_add_up_by_name() {
    let mut a = ReassemblyStats {
        drop_overlap: 2,
        ..ReassemblyStats::default()
    };
    let b = ReassemblyStats {
        drop_overlap: 3,
        reasm_oks: 1,
        ..ReassemblyStats::default()
    };
    a.add(&b);
    assert_eq!((a.drop_overlap, a.reasm_oks), (5, 1));
    assert!(a.named().contains(&("drop_overlap", 5)));
}
