//! Behaviour of the ARP control, pending queues and table together, driven with explicit time
//! and real ARP packets (every packet in and out goes through burst-wire's emit and parse).

use core::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use burst_port::clock::Nanos;
use burst_wire::arp::{self, Operation, Repr};
use burst_wire::ethernet::MacAddr;
use burst_wire::ipv4::Cidr;

use super::*;
use crate::PortId;

const P0: PortId = PortId(0);
const P1: PortId = PortId(1);
const OUR_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x01);
const OUR_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const P1_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 1, 0x01);
const P1_IP: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
const H1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
const H1_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x0a);
const H1_MAC2: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x1a);
const H2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const H2_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x0b);
const DEFENDER: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0xdd);

fn s(secs: u64) -> Nanos {
    Nanos::from_secs(secs)
}

fn ms(millis: u64) -> Nanos {
    Nanos::from_millis(millis)
}

fn our_cidr() -> Cidr {
    Cidr::new(OUR_IP, 24).unwrap()
}

/// `r` after a trip through real bytes, as a worker would parse it off the wire.
fn wire(r: Repr) -> Repr {
    let mut buf = [0xa5u8; 46];
    r.emit(&mut arp::Packet::new_unchecked(&mut buf[..]));
    Repr::parse(&arp::Packet::new_checked(&buf[..]).unwrap()).unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Sent(PortId, MacAddr, Repr),
    Resolved(PortId, Ipv4Addr, MacAddr),
    Failed(PortId, Ipv4Addr),
    State(PortId, Ipv4Addr, AddrState),
}

/// Records outputs. With a reader attached it checks that a neighbour reported resolved is
/// already in the published table.
#[derive(Default)]
struct Fake {
    evs: Vec<Ev>,
    reader: Option<NeighReader>,
    /// What the runtime would log at warn level (recorded here instead of captured from a
    /// tracing subscriber, whose process-wide callsite cache makes captures racy).
    conflicts: Vec<Conflict>,
}

impl ArpOutput for Fake {
    fn send_arp(&mut self, port: PortId, dst: MacAddr, repr: &Repr) {
        self.evs.push(Ev::Sent(port, dst, wire(*repr)));
    }
    fn resolved(&mut self, port: PortId, ip: Ipv4Addr, mac: MacAddr) {
        if let Some(r) = &self.reader {
            assert_eq!(r.pin().get(port, ip).map(|n| n.mac), Some(mac));
        }
        self.evs.push(Ev::Resolved(port, ip, mac));
    }
    fn resolution_failed(&mut self, port: PortId, ip: Ipv4Addr) {
        self.evs.push(Ev::Failed(port, ip));
    }
    fn address_state(&mut self, port: PortId, addr: Ipv4Addr, state: AddrState) {
        self.evs.push(Ev::State(port, addr, state));
    }
    fn conflict(&mut self, conflict: &Conflict) {
        self.conflicts.push(*conflict);
    }
}

impl Fake {
    fn take(&mut self) -> Vec<Ev> {
        std::mem::take(&mut self.evs)
    }
}

fn gratuitous(mac: MacAddr, ip: Ipv4Addr) -> Ev {
    Ev::Sent(P0, MacAddr::BROADCAST, Repr::gratuitous(mac, ip))
}

fn request(target: Ipv4Addr) -> Ev {
    Ev::Sent(
        P0,
        MacAddr::BROADCAST,
        Repr::request(OUR_MAC, OUR_IP, target),
    )
}

/// A control with 198.18.0.1/24 preferred on port 0 (DAD done by 3 s), events cleared.
fn ready(cfg: ArpConfig) -> (ArpControl, Fake) {
    let mut c = ArpControl::new(cfg);
    let mut f = Fake {
        reader: Some(c.reader()),
        ..Fake::default()
    };
    c.add_address(P0, our_cidr(), OUR_MAC, Nanos::ZERO, &mut f)
        .unwrap();
    let mut now = Nanos::ZERO;
    for _ in 0..10 {
        match c.poll(now, &mut f) {
            Some(t) => now = t,
            None => break,
        }
    }
    assert_eq!(c.address_state(P0, OUR_IP), Some(AddrState::Preferred));
    f.take();
    (c, f)
}

/// Learns `ip` at `mac` the way RFC 826 allows: a request from it for our address.
fn learn(c: &mut ArpControl, f: &mut Fake, ip: Ipv4Addr, mac: MacAddr, now: Nanos) {
    c.on_arp(P0, &wire(Repr::request(mac, ip, OUR_IP)), now, f);
}

// ---- duplicate address detection ----

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

// ---- learning ----

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

// ---- aging ----

#[test]
fn an_unused_entry_is_removed_after_two_minutes() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let reader = c.reader();
    learn(&mut c, &mut f, H1, H1_MAC, s(10));
    assert_eq!(c.poll(s(10), &mut f), Some(s(130)));
    c.poll(s(130) - Nanos(1), &mut f);
    assert!(reader.pin().get(P0, H1).is_some());
    assert_eq!(c.poll(s(130), &mut f), None);
    assert!(reader.pin().get(P0, H1).is_none());
    assert_eq!(c.stats().aged_unused, 1);
    assert_eq!(c.stats().aged_max, 0);
}

