//! Duplicate address detection (RFC 5227 probes, the seeds' gratuitous ARPs) and defence.

use super::*;

#[test]
fn dad_sends_three_gratuitous_arps_then_prefers() {
    let mut c = ArpControl::new(ArpConfig::default());
    let mut f = Fake::default();
    c.add_address(P0, our_cidr(), OUR_MAC, s(5), &mut f)
        .unwrap();
    // Each round: an RFC 5227 probe (which Linux answers) and the seeds' gratuitous request.
    let probe = Ev::Sent(P0, MacAddr::BROADCAST, Repr::probe(OUR_MAC, OUR_IP));
    assert_eq!(
        f.take(),
        [
            Ev::State(P0, OUR_IP, AddrState::Tentative),
            probe.clone(),
            gratuitous(OUR_MAC, OUR_IP)
        ]
    );
    assert_eq!(c.next_deadline(), Some(s(6)));
    assert_eq!(c.poll(s(6) - Nanos(1), &mut f), Some(s(6)));
    assert!(f.take().is_empty());
    assert_eq!(c.poll(s(6), &mut f), Some(s(7)));
    assert_eq!(f.take(), [probe.clone(), gratuitous(OUR_MAC, OUR_IP)]);
    assert_eq!(c.poll(s(7), &mut f), Some(s(8)));
    assert_eq!(f.take(), [probe.clone(), gratuitous(OUR_MAC, OUR_IP)]);
    assert_eq!(c.address_state(P0, OUR_IP), Some(AddrState::Tentative));
    // One interval after the third, no one objected: preferred, nothing more scheduled.
    assert_eq!(c.poll(s(8), &mut f), None);
    assert_eq!(f.take(), [Ev::State(P0, OUR_IP, AddrState::Preferred)]);
    assert_eq!(c.stats().gratuitous_sent, 3);
    // The announcements are RFC 5227 shaped: requests, sender IP = target IP, target MAC 0.
    let g = Repr::gratuitous(OUR_MAC, OUR_IP);
    assert_eq!(g.operation, Operation::REQUEST);
    assert!(g.is_gratuitous());
    assert_eq!(
        c.add_address(P0, our_cidr(), OUR_MAC, s(9), &mut f),
        Err(ArpError::AddressExists(OUR_IP))
    );
}

#[test]
fn without_dad_an_address_is_announced_once_and_preferred_at_once() {
    let mut c = ArpControl::new(ArpConfig {
        duplicate_detection: false,
        ..ArpConfig::default()
    });
    let mut f = Fake::default();
    c.add_address(P0, our_cidr(), OUR_MAC, s(5), &mut f)
        .unwrap();
    assert_eq!(
        f.take(),
        [
            gratuitous(OUR_MAC, OUR_IP),
            Ev::State(P0, OUR_IP, AddrState::Preferred)
        ]
    );
    assert_eq!(c.address_state(P0, OUR_IP), Some(AddrState::Preferred));
    assert_eq!(c.poll(s(6), &mut f), None, "nothing scheduled");
    assert!(f.take().is_empty());
}

#[test]
fn dad_conflict_disables_address_restores_caches_and_warns() {
    let mut c = ArpControl::new(ArpConfig::default());
    let reader = c.reader();
    let mut f = Fake::default();
    c.add_address(P0, our_cidr(), OUR_MAC, Nanos::ZERO, &mut f)
        .unwrap();
    c.poll(s(1), &mut f);
    f.take();
    // The defender answers our second gratuitous ARP (a Windows-style defence).
    let answer = wire(Repr::reply(DEFENDER, OUR_IP, OUR_MAC, OUR_IP));
    c.on_arp(P0, &answer, ms(1200), &mut f);
    let logs = std::mem::take(&mut f.conflicts);
    let conflict = AddrState::Conflict { mac: DEFENDER };
    assert_eq!(
        f.take(),
        [
            Ev::State(P0, OUR_IP, conflict),
            // Sender IP our address, sender MAC the defender's: neighbours' caches point back
            // at the defender.
            gratuitous(DEFENDER, OUR_IP),
        ]
    );
    assert_eq!(
        logs,
        [Conflict {
            port: P0,
            ip: OUR_IP,
            other: DEFENDER,
            disabled: true
        }]
    );
    assert_eq!(
        logs[0].to_string(),
        "address conflict for IP address 198.18.0.1 with the system having network hardware \
         address 02:00:00:00:00:dd: address disabled"
    );
    assert_eq!(c.address_state(P0, OUR_IP), Some(conflict));
    let st = c.stats();
    assert_eq!(
        (st.conflicts_dad, st.restores_sent, st.claims_ignored),
        (1, 1, 1)
    );
    // The claimed mapping never entered the table; DAD stopped: nothing else is sent.
    assert!(c.neighbor(P0, OUR_IP).is_none());
    assert_eq!(reader.lookup(P0, OUR_IP, s(2)), None);
    assert_eq!(c.poll(s(10), &mut f), None);
    assert!(f.take().is_empty());
    // A disabled address is nobody's target: a request to it teaches nothing.
    c.on_arp(P0, &wire(Repr::request(H1_MAC, H1, OUR_IP)), s(11), &mut f);
    assert!(c.is_empty());
    // More claims are only counted.
    c.on_arp(P0, &answer, s(12), &mut f);
    assert!(f.take().is_empty());
    assert_eq!(c.stats().claims_ignored, 2);
    assert_eq!(c.stats().conflicts_dad, 1);
}

