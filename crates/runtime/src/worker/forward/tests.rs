//! The fast path's header arithmetic against the reference sum, and the addresses a router
//! never forwards.

use super::*;
use burst_wire::checksum;

#[test]
fn header_checksum_matches_the_reference_sum() {
    let mut rng = burst_port::clock::SplitMix64::new(7);
    for i in 0..20_000 {
        let mut h = [0u8; 20];
        for b in h.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        if i % 2 == 0 {
            // Half of them valid.
            h[10] = 0;
            h[11] = 0;
            let c = !checksum::sum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
        }
        assert_eq!(header_checksum_ok(&h), checksum::sum(&h) == 0xffff, "{h:?}");
    }
}

#[test]
fn ttl_down_keeps_the_header_checksum_valid() {
    let mut rng = burst_port::clock::SplitMix64::new(9);
    for _ in 0..20_000 {
        let mut h = [0u8; 20];
        for b in h.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        h[0] = 0x45;
        h[8] = h[8].max(2);
        h[10] = 0;
        h[11] = 0;
        let c = !checksum::sum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        let ttl = h[8];
        ttl_down(&mut h);
        assert_eq!(h[8], ttl - 1);
        assert!(header_checksum_ok(&h), "{h:?}");
    }
}

#[test]
fn unroutable_addresses() {
    for a in [
        [0, 1, 2, 3],
        [127, 0, 0, 1],
        [169, 254, 1, 1],
        [224, 0, 0, 1],
        [240, 0, 0, 1],
        [255, 255, 255, 255],
    ] {
        assert!(unroutable(a), "{a:?}");
    }
    for a in [[198, 18, 0, 1], [198, 19, 255, 254], [169, 253, 0, 1]] {
        assert!(!unroutable(a), "{a:?}");
    }
}
