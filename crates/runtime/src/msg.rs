//! Messages between workers and the control thread, over bounded lock-free rings: one ring per
//! class of traffic, so one class cannot crowd out another (a burst of ctl pings or a flood of
//! IGMP cannot delay neighbour resolution), and what is lost is counted per class.
//!
//! | class | worker → control | control → worker |
//! |---|---|---|
//! | neighbours | ARP seen, resolve requests (read first) | ARP to send, resolved, failed, address states |
//! | protocol | ICMP redirect / frag-needed notes, IGMP, router discovery | IGMP and router discovery to send, groups |
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

/// Worker → control, by class (a trace record travels on its own ring, [`Rings::traces`]).
// Only ever a value on the stack on its way into its class's ring, where it is stored
// unwrapped: the size of the IGMP variant does not reach the other rings.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum ToControl {
    /// Neighbour resolution.
    Neigh(NeighUp),
    /// Control-plane protocol messages received.
    Proto(ProtoUp),
    /// Dead gateway detection.
    Route(RouteUp),
    /// ctl echo sessions.
    Session(SessionUp),
}

/// Neighbour resolution, worker → control.
#[derive(Debug, Clone, Copy)]
pub enum NeighUp {
    /// An ARP packet received on one of our ports (after the worker answered it if needed).
    Arp {
        /// Port.
        port: PortId,
        /// The packet.
        repr: arp::Repr,
    },
    /// The worker queued packets for an unresolved neighbour.
    Resolve {
        /// Port.
        port: PortId,
        /// Neighbour.
        ip: Ipv4Addr,
    },
}

/// Control-plane protocol messages a worker received, worker → control.
// An IGMP message is up to an MTU long; its ring is short (`Rings::new`).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum ProtoUp {
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
    /// An IGMP message received on a port (queries and other hosts' reports), whole.
    Igmp {
        /// Port.
        port: PortId,
        /// IPv4 source.
        src: Ipv4Addr,
        /// IPv4 destination.
        dst: Ipv4Addr,
        /// Message length.
        len: u16,
        /// The message.
        msg: [u8; IGMP_MAX],
    },
    /// A router advertisement or solicitation received on a port (RFC 1256), whole.
    Rdisc {
        /// Port.
        port: PortId,
        /// IPv4 source.
        from: Ipv4Addr,
        /// Message length.
        len: u16,
        /// The ICMP message.
        msg: [u8; RDISC_MAX],
    },
}

/// Dead gateway detection's view of TCP, worker → control.
#[derive(Debug, Clone, Copy)]
pub enum RouteUp {
    /// A TCP connection to `dst` was established (dead gateway detection tracks the
    /// destinations reached through the default gateway); at most once a second per `dst`.
    Use {
        /// The peer.
        dst: Ipv4Addr,
    },
    /// A TCP connection to `dst` retransmitted half of `TcpMaxDataRetransmissions` times: its
    /// gateway may be dead (seed: "Dead Gateway Detection").
    Suspect {
        /// The peer.
        dst: Ipv4Addr,
    },
}

/// ctl echo sessions, worker → control.
#[derive(Debug, Clone, Copy)]
pub enum SessionUp {
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

/// Longest IGMP message carried either way: a full 1500-byte MTU minus the IPv4 header with
/// its Router Alert option (24 bytes). Hosts split reports to fit (RFC 3376 §4.2.16).
pub const IGMP_MAX: usize = 1500 - 24;

/// Longest router discovery message carried either way: what fits a 1500-byte MTU after the
/// IPv4 header (a 184-address advertisement; longer ones are counted and dropped).
pub const RDISC_MAX: usize = 1500 - 20;

/// Control → worker, by class.
// As `ToControl`: a transient value; each ring stores its class unwrapped.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum ToWorker {
    /// Neighbours and our addresses.
    Neigh(NeighDown),
    /// IGMP.
    Proto(ProtoDown),
    /// ctl echo sessions.
    Session(SessionDown),
}

/// Neighbours and our addresses, control → worker.
#[derive(Debug, Clone, Copy)]
pub enum NeighDown {
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
}

/// IGMP, control → worker.
// An IGMP message is up to an MTU long; its ring is short (`Rings::new`).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum ProtoDown {
    /// Send an IGMP message (report or leave) from `port` to `dst`, TTL 1 with Router Alert.
    SendIgmp {
        /// Port.
        port: PortId,
        /// Destination group or 224.0.0.22 / 224.0.0.2.
        dst: Ipv4Addr,
        /// Message length.
        len: u16,
        /// The IGMP message.
        msg: [u8; IGMP_MAX],
    },
    /// Send a router discovery message (advertisement or solicitation) from `port` to `dst`
    /// (a group, the broadcast address or a soliciting host), TTL 1.
    SendRdisc {
        /// Port.
        port: PortId,
        /// Destination.
        dst: Ipv4Addr,
        /// Message length.
        len: u16,
        /// The ICMP message, checksum included.
        msg: [u8; RDISC_MAX],
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
}

/// ctl echo sessions, control → worker.
#[derive(Debug, Clone, Copy)]
pub enum SessionDown {
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
    /// Its name in counters (`l2.lost_<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Class::Neigh => "neigh",
            Class::Proto => "proto",
            Class::Session => "session",
            Class::Route => "route",
        }
    }
}

