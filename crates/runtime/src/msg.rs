//! Messages between workers and the control thread, over bounded lock-free rings: one ring per
//! class of traffic, so one class cannot crowd out another (a burst of ctl pings or a flood of
//! IGMP cannot delay neighbour resolution), and what is lost is counted per class.
//!
//! | class | worker → control | control → worker |
//! |---|---|---|
//! | neighbours | ARP seen, resolve requests (read first) | ARP to send, resolved, failed, address states |
//! | protocol | ICMP redirect / frag-needed notes, IGMP | IGMP to send, groups |
//! | sessions | ctl echo events | ctl echo requests |
//! | routes | route use / suspected dead gateway (aggregated per destination and second) | — |
//! | traces | `ctl trace` records (own ring: the largest message) | — |

use std::net::Ipv4Addr;
use std::sync::Arc;

use burst_port::Nanos;
use burst_stack::arp::AddrState;
use burst_stack::PortId;
use burst_wire::arp;
use burst_wire::ethernet::MacAddr;
use crossbeam_queue::ArrayQueue;

/// Echo identifiers reserved for the stack's own ping/tracert (ctl requests); replies and
/// errors quoting them are reported to the control thread.
pub const CTL_IDENT_BASE: u16 = 0xb500;
/// How many ctl echo sessions can run at once.
pub const CTL_IDENTS: u16 = 256;

/// Whether `ident` belongs to a ctl echo session.
pub fn is_ctl_ident(ident: u16) -> bool {
    (CTL_IDENT_BASE..CTL_IDENT_BASE + CTL_IDENTS).contains(&ident)
}

/// What went wrong with a ctl echo request, as an ICMP error told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoError {
    /// Time exceeded in transit (tracert hop).
    TimeExceeded,
    /// Destination unreachable with this code and next-hop MTU.
    Unreachable(u8, u16),
}

/// Longest ICMP message (redirect, fragmentation needed) a worker forwards: header + quoted
/// IPv4 header (up to 60) + 8 bytes.
pub const ICMP_NOTE_MAX: usize = 80;

/// Worker → control (a trace record travels on its own ring, [`Rings::traces`]).
#[derive(Debug, Clone, Copy)]
pub enum ToControl {
    /// An ICMP redirect or fragmentation-needed received on a port, for the control thread's
    /// redirect policy and path MTU cache.
    IcmpNote {
        /// Port.
        port: PortId,
        /// Who sent it.
        from: Ipv4Addr,
        /// Message length kept.
        len: u8,
        /// The ICMP message (quote cut to [`ICMP_NOTE_MAX`]).
        msg: [u8; ICMP_NOTE_MAX],
    },
    /// An IGMP message received on a port (queries and other hosts' reports).
    Igmp {
        /// Port.
        port: PortId,
        /// IPv4 source.
        src: Ipv4Addr,
        /// IPv4 destination.
        dst: Ipv4Addr,
        /// Message length (at most [`IGMP_IN_MAX`] kept).
        len: u8,
        /// The message.
        msg: [u8; IGMP_IN_MAX],
    },
    /// An ARP packet received on one of our ports (after the worker answered it if needed).
    Arp {
        /// Port.
        port: PortId,
        /// The packet.
        repr: arp::Repr,
    },
    /// A TCP connection to `dst` was established (dead gateway detection tracks the
    /// destinations reached through the default gateway).
    RouteUse {
        /// The peer.
        dst: Ipv4Addr,
    },
    /// A TCP connection to `dst` retransmitted half of `TcpMaxDataRetransmissions` times: its
    /// gateway may be dead (seed: "Dead Gateway Detection").
    RouteSuspect {
        /// The peer.
        dst: Ipv4Addr,
    },
    /// The worker queued packets for an unresolved neighbour.
    Resolve {
        /// Port.
        port: PortId,
        /// Neighbour.
        ip: Ipv4Addr,
    },
    /// A ctl echo request left.
    EchoSent {
        /// Identifier.
        ident: u16,
        /// Sequence.
        seq: u16,
        /// When.
        at: Nanos,
    },
    /// A ctl echo request could not be sent.
    EchoFailed {
        /// Identifier.
        ident: u16,
        /// Sequence.
        seq: u16,
        /// Why.
        reason: &'static str,
    },
    /// A reply to a ctl echo request.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence.
        seq: u16,
        /// From.
        from: Ipv4Addr,
        /// TTL of the reply.
        ttl: u8,
        /// Echo data bytes.
        bytes: u16,
        /// When it arrived.
        at: Nanos,
    },
    /// An ICMP error quoting a ctl echo request.
    EchoError {
        /// Identifier.
        ident: u16,
        /// Sequence.
        seq: u16,
        /// Who sent the error.
        from: Ipv4Addr,
        /// Which error.
        error: EchoError,
        /// When it arrived.
        at: Nanos,
    },
}