#[test]
fn a_used_entry_is_removed_after_ten_minutes_and_one_used_briefly_after_its_last_use() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let reader = c.reader();
    learn(&mut c, &mut f, H1, H1_MAC, s(0));
    learn(&mut c, &mut f, H2, H2_MAC, s(0));
    // A worker transmits to H1 every 30 s for ever, to H2 until 60 s; control polls each second.
    for t in 0..=600u64 {
        if t % 30 == 0 {
            assert_eq!(reader.lookup(P0, H1, s(t)), Some(H1_MAC), "t={t}");
            if t <= 60 {
                assert_eq!(reader.lookup(P0, H2, s(t)), Some(H2_MAC));
            }
        }
        c.poll(s(t), &mut f);
        let h2 = c.neighbor(P0, H2).is_some();
        assert_eq!(h2, t < 180, "H2 at t={t}");
        let h1 = c.neighbor(P0, H1).is_some();
        assert_eq!(h1, t < 600, "H1 at t={t}");
    }
    let st = c.stats();
    assert_eq!((st.aged_unused, st.aged_max), (1, 1));
    assert_eq!(reader.lookup(P0, H1, s(601)), None);
}

#[test]
fn confirmation_by_the_neighbour_extends_the_maximum_life() {
    let (mut c, mut f) = ready(ArpConfig::default());
    learn(&mut c, &mut f, H1, H1_MAC, s(0));
    let reader = c.reader();
    for t in 0..=700u64 {
        if t % 30 == 0 {
            reader.lookup(P0, H1, s(t));
        }
        if t == 300 {
            // H1 asks for us again: the mapping is confirmed.
            learn(&mut c, &mut f, H1, H1_MAC, s(t));
        }
        c.poll(s(t), &mut f);
        assert_eq!(c.neighbor(P0, H1).is_some(), t < 900, "t={t}");
    }
}

// ---- resolution ----

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

// ---- workers: answering and pending queues against the control ----

