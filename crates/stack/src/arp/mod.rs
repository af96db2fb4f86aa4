//! ARP and the neighbour table (RFC 826, with RFC 5227's conflict handling), in three parts.
//!
//! - [`NeighTable`] / [`NeighReader`] (`table`): the shared, read-mostly table. The control
//!   thread publishes immutable versions (crossbeam-epoch); workers look up next-hop MACs under a
//!   pinned guard and stamp each entry's `last_used` when they transmit to it, so the control
//!   side can age out unused entries without hearing about every packet.
//! - [`ArpControl`] (`control`): the control thread's state machine. It learns from the ARP
//!   packets workers hand it, resolves neighbours (requests, retries with backoff, failure),
//!   ages entries, runs duplicate address detection for our addresses and defends them. Sans-IO:
//!   it takes `now` and reports everything through an [`ArpOutput`].
//! - [`PendingQueues`] (`pending`): the worker's bounded per-neighbour queues of packets waiting
//!   for resolution, allocation-free after construction.
//!
//! Worker-side answering of requests for our addresses is [`answer_request`].
//!
//! Flow: a worker receives an ARP packet, answers it if it asks for one of our addresses, and
//! forwards the parsed [`arp::Repr`] to the control thread ([`ArpControl::on_arp`]). A worker
//! whose next hop misses in the table queues the packet ([`PendingQueues::push`]) and, the first
//! time, asks the control thread to resolve it ([`ArpControl::resolve`]). The control thread
//! publishes the learned entry and tells workers ([`ArpOutput::resolved`]); they drain the queue
//! ([`PendingQueues::take`]). On failure ([`ArpOutput::resolution_failed`]) they drop it
//! ([`PendingQueues::drop_failed`]) and send ICMP host unreachable to local senders.
//!
//! Defaults follow the seeds (a mature OS's documentation): dynamic entries die after two
//! minutes unused and after ten minutes in any case, static entries never age, `ArpRetryCount`
//! is 3 (gratuitous ARPs at start-up and requests per resolution).

use core::net::Ipv4Addr;

use burst_port::clock::Nanos;
use burst_wire::arp::{self, Operation};
use burst_wire::ethernet::MacAddr;

use crate::PortId;

mod control;
mod pending;
mod table;
#[cfg(test)]
mod tests;

pub use control::{AddrState, ArpControl, ArpError, ArpOutput, ArpStats, Conflict, NeighInfo};
pub use pending::{PendingQueues, PendingStats, Queued, Taken};
pub use table::{NeighKind, NeighReader, NeighSnapshot, NeighTable, NeighVersion, Neighbor};

/// A neighbour's identity: the port it is reached through and its IPv4 address.
pub type NeighKey = (PortId, Ipv4Addr);

/// ARP configuration (one section for the control thread and the workers' pending queues).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpConfig {
    /// A dynamic entry not used by any outgoing packet for this long is removed (seeds: two
    /// minutes).
    pub cache_life_unused: Nanos,
    /// A dynamic entry is removed this long after it was learned or last confirmed by an ARP
    /// packet from the neighbour, even while in use (seeds: ten minutes).
    pub cache_life_max: Nanos,
    /// `ArpRetryCount`: gratuitous ARPs sent for a new address, and requests sent per
    /// resolution before it fails (seeds: 3).
    pub retry_count: u8,
    /// Wait after the first request of a resolution; it doubles after each further request
    /// (1 s, 2 s, 4 s: with the defaults requests go out at 0, 1 and 3 s and the resolution
    /// fails at 7 s).
    pub retry_interval: Nanos,
    /// At most one request per neighbour per this interval, across resolutions (a worker that
    /// asks again right after a failure does not cause a broadcast storm).
    pub request_rate_limit: Nanos,
    /// Interval between the gratuitous ARPs of duplicate address detection; an address becomes
    /// preferred one interval after the last of them.
    pub dad_interval: Nanos,
    /// Duplicate address detection for new addresses (seed "Duplicate IP Address Detection",
    /// on); off, an address is usable at once after a single gratuitous ARP announcing it.
    pub duplicate_detection: bool,
    /// Whether to answer a later conflict (another host claims a preferred address) with one
    /// gratuitous ARP of our own (RFC 5227 §2.4 (b)).
    pub conflict_defend: bool,
    /// At most one defence per address per this interval (RFC 5227 DEFEND_INTERVAL, 10 s).
    pub defend_interval: Nanos,
    /// Most entries (static and dynamic); new dynamic entries beyond it are refused and counted.
    pub max_entries: usize,
    /// Most resolutions in progress at once; a request beyond it fails at once (an address
    /// scan through the router must not grow the control thread's state without bound).
    pub max_resolving: usize,
    /// Packets a worker queues per unresolved neighbour. The seeds queue one datagram; we keep
    /// 16 so a burst towards a new neighbour (a TCP window, a UDP stream) is not cut to one.
    pub pending_per_neighbor: usize,
    /// Packets a worker queues for all unresolved neighbours together.
    pub pending_total: usize,
    /// Unresolved neighbours a worker queues for at once.
    pub pending_neighbors: usize,
    /// A worker asks the control thread again for a neighbour still pending after this long
    /// (covers a request lost on a full ring; the control thread ignores duplicates).
    pub pending_reask: Nanos,
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            cache_life_unused: Nanos::from_secs(120),
            cache_life_max: Nanos::from_secs(600),
            retry_count: 3,
            retry_interval: Nanos::from_secs(1),
            request_rate_limit: Nanos::from_secs(1),
            dad_interval: Nanos::from_secs(1),
            duplicate_detection: true,
            conflict_defend: true,
            defend_interval: Nanos::from_secs(10),
            max_entries: 4096,
            max_resolving: 1024,
            pending_per_neighbor: 16,
            pending_total: 1024,
            pending_neighbors: 256,
            pending_reask: Nanos::from_secs(1),
        }
    }
}

/// The reply a worker sends to `req` if it asks for one of `our` addresses (the preferred
/// addresses of the port it arrived on, with the port's MAC), per RFC 826.
///
/// The reply goes unicast to `reply.target_hardware_addr`. A request whose sender MAC is not a
/// unicast address is not answered (RFC 1812 §3.3.2), nor is our own request looped back.
/// Requests from other hosts that claim our address (gratuitous ARPs, probes) are answered: that
/// reply is how a host doing duplicate address detection learns the address is taken.
pub fn answer_request(our: &[(Ipv4Addr, MacAddr)], req: &arp::Repr) -> Option<arp::Repr> {
    if req.operation != Operation::REQUEST {
        return None;
    }
    let sha = req.source_hardware_addr;
    if !sha.is_unicast() || sha == MacAddr::ZERO {
        return None;
    }
    let &(ip, mac) = our.iter().find(|(ip, _)| *ip == req.target_protocol_addr)?;
    if sha == mac {
        return None;
    }
    Some(arp::Repr::reply(mac, ip, sha, req.source_protocol_addr))
}
