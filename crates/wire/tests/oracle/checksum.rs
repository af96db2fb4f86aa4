//! The Internet checksum (RFC 1071), the pseudo-header sum and incremental updates (RFC 1624)
//! against etherparse's `checksum::Sum16BitWords` and smoltcp's `wire::checksum`.

use std::net::Ipv4Addr;

use burst_wire::checksum;
use etherparse::checksum::Sum16BitWords;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use smoltcp::wire::{checksum as smol, IpProtocol};

use crate::common::addr;

/// etherparse's checksum (complemented, in network order) of `bytes`.
fn ep_checksum(bytes: &[u8]) -> u16 {
    Sum16BitWords::new()
        .add_slice(bytes)
        .ones_complement()
        .to_be()
}

/// A sub-slice of `data` with a random start (0..8, so every alignment of the 8-byte loads is
/// hit) and a random length.
fn window(data: &[u8], start: usize, len: Index) -> &[u8] {
    let start = start.min(data.len());
    let rest = &data[start..];
    &rest[..len.index(rest.len() + 1)]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sum_and_checksum_match_both_oracles(
        data in vec(any::<u8>(), 0..=1600),
        start in 0usize..8,
        len in any::<Index>(),
    ) {
        let s = window(&data, start, len);
        prop_assert_eq!(checksum::checksum(s), ep_checksum(s));
        prop_assert_eq!(checksum::sum(s), smol::data(s));
        // The portable loop and the copying sum (AVX2 where available) give the same value.
        prop_assert_eq!(checksum::sum_portable(s), smol::data(s));
        let mut copy = vec![0u8; s.len()];
        prop_assert_eq!(checksum::copy_and_sum(&mut copy, s), smol::data(s));
        prop_assert_eq!(&copy[..], s);
    }

    #[test]
    fn pseudo_header_matches_both_oracles(
        src in addr(),
        dst in addr(),
        protocol in any::<u8>(),
        length in any::<u16>(),
    ) {
        let ours = checksum::pseudo_header(src, dst, protocol, length);
        let smol = smol::pseudo_header_v4(&src, &dst, IpProtocol::from(protocol), u32::from(length));
        prop_assert_eq!(ours, smol);
        // etherparse exposes only the complemented form; complement it back.
        let ep = !Sum16BitWords::new()
            .add_4bytes(src.octets())
            .add_4bytes(dst.octets())
            .add_2bytes([0, protocol])
            .add_2bytes(length.to_be_bytes())
            .ones_complement()
            .to_be();
        prop_assert_eq!(ours, ep);
    }

    #[test]
    fn combine_and_accumulator_match_oracles(
        data in vec(any::<u8>(), 0..=600),
        cut1 in any::<Index>(),
        cut2 in any::<Index>(),
        sums in vec(any::<u16>(), 0..=16),
    ) {
        // Three pieces of any (odd or even) length summed piecewise equal the whole.
        let a = cut1.index(data.len() + 1);
        let b = a + cut2.index(data.len() - a + 1);
        let mut acc = checksum::Accumulator::new();
        acc.add(&data[..a]);
        acc.add(&data[a..b]);
        acc.add(&data[b..]);
        prop_assert_eq!(acc.checksum(), ep_checksum(&data));
        prop_assert_eq!(acc.sum(), smol::data(&data));
        prop_assert_eq!(checksum::combine(&sums), smol::combine(&sums));
    }

    #[test]
    fn incremental_updates_match_recomputation(
        mut data in vec(any::<u8>(), 8..=64),
        word in any::<Index>(),
        new16 in any::<u16>(),
        new32 in any::<u32>(),
    ) {
        // A header-like buffer: checksum field at bytes 0..2, and a byte that never changes and
        // is never zero (as the IPv4 version nibble). RFC 1624 eqn. 3 never yields 0xffff, which
        // is the right answer only for an all-zero message, a case no real header reaches.
        data.truncate(data.len() / 2 * 2);
        data[2] |= 0x40;
        data[0] = 0;
        data[1] = 0;
        let c = ep_checksum(&data);
        data[..2].copy_from_slice(&c.to_be_bytes());

        // A 16-bit word anywhere after the fixed bytes 0..4.
        let words = (data.len() - 4) / 2;
        let at = 4 + 2 * word.index(words);
        let old = u16::from_be_bytes([data[at], data[at + 1]]);
        data[at..at + 2].copy_from_slice(&new16.to_be_bytes());
        let c16 = checksum::update16(c, old, new16);
        data[..2].copy_from_slice(&[0, 0]);
        prop_assert_eq!(c16, ep_checksum(&data));
        data[..2].copy_from_slice(&c16.to_be_bytes());

        // A 32-bit field at an even offset after bytes 0..4 (as an address).
        let at = 4 + 2 * word.index(words - 1);
        let old = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        data[at..at + 4].copy_from_slice(&new32.to_be_bytes());
        let c32 = checksum::update32(c16, old, new32);
        data[..2].copy_from_slice(&[0, 0]);
        prop_assert_eq!(c32, ep_checksum(&data));
    }
}

#[test]
fn degenerate_inputs() {
    // Empty input, all ones, all zeros: both oracles and we agree on the edge values.
    for s in [&[][..], &[0xff; 7][..], &[0; 9][..]] {
        assert_eq!(checksum::checksum(s), ep_checksum(s));
        assert_eq!(checksum::sum(s), smol::data(s));
    }
    let z = Ipv4Addr::UNSPECIFIED;
    assert_eq!(
        checksum::pseudo_header(z, z, 0, 0),
        smol::pseudo_header_v4(&z, &z, IpProtocol::from(0), 0)
    );
}