#[test]
fn dad_simultaneous_probe_is_a_conflict_without_restore() {
    let mut c = ArpControl::new(ArpConfig::default());
    let mut f = Fake::default();
    c.add_address(P0, our_cidr(), OUR_MAC, Nanos::ZERO, &mut f)
        .unwrap();
    f.take();
    c.on_arp(P0, &wire(Repr::probe(DEFENDER, OUR_IP)), ms(500), &mut f);
    let conflict = AddrState::Conflict { mac: DEFENDER };
    assert_eq!(f.take(), [Ev::State(P0, OUR_IP, conflict)]);
    assert_eq!(c.stats().restores_sent, 0);
    // Our own announcement looped back is not a conflict.
    let mut c = ArpControl::new(ArpConfig::default());
    c.add_address(P0, our_cidr(), OUR_MAC, Nanos::ZERO, &mut f)
        .unwrap();
    c.on_arp(P0, &wire(Repr::gratuitous(OUR_MAC, OUR_IP)), ms(1), &mut f);
    assert_eq!(c.address_state(P0, OUR_IP), Some(AddrState::Tentative));
    assert_eq!(c.stats().own_looped, 1);
}

#[test]
fn later_conflict_is_counted_logged_and_defended_once() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let reader = c.reader();
    let claim = wire(Repr::gratuitous(DEFENDER, OUR_IP));
    c.on_arp(P0, &claim, s(100), &mut f);
    let logs = std::mem::take(&mut f.conflicts);
    assert_eq!(f.take(), [gratuitous(OUR_MAC, OUR_IP)]);
    assert_eq!(logs.len(), 1);
    assert!(!logs[0].disabled);
    assert!(
        logs[0]
            .to_string()
            .ends_with("02:00:00:00:00:dd: defending"),
        "{}",
        logs[0]
    );
    // A second claim 5 s later (a request for another host, sent from our address): counted,
    // not defended, not logged at warn.
    let claim2 = wire(Repr::request(DEFENDER, OUR_IP, H1));
    c.on_arp(P0, &claim2, s(105), &mut f);
    assert!(f.conflicts.is_empty(), "{:?}", f.conflicts);
    assert!(f.take().is_empty());
    let st = c.stats();
    assert_eq!(
        (st.conflicts_later, st.defended, st.defences_suppressed),
        (2, 1, 1)
    );
    // DEFEND_INTERVAL later a claim is defended again; the address stays ours throughout.
    c.on_arp(P0, &claim, s(110), &mut f);
    assert_eq!(f.take(), [gratuitous(OUR_MAC, OUR_IP)]);
    assert_eq!(c.stats().defended, 2);
    assert_eq!(c.address_state(P0, OUR_IP), Some(AddrState::Preferred));
    assert_eq!(c.stats().claims_ignored, 3);
    assert_eq!(reader.lookup(P0, OUR_IP, s(111)), None);
    assert!(c.is_empty());
}

#[test]
fn defence_can_be_disabled() {
    let cfg = ArpConfig {
        conflict_defend: false,
        ..ArpConfig::default()
    };
    let (mut c, mut f) = ready(cfg);
    c.on_arp(
        P0,
        &wire(Repr::gratuitous(DEFENDER, OUR_IP)),
        s(100),
        &mut f,
    );
    assert!(f.take().is_empty());
    assert_eq!(c.stats().conflicts_later, 1);
    assert_eq!(c.stats().defended, 0);
}

#[test]
fn a_reply_claiming_our_address_never_enters_the_cache() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let v = c.version();
    // Even addressed to us and answering a resolution in progress.
    c.resolve(P0, H1, s(10), &mut f);
    let claim = wire(Repr::reply(DEFENDER, OUR_IP, OUR_MAC, OUR_IP));
    c.on_arp(P0, &claim, s(10), &mut f);
    assert!(c.neighbor(P0, OUR_IP).is_none());
    assert_eq!(c.version(), v);
    // Nor can the operator add it, nor can a worker ask to resolve it.
    assert_eq!(
        c.add_static(P0, OUR_IP, DEFENDER, s(11), &mut f),
        Err(ArpError::OwnAddress(OUR_IP))
    );
    f.take();
    c.resolve(P0, OUR_IP, s(11), &mut f);
    assert_eq!(f.take(), [Ev::Failed(P0, OUR_IP)]);
    assert_eq!(c.stats().resolve_refused, 1);
    // An address added later evicts a mapping learned for it before.
    learn(&mut c, &mut f, H2, H2_MAC, s(12));
    assert!(c.neighbor(P0, H2).is_some());
    c.add_address(P0, Cidr::new(H2, 24).unwrap(), OUR_MAC, s(13), &mut f)
        .unwrap();
    assert!(c.neighbor(P0, H2).is_none());
    assert_eq!(c.reader().lookup(P0, H2, s(13)), None);
}