/// Longest IGMP message a worker forwards to the control thread (a v3 query with up to 13
/// sources; longer ones are cut, which only loses sources we do not filter on).
pub const IGMP_IN_MAX: usize = 64;
/// Longest IGMP message the control thread asks a worker to send.
pub const IGMP_OUT_MAX: usize = 256;

/// Control → worker.
// The IGMP variant is large, but messages live in a ring allocated once; boxing it would
// allocate per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum ToWorker {
    /// Send an IGMP message (report or leave) from `port` to `dst`, TTL 1 with Router Alert.
    SendIgmp {
        /// Port.
        port: PortId,
        /// Destination group or 224.0.0.22 / 224.0.0.2.
        dst: Ipv4Addr,
        /// Message length.
        len: u16,
        /// The IGMP message.
        msg: [u8; IGMP_OUT_MAX],
    },
    /// A group was joined (`true`) or left on a port: deliver (or stop delivering) its
    /// datagrams.
    Group {
        /// Port.
        port: PortId,
        /// Group.
        group: Ipv4Addr,
        /// Joined or left.
        joined: bool,
    },
    /// Transmit an ARP packet (worker 0 does this for the control thread).
    SendArp {
        /// Port.
        port: PortId,
        /// Ethernet destination.
        dst: MacAddr,
        /// The packet.
        repr: arp::Repr,
    },
    /// A neighbour resolved: send what was queued for it.
    Resolved {
        /// Port.
        port: PortId,
        /// Neighbour.
        ip: Ipv4Addr,
    },
    /// A neighbour did not resolve: drop what was queued for it (host unreachable).
    Failed {
        /// Port.
        port: PortId,
        /// Neighbour.
        ip: Ipv4Addr,
    },
    /// One of our addresses changed state.
    AddrState {
        /// Port.
        port: PortId,
        /// Address.
        addr: Ipv4Addr,
        /// New state.
        state: AddrState,
    },
    /// Send one ctl echo request.
    Ping {
        /// Destination.
        dst: Ipv4Addr,
        /// Identifier.
        ident: u16,
        /// Sequence.
        seq: u16,
        /// Echo data bytes.
        size: u16,
        /// TTL.
        ttl: u8,
        /// Don't Fragment.
        dont_frag: bool,
    },
}

/// The classes of worker ↔ control traffic, each with its own ring per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Neighbour resolution and our addresses' states.
    Neigh,
    /// ICMP notes and IGMP.
    Proto,
    /// ctl echo sessions.
    Session,
    /// Dead gateway detection's route use.
    Route,
}

impl Class {
    /// Every class, in the order the control thread reads them (neighbours first).
    pub const ALL: [Class; 4] = [Class::Neigh, Class::Proto, Class::Route, Class::Session];

    /// Its name in counters (`ring.lost_<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Class::Neigh => "neigh",
            Class::Proto => "proto",
            Class::Session => "session",
            Class::Route => "route",
        }
    }
}

impl ToControl {
    /// The message's class (which ring carries it).
    pub fn class(&self) -> Class {
        match self {
            ToControl::Arp { .. } | ToControl::Resolve { .. } => Class::Neigh,
            ToControl::IcmpNote { .. } | ToControl::Igmp { .. } => Class::Proto,
            ToControl::RouteUse { .. } | ToControl::RouteSuspect { .. } => Class::Route,
            ToControl::EchoSent { .. }
            | ToControl::EchoFailed { .. }
            | ToControl::EchoReply { .. }
            | ToControl::EchoError { .. } => Class::Session,
        }
    }
}

impl ToWorker {
    /// The message's class (which ring carries it).
    pub fn class(&self) -> Class {
        match self {
            ToWorker::SendArp { .. }
            | ToWorker::Resolved { .. }
            | ToWorker::Failed { .. }
            | ToWorker::AddrState { .. } => Class::Neigh,
            ToWorker::SendIgmp { .. } | ToWorker::Group { .. } => Class::Proto,
            ToWorker::Ping { .. } => Class::Session,
        }
    }
}