#[test]
fn answer_request_replies_only_for_our_addresses() {
    let our = [(OUR_IP, OUR_MAC)];
    let req = wire(Repr::request(H1_MAC, H1, OUR_IP));
    let reply = answer_request(&our, &req).unwrap();
    assert_eq!(reply, Repr::reply(OUR_MAC, OUR_IP, H1_MAC, H1));
    assert_eq!(wire(reply).operation, Operation::REPLY);
    assert_eq!(
        answer_request(&our, &wire(Repr::request(H1_MAC, H1, H2))),
        None
    );
    assert_eq!(
        answer_request(&our, &wire(Repr::reply(H1_MAC, H1, OUR_MAC, OUR_IP))),
        None
    );
    // Our own request looped back, or a broadcast sender: no answer.
    assert_eq!(
        answer_request(&our, &wire(Repr::gratuitous(OUR_MAC, OUR_IP))),
        None
    );
    let bcast = Repr::request(MacAddr::BROADCAST, H1, OUR_IP);
    assert_eq!(answer_request(&our, &wire(bcast)), None);
    // Another host's DAD announcement or probe for our address is answered: that is how it
    // learns the address is taken.
    let dad = answer_request(&our, &wire(Repr::gratuitous(DEFENDER, OUR_IP))).unwrap();
    assert_eq!(dad, Repr::reply(OUR_MAC, OUR_IP, DEFENDER, OUR_IP));
    let probe = answer_request(&our, &wire(Repr::probe(DEFENDER, OUR_IP))).unwrap();
    assert_eq!(probe.target_protocol_addr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(probe.target_hardware_addr, DEFENDER);
}

/// A worker's side of one neighbour: pushes `n` packets, asking the control when told to.
fn worker_push(
    q: &mut PendingQueues<u32>,
    c: &mut ArpControl,
    f: &mut Fake,
    ip: Ipv4Addr,
    n: u32,
    now: Nanos,
) -> (u32, u32) {
    let (mut asked, mut refused) = (0, 0);
    for i in 0..n {
        match q.push(P0, ip, i, now) {
            Ok(Queued::AskResolve) => {
                asked += 1;
                c.resolve(P0, ip, now, f);
            }
            Ok(Queued::Waiting) => {}
            Err(b) => {
                assert_eq!(b, i);
                refused += 1;
            }
        }
    }
    (asked, refused)
}

#[test]
fn pending_packets_drain_on_resolution_and_drop_on_failure() {
    for (per, want_refused) in [(1usize, 19u32), (16, 4)] {
        let cfg = ArpConfig {
            pending_per_neighbor: per,
            ..ArpConfig::default()
        };
        let (mut c, mut f) = ready(cfg.clone());
        let mut q = PendingQueues::<u32>::from_config(&cfg);
        let (asked, refused) = worker_push(&mut q, &mut c, &mut f, H1, 20, s(10));
        assert_eq!((asked, refused), (1, want_refused), "per {per}");
        assert_eq!(q.stats().overflow_neighbor, u64::from(want_refused));
        assert_eq!(q.pending(P0, H1), per);
        let reply = wire(Repr::reply(H1_MAC, H1, OUR_MAC, OUR_IP));
        c.on_arp(P0, &reply, ms(10_001), &mut f);
        let mut sent = Vec::new();
        for ev in f.take() {
            if let Ev::Resolved(port, ip, mac) = ev {
                assert_eq!(mac, H1_MAC);
                sent.extend(q.take(port, ip));
            }
        }
        assert_eq!(sent, (0..per as u32).collect::<Vec<_>>());
        assert!(q.is_empty());

        // H2 never answers: after the failure its packets come back for ICMP errors.
        worker_push(&mut q, &mut c, &mut f, H2, 3, s(20));
        let mut dropped = Vec::new();
        let mut now = s(20);
        for _ in 0..10 {
            let next = c.poll(now, &mut f);
            for ev in f.take() {
                if let Ev::Failed(port, ip) = ev {
                    dropped.extend(q.drop_failed(port, ip));
                }
            }
            match next {
                Some(t) if t < s(100) => now = t,
                _ => break,
            }
        }
        assert_eq!(now, s(27));
        assert_eq!(dropped, (0..3.min(per as u32)).collect::<Vec<_>>());
        assert!(q.is_empty());
    }
}

// ---- concurrency ----

#[test]
fn readers_see_consistent_versions_while_the_control_publishes() {
    const VERSIONS: u64 = 2_000;
    const ENTRIES: u8 = 16;
    let mut table = NeighTable::new();
    let reader = table.reader();
    let done = AtomicBool::new(false);
    let started = AtomicBool::new(false);
    let seen_versions = Arc::new(AtomicU64::new(0));
    // The entries of version v all carry MAC 02:00:00:00:hi(v):lo(v); a torn read would mix.
    let entries = |v: u64| {
        let mac = MacAddr::new(0x02, 0, 0, 0, (v >> 8) as u8, v as u8);
        (0..ENTRIES).map(move |i| {
            let ip = Ipv4Addr::new(198, 18, 3, i);
            (
                (P0, ip),
                Neighbor::new(mac, NeighKind::Dynamic, Nanos::ZERO),
            )
        })
    };
    std::thread::scope(|sc| {
        let r = reader.clone();
        let (done, started, seen_versions) = (&done, &started, &seen_versions);
        let h = sc.spawn(move || {
            let mut last = 0;
            let mut seen = 0u64;
            // Bounded by time, not by a count a descheduled writer could outlast.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            for i in 0u64.. {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the writer never finished publishing (last version seen {last})"
                );
                started.store(true, Ordering::Relaxed);
                let finished = done.load(Ordering::Acquire);
                let snap = r.pin();
                let v = snap.version();
                assert!(v >= last, "version went back: {v} < {last}");
                if v != last {
                    seen += 1;
                }
                last = v;
                if v > 0 {
                    let want = MacAddr::new(0x02, 0, 0, 0, (v >> 8) as u8, v as u8);
                    assert_eq!(snap.table().len(), usize::from(ENTRIES));
                    for n in 0..ENTRIES {
                        let ip = Ipv4Addr::new(198, 18, 3, n);
                        assert_eq!(snap.lookup(P0, ip, Nanos(i)), Some(want));
                    }
                }
                if finished {
                    assert_eq!(v, VERSIONS);
                    seen_versions.store(seen, Ordering::Relaxed);
                    return;
                }
            }
        });
        // Publishing before the reader runs would still be correct, only a weaker test.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !started.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        for v in 1..=VERSIONS {
            assert_eq!(table.publish(entries(v)), v);
        }
        done.store(true, Ordering::Release);
        h.join().unwrap();
    });
    assert!(seen_versions.load(Ordering::Relaxed) >= 1);
    assert_eq!(reader.version(), VERSIONS);
}

#[test]
fn worker_stamps_reach_the_control_across_versions() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let reader = c.reader();
    learn(&mut c, &mut f, H1, H1_MAC, s(0));
    std::thread::scope(|sc| {
        let r = reader.clone();
        sc.spawn(move || {
            for t in [10u64, 20, 100] {
                assert_eq!(r.lookup(P0, H1, s(t)), Some(H1_MAC));
            }
        });
    });
    // A later version (another neighbour learned) keeps the seen_versions.
    learn(&mut c, &mut f, H2, H2_MAC, s(101));
    assert_eq!(c.neighbor(P0, H1).unwrap().last_used, s(100));
    assert_eq!(reader.pin().get(P0, H1).unwrap().last_used(), s(100));
    c.poll(s(219), &mut f);
    assert!(c.neighbor(P0, H1).is_some());
    c.poll(s(221), &mut f);
    assert!(c.neighbor(P0, H1).is_none());
}
