//! burst's protocol layers, per core and sans-IO.
//!
//! Workers own their state (pending queues, timers, counters) and read the shared, read-mostly
//! tables (routes, neighbours, packet filters) that the control thread publishes as new
//! versions; no lock is taken on the packet path. Every module is driven by explicit time
//! (`burst_port::Nanos`) so the same code runs on real ports and on the in-memory wire's virtual
//! clock.

pub mod arp;
pub mod bigmem;
pub mod conntrack;
pub mod epoch;
pub mod filter;
pub mod firewall;
pub mod frag;
pub mod icmp;
pub mod igmp;
pub mod ipv4;
pub mod kernel;
pub mod nat;
pub mod route;
pub mod timer;
pub mod udp;

use core::fmt;

/// Index of a port in the configuration (0-based, in configuration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PortId(pub u16);

impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port{}", self.0)
    }
}
pub mod pmtu;
pub mod radv;
pub mod rdisc;
pub mod redirect;