/// Ring sizes per class (messages), worker → control.
const UP: [(Class, usize); 4] = [
    (Class::Neigh, 4096),
    (Class::Proto, 1024),
    (Class::Route, 1024),
    (Class::Session, 1024),
];

/// The rings of one worker, one per class and direction.
#[derive(Debug, Clone)]
pub struct Rings {
    up: [Arc<ArrayQueue<ToControl>>; 4],
    /// `ctl trace` records, worker → control.
    pub traces: Arc<ArrayQueue<crate::trace::TraceRecord>>,
    /// Control → worker: neighbours and addresses.
    down_neigh: Arc<ArrayQueue<ToWorker>>,
    /// Control → worker: everything else.
    down_other: Arc<ArrayQueue<ToWorker>>,
}

fn up_index(c: Class) -> usize {
    UP.iter().position(|(k, _)| *k == c).unwrap_or(0)
}

impl Rings {
    /// The rings of one worker; `scale` multiplies every ring's size (1 in production; tests
    /// use smaller rings to see them fill).
    pub fn new(scale: f64) -> Rings {
        let n = |base: usize| ((base as f64 * scale) as usize).max(1);
        Rings {
            up: UP.map(|(_, size)| Arc::new(ArrayQueue::new(n(size)))),
            traces: Arc::new(ArrayQueue::new(n(64))),
            down_neigh: Arc::new(ArrayQueue::new(n(4096))),
            down_other: Arc::new(ArrayQueue::new(n(1024))),
        }
    }

    /// Worker → control, on `m`'s class ring; the class when that ring is full.
    pub fn to_control(&self, m: ToControl) -> Result<(), Class> {
        let c = m.class();
        self.up[up_index(c)].push(m).map_err(|_| c)
    }

    /// The next worker → control message of class `c`.
    pub fn from_worker(&self, c: Class) -> Option<ToControl> {
        self.up[up_index(c)].pop()
    }

    /// Control → worker, on `m`'s ring (neighbours apart); the class when it is full.
    pub fn to_worker(&self, m: ToWorker) -> Result<(), Class> {
        let c = m.class();
        let ring = if c == Class::Neigh {
            &self.down_neigh
        } else {
            &self.down_other
        };
        ring.push(m).map_err(|_| c)
    }

    /// The next control → worker message, neighbour messages first.
    pub fn from_control(&self) -> Option<ToWorker> {
        self.down_neigh.pop().or_else(|| self.down_other.pop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_class_does_not_block_another() {
        let r = Rings::new(1.0 / 1024.0);
        let echo = ToControl::EchoSent {
            ident: CTL_IDENT_BASE,
            seq: 1,
            at: Nanos::ZERO,
        };
        // The session ring (1024 / 1024 = 1 slot) fills...
        assert_eq!(r.to_control(echo), Ok(()));
        assert_eq!(r.to_control(echo), Err(Class::Session));
        // ...while neighbour resolution still gets through.
        let resolve = ToControl::Resolve {
            port: PortId(0),
            ip: Ipv4Addr::new(198, 18, 0, 1),
        };
        assert_eq!(r.to_control(resolve), Ok(()));
        assert!(matches!(
            r.from_worker(Class::Neigh),
            Some(ToControl::Resolve { .. })
        ));
        assert!(r.from_worker(Class::Neigh).is_none());
        assert!(matches!(
            r.from_worker(Class::Session),
            Some(ToControl::EchoSent { .. })
        ));
        // Control → worker: neighbour messages are read before others, whatever the order
        // they were sent in.
        let ping = ToWorker::Ping {
            dst: Ipv4Addr::new(198, 18, 0, 1),
            ident: CTL_IDENT_BASE,
            seq: 1,
            size: 8,
            ttl: 64,
            dont_frag: false,
        };
        assert_eq!(r.to_worker(ping), Ok(()));
        assert_eq!(r.to_worker(ping), Err(Class::Session));
        let resolved = ToWorker::Resolved {
            port: PortId(0),
            ip: Ipv4Addr::new(198, 18, 0, 1),
        };
        assert_eq!(r.to_worker(resolved), Ok(()));
        assert!(matches!(r.from_control(), Some(ToWorker::Resolved { .. })));
        assert!(matches!(r.from_control(), Some(ToWorker::Ping { .. })));
        assert!(r.from_control().is_none());
    }
}
