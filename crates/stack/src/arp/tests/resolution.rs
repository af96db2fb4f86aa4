//! Resolution: retries with backoff, rate limits, source choice, a full table.

use super::*;

#[test]
fn resolution_retries_with_backoff_then_fails() {
    let (mut c, mut f) = ready(ArpConfig::default());
    c.resolve(P0, H1, s(10), &mut f);
    assert_eq!(f.take(), [request(H1)]);
    assert!(c.is_resolving(P0, H1));
    // Another worker asks too: one resolution only.
    c.resolve(P0, H1, ms(10_500), &mut f);
    assert!(f.take().is_empty());
    assert_eq!(c.stats().resolve_duplicates, 1);
    assert_eq!(c.poll(ms(10_999), &mut f), Some(s(11)));
    assert!(f.take().is_empty());
    // Requests at 10, 11 (+1 s) and 13 (+2 s); failure at 17 (+4 s).
    assert_eq!(c.poll(s(11), &mut f), Some(s(13)));
    assert_eq!(f.take(), [request(H1)]);
    assert_eq!(c.poll(s(13), &mut f), Some(s(17)));
    assert_eq!(f.take(), [request(H1)]);
    assert_eq!(c.poll(s(17) - Nanos(1), &mut f), Some(s(17)));
    assert!(f.take().is_empty());
    c.poll(s(17), &mut f);
    assert_eq!(f.take(), [Ev::Failed(P0, H1)]);
    assert!(!c.is_resolving(P0, H1));
    let st = c.stats();
    assert_eq!((st.requests_sent, st.resolutions_failed), (3, 1));
}

#[test]
fn resolution_completes_on_the_reply_and_is_published_first() {
    let (mut c, mut f) = ready(ArpConfig::default());
    c.resolve(P0, H1, s(10), &mut f);
    f.take();
    // The reply; the fake checks the table already has H1 when told.
    let reply = wire(Repr::reply(H1_MAC, H1, OUR_MAC, OUR_IP));
    c.on_arp(P0, &reply, ms(10_002), &mut f);
    assert_eq!(f.take(), [Ev::Resolved(P0, H1, H1_MAC)]);
    assert_eq!(c.poll(s(11), &mut f), Some(ms(130_002)));
    assert!(f.take().is_empty());
    assert_eq!(c.stats().resolved, 1);
    // A worker that read an older version asks again: told at once, nothing sent.
    c.resolve(P0, H1, s(12), &mut f);
    assert_eq!(f.take(), [Ev::Resolved(P0, H1, H1_MAC)]);
    // While resolving, any ARP from the neighbour answers it (here its own announcement).
    c.resolve(P0, H2, s(12), &mut f);
    f.take();
    c.on_arp(P0, &wire(Repr::gratuitous(H2_MAC, H2)), s(12), &mut f);
    assert_eq!(f.take(), [Ev::Resolved(P0, H2, H2_MAC)]);
    // A static entry added meanwhile answers it too.
    let h3 = Ipv4Addr::new(198, 18, 0, 12);
    c.resolve(P0, h3, s(13), &mut f);
    f.take();
    c.add_static(P0, h3, H1_MAC, s(13), &mut f).unwrap();
    assert_eq!(f.take(), [Ev::Resolved(P0, h3, H1_MAC)]);
    assert!(!c.is_resolving(P0, h3));
}

#[test]
fn requests_are_rate_limited_per_neighbour() {
    let cfg = ArpConfig {
        retry_count: 1,
        retry_interval: ms(300),
        ..ArpConfig::default()
    };
    let (mut c, mut f) = ready(cfg);
    c.resolve(P0, H1, s(10), &mut f);
    assert_eq!(f.take(), [request(H1)]);
    c.poll(ms(10_300), &mut f);
    assert_eq!(f.take(), [Ev::Failed(P0, H1)]);
    // The worker asks again at once: the request waits for the one-second limit.
    c.resolve(P0, H1, ms(10_300), &mut f);
    assert!(f.take().is_empty());
    assert_eq!(c.stats().requests_rate_limited, 1);
    assert_eq!(c.next_deadline(), Some(s(11)));
    c.poll(ms(10_999), &mut f);
    assert!(f.take().is_empty());
    c.poll(s(11), &mut f);
    assert_eq!(f.take(), [request(H1)]);
    // Another neighbour is not held back.
    c.resolve(P0, H2, s(11), &mut f);
    assert_eq!(f.take(), [request(H2)]);
    assert_eq!(c.stats().requests_sent, 3);
}

#[test]
fn resolution_limits_and_source_address_choice() {
    let cfg = ArpConfig {
        max_resolving: 1,
        ..ArpConfig::default()
    };
    let mut c = ArpControl::new(cfg);
    let mut f = Fake::default();
    // No address on the port: nothing to ask from.
    c.resolve(P1, P1_IP, s(0), &mut f);
    assert_eq!(f.take(), [Ev::Failed(P1, P1_IP)]);
    // Only a tentative address: the request is a probe-shaped one from 0.0.0.0.
    c.add_address(P0, our_cidr(), OUR_MAC, s(0), &mut f)
        .unwrap();
    f.take();
    c.resolve(P0, H1, s(0), &mut f);
    assert_eq!(
        f.take(),
        [Ev::Sent(P0, MacAddr::BROADCAST, Repr::probe(OUR_MAC, H1))]
    );
    // max_resolving 1: a second neighbour fails at once, as do non-unicast targets.
    c.resolve(P0, H2, s(0), &mut f);
    c.resolve(P0, Ipv4Addr::BROADCAST, s(0), &mut f);
    assert_eq!(
        f.take(),
        [Ev::Failed(P0, H2), Ev::Failed(P0, Ipv4Addr::BROADCAST)]
    );
    assert_eq!(c.stats().resolve_refused, 2);
    // With two preferred addresses the one on the target's subnet is the source.
    c.add_address(P1, Cidr::new(P1_IP, 24).unwrap(), P1_MAC, s(0), &mut f)
        .unwrap();
    let p1_second = Ipv4Addr::new(198, 19, 5, 1);
    c.add_address(P1, Cidr::new(p1_second, 24).unwrap(), P1_MAC, s(0), &mut f)
        .unwrap();
    for t in 1..=3 {
        c.poll(s(t), &mut f);
    }
    c.poll(s(17), &mut f);
    f.take();
    let target = Ipv4Addr::new(198, 19, 5, 9);
    c.resolve(P1, target, s(20), &mut f);
    assert_eq!(
        f.take(),
        [Ev::Sent(
            P1,
            MacAddr::BROADCAST,
            Repr::request(P1_MAC, p1_second, target)
        )]
    );
}

#[test]
fn table_full_refuses_new_dynamic_entries() {
    let cfg = ArpConfig {
        max_entries: 1,
        ..ArpConfig::default()
    };
    let (mut c, mut f) = ready(cfg);
    learn(&mut c, &mut f, H1, H1_MAC, s(10));
    learn(&mut c, &mut f, H2, H2_MAC, s(10));
    assert_eq!(c.len(), 1);
    assert_eq!(c.stats().table_full, 1);
    assert_eq!(
        c.add_static(P0, H2, H2_MAC, s(10), &mut f),
        Err(ArpError::TableFull)
    );
    // Replacing an existing entry with a static one still works.
    c.add_static(P0, H1, H1_MAC2, s(10), &mut f).unwrap();
    assert_eq!(c.reader().lookup(P0, H1, s(10)), Some(H1_MAC2));
}
