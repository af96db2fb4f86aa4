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

mod aging;
mod concurrency;
mod dad;
mod learning;
mod resolution;
mod workers;