/// The rings of one worker, one per class and direction, each holding only its class's
/// messages (so a short message does not take an IGMP-sized slot).
#[derive(Debug, Clone)]
pub struct Rings {
    /// Worker → control: neighbours (read first).
    pub neigh_up: Arc<ArrayQueue<NeighUp>>,
    /// Worker → control: ICMP notes and IGMP.
    pub proto_up: Arc<ArrayQueue<ProtoUp>>,
    /// Worker → control: route use.
    pub route_up: Arc<ArrayQueue<RouteUp>>,
    /// Worker → control: ctl echo events.
    pub session_up: Arc<ArrayQueue<SessionUp>>,
    /// Worker → control: `ctl trace` records.
    pub traces: Arc<ArrayQueue<crate::trace::TraceRecord>>,
    down_neigh: Arc<ArrayQueue<NeighDown>>,
    down_proto: Arc<ArrayQueue<ProtoDown>>,
    down_session: Arc<ArrayQueue<SessionDown>>,
}

impl Rings {
    /// The rings of one worker; `scale` multiplies every ring's size (1 in production; tests
    /// use smaller rings to see them fill).
    pub fn new(scale: f64) -> Rings {
        let n = |base: usize| ((base as f64 * scale) as usize).max(1);
        Rings {
            neigh_up: Arc::new(ArrayQueue::new(n(4096))),
            proto_up: Arc::new(ArrayQueue::new(n(256))),
            route_up: Arc::new(ArrayQueue::new(n(1024))),
            session_up: Arc::new(ArrayQueue::new(n(1024))),
            traces: Arc::new(ArrayQueue::new(n(64))),
            down_neigh: Arc::new(ArrayQueue::new(n(4096))),
            down_proto: Arc::new(ArrayQueue::new(n(256))),
            down_session: Arc::new(ArrayQueue::new(n(1024))),
        }
    }

    /// Worker → control, on `m`'s class ring; the class when that ring is full.
    pub fn to_control(&self, m: ToControl) -> Result<(), Class> {
        match m {
            ToControl::Neigh(m) => self.neigh_up.push(m).map_err(|_| Class::Neigh),
            ToControl::Proto(m) => self.proto_up.push(m).map_err(|_| Class::Proto),
            ToControl::Route(m) => self.route_up.push(m).map_err(|_| Class::Route),
            ToControl::Session(m) => self.session_up.push(m).map_err(|_| Class::Session),
        }
    }

    /// Control → worker, on `m`'s class ring; the class when it is full.
    pub fn to_worker(&self, m: ToWorker) -> Result<(), Class> {
        match m {
            ToWorker::Neigh(m) => self.down_neigh.push(m).map_err(|_| Class::Neigh),
            ToWorker::Proto(m) => self.down_proto.push(m).map_err(|_| Class::Proto),
            ToWorker::Session(m) => self.down_session.push(m).map_err(|_| Class::Session),
        }
    }

    /// The next control → worker message: neighbour messages first.
    pub fn from_control(&self) -> Option<ToWorker> {
        self.down_neigh
            .pop()
            .map(ToWorker::Neigh)
            .or_else(|| self.down_proto.pop().map(ToWorker::Proto))
            .or_else(|| self.down_session.pop().map(ToWorker::Session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_class_does_not_block_another_and_neighbours_go_first() {
        let r = Rings::new(1.0 / 1024.0);
        let echo = ToControl::Session(SessionUp::EchoSent {
            ident: CTL_IDENT_BASE,
            seq: 1,
            at: Nanos::ZERO,
        });
        // The session ring (1024 / 1024 = 1 slot) fills...
        assert_eq!(r.to_control(echo), Ok(()));
        assert_eq!(r.to_control(echo), Err(Class::Session));
        // ...while neighbour resolution still gets through.
        let resolve = ToControl::Neigh(NeighUp::Resolve {
            port: PortId(0),
            ip: Ipv4Addr::new(198, 18, 0, 1),
        });
        assert_eq!(r.to_control(resolve), Ok(()));
        assert!(matches!(r.neigh_up.pop(), Some(NeighUp::Resolve { .. })));
        assert!(r.neigh_up.pop().is_none());
        assert!(matches!(
            r.session_up.pop(),
            Some(SessionUp::EchoSent { .. })
        ));
        // Control → worker: neighbour messages are read before others, whatever the order
        // they were sent in.
        let ping = ToWorker::Session(SessionDown::Ping {
            dst: Ipv4Addr::new(198, 18, 0, 1),
            ident: CTL_IDENT_BASE,
            seq: 1,
            size: 8,
            ttl: 64,
            dont_frag: false,
        });
        assert_eq!(r.to_worker(ping), Ok(()));
        assert_eq!(r.to_worker(ping), Err(Class::Session));
        let resolved = ToWorker::Neigh(NeighDown::Resolved {
            port: PortId(0),
            ip: Ipv4Addr::new(198, 18, 0, 1),
        });
        assert_eq!(r.to_worker(resolved), Ok(()));
        assert!(matches!(
            r.from_control(),
            Some(ToWorker::Neigh(NeighDown::Resolved { .. }))
        ));
        assert!(matches!(
            r.from_control(),
            Some(ToWorker::Session(SessionDown::Ping { .. }))
        ));
        assert!(r.from_control().is_none());
        // A neighbour message's slot is small: an IGMP-sized ring does not make it big.
        assert!(core::mem::size_of::<NeighUp>() <= 64 && core::mem::size_of::<NeighDown>() <= 64);
    }
}
