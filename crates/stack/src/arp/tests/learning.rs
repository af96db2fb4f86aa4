//! Learning (RFC 826 merge) and static entries.

use super::*;

#[test]
fn rfc826_merge_updates_existing_and_creates_only_when_we_are_the_target() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let reader = c.reader();
    let v0 = c.version();
    // Not for us: neither a request for another host nor a gratuitous ARP creates an entry.
    c.on_arp(P0, &wire(Repr::request(H1_MAC, H1, H2)), s(10), &mut f);
    c.on_arp(P0, &wire(Repr::gratuitous(H1_MAC, H1)), s(10), &mut f);
    c.on_arp(
        P0,
        &wire(Repr::reply(H2_MAC, H2, H1_MAC, H1)),
        s(10),
        &mut f,
    );
    assert!(c.is_empty());
    assert_eq!(c.version(), v0);
    // For us: learned and published.
    learn(&mut c, &mut f, H1, H1_MAC, s(11));
    assert_eq!(c.stats().learned, 1);
    assert_eq!(c.version(), v0 + 1);
    assert_eq!(reader.lookup(P0, H1, s(11)), Some(H1_MAC));
    assert_eq!(reader.lookup(P1, H1, s(11)), None);
    // The same mapping again confirms it without a new version.
    c.on_arp(P0, &wire(Repr::gratuitous(H1_MAC, H1)), s(12), &mut f);
    assert_eq!(c.version(), v0 + 1);
    assert_eq!(c.neighbor(P0, H1).unwrap().confirmed, s(12));
    // An existing entry is updated by any ARP from the sender, even one not for us.
    c.on_arp(P0, &wire(Repr::request(H1_MAC2, H1, H2)), s(13), &mut f);
    assert_eq!(reader.lookup(P0, H1, s(13)), Some(H1_MAC2));
    assert_eq!(c.stats().updated, 1);
    assert_eq!(c.version(), v0 + 2);
    // A reply to us creates an entry too.
    c.on_arp(
        P0,
        &wire(Repr::reply(H2_MAC, H2, OUR_MAC, OUR_IP)),
        s(14),
        &mut f,
    );
    assert_eq!(reader.lookup(P0, H2, s(14)), Some(H2_MAC));
    // Probes, multicast senders and unknown operations teach nothing.
    let h3 = Ipv4Addr::new(198, 18, 0, 12);
    c.on_arp(P0, &wire(Repr::probe(H2_MAC, OUR_IP)), s(15), &mut f);
    let bad = Repr::request(MacAddr::BROADCAST, h3, OUR_IP);
    c.on_arp(P0, &wire(bad), s(15), &mut f);
    let odd = Repr {
        operation: Operation(3),
        ..Repr::request(H2_MAC, h3, OUR_IP)
    };
    c.on_arp(P0, &wire(odd), s(15), &mut f);
    assert_eq!(c.len(), 2);
    let st = c.stats();
    assert_eq!((st.invalid_sender, st.unknown_operation), (1, 1));
    assert!(f.take().is_empty());
}

#[test]
fn static_entries_are_not_overwritten_never_age_and_survive_flush() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let reader = c.reader();
    c.add_static(P0, H1, H1_MAC, s(10), &mut f).unwrap();
    learn(&mut c, &mut f, H2, H2_MAC, s(10));
    // Learning does not override the operator.
    c.on_arp(
        P0,
        &wire(Repr::reply(H1_MAC2, H1, OUR_MAC, OUR_IP)),
        s(11),
        &mut f,
    );
    assert_eq!(reader.lookup(P0, H1, s(11)), Some(H1_MAC));
    assert_eq!(c.stats().static_mismatch, 1);
    assert_eq!(c.neighbor(P0, H1).unwrap().kind, NeighKind::Static);
    // An hour later only the static entry is left.
    let mut now = s(11);
    for _ in 0..100 {
        match c.poll(now, &mut f) {
            Some(t) if t <= s(3600) => now = t,
            _ => break,
        }
    }
    c.poll(s(3600), &mut f);
    assert_eq!(c.len(), 1);
    assert_eq!(reader.lookup(P0, H1, s(3600)), Some(H1_MAC));
    assert_eq!(reader.lookup(P0, H2, s(3600)), None);
    // flush keeps static entries; delete removes them.
    learn(&mut c, &mut f, H2, H2_MAC, s(3601));
    assert_eq!(c.flush(), 1);
    assert_eq!(reader.lookup(P0, H1, s(3601)), Some(H1_MAC));
    assert_eq!(c.delete(H1), 1);
    assert_eq!(c.delete(H1), 0);
    assert_eq!(reader.lookup(P0, H1, s(3601)), None);
    assert_eq!(
        c.add_static(P0, H1, MacAddr::BROADCAST, s(3601), &mut f),
        Err(ArpError::NotUnicast(MacAddr::BROADCAST))
    );
}
