//! Messages between workers and the control thread, over bounded lock-free rings.

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

/// Worker → control.
// A trace record is the largest message; it only travels while `ctl trace` runs, and boxing
// it would allocate on the packet path.
#[allow(clippy::large_enum_variant)]
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
    /// The path of one traced packet (`ctl trace`).
    Trace(crate::trace::TraceRecord),
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

/// The rings of one worker.
#[derive(Debug, Clone)]
pub struct Rings {
    /// Worker → control.
    pub to_control: Arc<ArrayQueue<ToControl>>,
    /// Control → worker.
    pub to_worker: Arc<ArrayQueue<ToWorker>>,
}

impl Rings {
    /// Rings of `capacity` messages each way.
    pub fn new(capacity: usize) -> Rings {
        Rings {
            to_control: Arc::new(ArrayQueue::new(capacity)),
            to_worker: Arc::new(ArrayQueue::new(capacity)),
        }
    }
}
