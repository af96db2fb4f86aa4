//! IGMP host side, one [`IgmpHost`] per port: multicast level 2 (send and receive, RFC 1112
//! §4), as the seeds describe ("level 2 (full) support for IP multicasting and IGMP versions 1
//! through 3").
//!
//! Behaviour is RFC 3376 §5 (host state and reports) and §7 (compatibility with older
//! queriers), with RFC 2236 (v2) and RFC 1112 (v1) host behaviour in the compatibility modes:
//!
//! - **Membership**: any-source joins only, i.e. every joined group is in EXCLUDE mode with an
//!   empty source list (what `IP_ADD_MEMBERSHIP` gives). Joins are reference counted (several
//!   sockets); the first join and the last leave change the interface state. Source filters
//!   (INCLUDE mode, ALLOW/BLOCK records) are not supported. A group-and-source-specific query
//!   is answered like a group-specific one, with MODE_IS_EXCLUDE {} — the complete answer for
//!   an EXCLUDE {} group, and what Linux sends in that case.
//! - **v3 mode**: a state change is reported at once (CHANGE_TO_EXCLUDE {} on join,
//!   CHANGE_TO_INCLUDE {} on leave) and retransmitted `[Robustness Variable] - 1` more times at
//!   random intervals in (0, [Unsolicited Report Interval]] (§5.1); a new change of the same
//!   group restarts its retransmissions with the new record. Queries are answered after a
//!   random delay in [0, Max Resp Time] with a current-state report (MODE_IS_EXCLUDE {}) under
//!   the four rules of §5.2 (interface timer for general queries, per-group timers for
//!   group-specific ones). There is no report suppression in v3. Reports go to 224.0.0.22 and
//!   are split to fit the MTU.
//! - **Compatibility** (§7.2.1): a v1 or v2 query starts the Older Version Querier Present
//!   timer for that version (`Robustness × Query Interval + Query Response Interval`, §8.12);
//!   while one runs the host acts as a v1 or v2 host, and every mode change cancels all pending
//!   response and retransmission timers. A host configured as v2 uses RFC 2236's 400 s Version
//!   1 Router Present Timeout instead. Queries of a newer version than the mode are handled as
//!   queries of the mode (their decoded max resp time is used).
//! - **v1/v2 mode** (RFC 2236 §3, §6): a join sends a report to the group at once and repeats it
//!   `robustness - 1` times at random intervals up to the v2 Unsolicited Report Interval
//!   (10 s); queries start a per-group delay timer (random in [0, Max Resp Time], only
//!   shortened, never lengthened); hearing another host's v1/v2 report for the group cancels it
//!   (report suppression) and clears the "last reporter" flag. A v2 leave (to 224.0.0.2) is
//!   sent only when the flag is set (RFC 2236 §6, as the seeds and Linux do), or always with
//!   [`IgmpConfig::v2_leave_always`]. v1 has no leave.
//! - **224.0.0.1** (all-systems) is always a member, never joined, reported or left (§5).
//! - The host adopts the QRV (as its robustness) and the QQI of v3 queries when non-zero, as
//!   Linux does.
//!
//! Sans-IO: the host takes `now` and parsed messages and hands finished IGMP messages (checksum
//! filled) to an [`IgmpOutput`]; the caller puts them in an IPv4 header from [`ipv4_header`]
//! (TTL 1, Router Alert, TOS 0xc0, DF: what Linux sends) and a frame to the 01:00:5e MAC of the
//! destination. It calls [`IgmpHost::poll`] at (or after) the deadline the host returns. Group
//! state lives in a sorted vector pre-sized to [`IgmpConfig::max_groups`], so membership checks
//! on the receive path are a binary search and nothing allocates after construction (except
//! [`IgmpHost::mac_filter`], which is for the control path).

use core::fmt;
use core::net::Ipv4Addr;

use burst_port::clock::{Nanos, SplitMix64};
use burst_wire::ethernet::MacAddr;
use burst_wire::igmp::{
    self, GroupRecord, RecordType, SourceList, Version, ALL_ROUTERS, ALL_SYSTEMS, ALL_V3_ROUTERS,
};
use burst_wire::ipv4::{self, Options, Protocol};
use burst_wire::ChecksumCheck;
use tracing::{debug, info};

use crate::PortId;

/// The Router Alert option (RFC 2113) every IGMP message carries (RFC 3376 §4, RFC 2236 §2).
pub const ROUTER_ALERT: [u8; 4] = [148, 4, 0, 0];
/// DSCP of IGMP messages: CS6, i.e. TOS 0xc0, as Linux sends them (internetwork control).
pub const IGMP_DSCP: u8 = 0xc0 >> 2;
/// IPv4 header length of an IGMP message (20 bytes plus the Router Alert option).
pub const IPV4_HEADER_LEN: usize = ipv4::HEADER_LEN + ROUTER_ALERT.len();

/// One tenth of a second, the unit of max resp times.
const TENTH: u64 = 100_000_000;

/// IGMP host tunables (RFC 3376 §8 defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgmpConfig {
    /// Highest version the host speaks (default v3); older queriers lower it for a while.
    pub version: Version,
    /// Robustness Variable (RFC 3376 §8.1: 2): how many times a state change is reported.
    /// Replaced by a v3 query's non-zero QRV.
    pub robustness: u8,
    /// Query Interval assumed until a v3 query tells its QQI (RFC 3376 §8.2: 125 s).
    pub query_interval: Nanos,
    /// Query Response Interval (RFC 3376 §8.3: 10 s), part of the older querier timeout.
    pub query_response_interval: Nanos,
    /// v3 Unsolicited Report Interval (RFC 3376 §8.11: 1 s): state-change retransmissions are
    /// spread over up to this.
    pub unsolicited_report_interval: Nanos,
    /// v1/v2 Unsolicited Report Interval (RFC 2236 §8.10: 10 s): join report repeats.
    pub v2_unsolicited_report_interval: Nanos,
    /// Version 1 Router Present Timeout of a host configured as v2 (RFC 2236 §8.11: 400 s).
    pub v1_router_present_timeout: Nanos,
    /// Send a v2 leave even when another host sent the last report for the group (default
    /// false: only the last reporter leaves, RFC 2236 §6).
    pub v2_leave_always: bool,
    /// Groups the port can join (and remember while their leave is retransmitted).
    pub max_groups: usize,
    /// Link MTU: v3 reports are split so that each fits (IPv4 header with Router Alert
    /// included).
    pub mtu: usize,
}

impl Default for IgmpConfig {
    fn default() -> Self {
        IgmpConfig {
            version: Version::V3,
            robustness: 2,
            query_interval: Nanos::from_secs(125),
            query_response_interval: Nanos::from_secs(10),
            unsolicited_report_interval: Nanos::from_secs(1),
            v2_unsolicited_report_interval: Nanos::from_secs(10),
            v1_router_present_timeout: Nanos::from_secs(400),
            v2_leave_always: false,
            max_groups: 256,
            mtu: 1500,
        }
    }
}

macro_rules! stats {
    ($(#[$sm:meta])* $name:ident { $($(#[$m:meta])* $f:ident,)* }) => {
        $(#[$sm])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name {
            $($(#[$m])* pub $f: u64,)*
        }

        impl $name {
            /// Adds another port's counters.
            pub fn add(&mut self, o: &$name) {
                $(self.$f += o.$f;)*
            }

            /// Every counter with its name.
            pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> {
                [$((stringify!($f), self.$f),)*].into_iter()
            }
        }
    };
}

stats! {
    /// Per-port IGMP counters.
    IgmpStats {
        /// Messages handed to [`IgmpHost::on_message`].
        in_msgs,
        /// Dropped: truncated, bad checksum or unknown type.
        in_errors,
        /// v1 queries received.
        in_queries_v1,
        /// v2 queries received.
        in_queries_v2,
        /// v3 queries received.
        in_queries_v3,
        /// Queries ignored: a general query not sent to 224.0.0.1 (RFC 3376 §9.1) or a
        /// group-specific query for a non-multicast group.
        in_queries_bad,
        /// Group-specific queries ignored: not a member of the group.
        in_queries_not_member,
        /// Reports (any version) received from other hosts.
        in_reports,
        /// v2 leaves received (hosts ignore them).
        in_leaves,
        /// Our own messages looped back (ignored).
        in_own,
        /// v1 reports sent.
        out_reports_v1,
        /// v2 reports sent.
        out_reports_v2,
        /// v3 reports sent (current-state and state-change).
        out_reports_v3,
        /// v2 leaves sent.
        out_leaves,
        /// Leaves not sent: v2 and another host sent the last report, or v1 (no leave).
        leaves_not_sent,
        /// Pending v1/v2 reports cancelled by another host's report (RFC 2236 §3).
        reports_suppressed,
        /// Compatibility mode changes (older querier appeared or timed out).
        mode_changes,
        /// Joins refused: group table full.
        join_refused,
    }
}

/// What the host needs from the stack: a way to send.
pub trait IgmpOutput {
    /// Sends `msg` (a whole IGMP message, checksum filled) from `port` to `dst`, inside an IPv4
    /// header from [`ipv4_header`].
    fn send(&mut self, port: PortId, dst: Ipv4Addr, msg: &[u8]);
}

/// Why a join or leave was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgmpError {
    /// The address is not a multicast group.
    NotMulticast,
    /// The port already holds [`IgmpConfig::max_groups`] groups.
    TableFull,
    /// Leave of a group not joined.
    NotMember,
}

impl fmt::Display for IgmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IgmpError::NotMulticast => "not a multicast address",
            IgmpError::TableFull => "too many multicast groups on the port",
            IgmpError::NotMember => "not a member of the group",
        })
    }
}

impl std::error::Error for IgmpError {}

/// The IPv4 header of an IGMP message: TTL 1, the Router Alert option, TOS 0xc0, DF and
/// ident 0 — byte for byte what Linux sends (crates/wire/tests/data/linux/igmpv3.pcap).
pub fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, igmp_len: usize) -> ipv4::Repr {
    let mut h = ipv4::Repr::new(src, dst, Protocol::IGMP, igmp_len, 1);
    h.dscp = IGMP_DSCP;
    h.dont_frag = true;
    h.options = Options::from_bytes(&ROUTER_ALERT).expect("Router Alert is a well-formed option");
    h
}

/// State of one group on the port.
#[derive(Debug, Clone, Copy)]
struct Group {
    addr: Ipv4Addr,
    /// Sockets that joined; 0 while a v3 leave is still being retransmitted.
    refs: u32,
    /// v3: pending response to a group-specific query. v1/v2: the delay timer of the next
    /// report (query response or unsolicited repeat).
    report_at: Option<Nanos>,
    /// v1/v2: reports still to send, the pending one included.
    reports_left: u8,
    /// v3: record type of the last state change.
    change: RecordType,
    /// v3: state-change retransmissions left.
    change_left: u8,
    /// v3: when the next retransmission is due (if `change_left > 0`).
    change_at: Nanos,
    /// v2: we sent the last report for the group (RFC 2236 §6).
    last_reporter: bool,
}

impl Group {
    fn new(addr: Ipv4Addr) -> Self {
        Group {
            addr,
            refs: 0,
            report_at: None,
            reports_left: 0,
            change: RecordType::CHANGE_TO_EXCLUDE_MODE,
            change_left: 0,
            change_at: Nanos::ZERO,
            last_reporter: false,
        }
    }
}

/// A uniform delay in [0, max].
fn rand_upto(rng: &mut SplitMix64, max: Nanos) -> Nanos {
    Nanos(rng.below(max.0.saturating_add(1)))
}

/// A uniform delay in (0, max] (at least 1 ns, so a rescheduled timer is always in the future).
fn rand_interval(rng: &mut SplitMix64, max: Nanos) -> Nanos {
    Nanos(1 + rng.below(max.0.max(1)))
}

fn min_opt(a: Option<Nanos>, b: Option<Nanos>) -> Option<Nanos> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Emits `records` as v3 reports to 224.0.0.22, as many records per report as `buf` holds.
fn send_v3(
    port: PortId,
    buf: &mut [u8],
    records: &[GroupRecord<'_>],
    stats: &mut IgmpStats,
    out: &mut impl IgmpOutput,
) {
    // Every record is EXCLUDE/INCLUDE {} without sources: 8 bytes.
    let per = ((buf.len() - igmp::HEADER_LEN) / igmp::GROUP_RECORD_HEADER_LEN).max(1);
    for chunk in records.chunks(per) {
        if let Ok(len) = igmp::emit_v3_report(buf, chunk) {
            debug!(%port, records = chunk.len(), "IGMPv3 report sent");
            out.send(port, ALL_V3_ROUTERS, &buf[..len]);
            stats.out_reports_v3 += 1;
        }
    }
}

/// Emits a v1 or v2 report for `group`, to the group.
fn send_old_report(
    port: PortId,
    version: Version,
    group: Ipv4Addr,
    stats: &mut IgmpStats,
    out: &mut impl IgmpOutput,
) {
    let repr = if version == Version::V1 {
        stats.out_reports_v1 += 1;
        igmp::Repr::MembershipReportV1 { group_addr: group }
    } else {
        stats.out_reports_v2 += 1;
        igmp::Repr::MembershipReportV2 { group_addr: group }
    };
    let mut b = [0u8; igmp::HEADER_LEN];
    repr.emit(&mut igmp::Packet::new_unchecked(&mut b[..]));
    debug!(%port, %group, ?version, "IGMP report sent");
    out.send(port, group, &b);
}

/// The IGMP host of one port. See the module documentation for the behaviour.
///
/// Driver order: feed received IGMP messages to [`IgmpHost::on_message`] (or the parsed ones
/// to [`IgmpHost::on_query`] / [`IgmpHost::on_report`]), call [`IgmpHost::join`] /
/// [`IgmpHost::leave`] for socket membership changes, and call [`IgmpHost::poll`] whenever
/// the deadline it (or [`IgmpHost::next_deadline`]) returned has passed.
#[derive(Debug)]
pub struct IgmpHost {
    port: PortId,
    our_addr: Ipv4Addr,
    cfg: IgmpConfig,
    rng: SplitMix64,
    /// Sorted by address; 224.0.0.1 is never in it.
    groups: Vec<Group>,
    /// Current compatibility mode.
    mode: Version,
    /// IGMPv1 Querier Present timer.
    v1_querier_until: Option<Nanos>,
    /// IGMPv2 Querier Present timer.
    v2_querier_until: Option<Nanos>,
    /// v3 interface timer: pending response to a general query.
    general_at: Option<Nanos>,
    /// QRV adopted from the last v3 query that had a non-zero one.
    qrv: Option<u8>,
    /// QQI adopted from the last v3 query that had a non-zero one.
    qqi: Option<Nanos>,
    /// Scratch record list (capacity `max_groups`).
    records: Vec<GroupRecord<'static>>,
    /// Scratch report buffer (the largest report the MTU allows).
    buf: Vec<u8>,
    stats: IgmpStats,
}

impl IgmpHost {
    /// A host on `port` with address `our_addr` (0.0.0.0 if it has none yet), no groups joined,
    /// random delays drawn from `seed`.
    pub fn new(port: PortId, our_addr: Ipv4Addr, cfg: IgmpConfig, seed: u64) -> Self {
        let report_len = cfg
            .mtu
            .saturating_sub(IPV4_HEADER_LEN)
            .max(igmp::HEADER_LEN + igmp::GROUP_RECORD_HEADER_LEN);
        IgmpHost {
            port,
            our_addr,
            cfg,
            rng: SplitMix64::new(seed),
            groups: Vec::with_capacity(cfg.max_groups),
            mode: cfg.version,
            v1_querier_until: None,
            v2_querier_until: None,
            general_at: None,
            qrv: None,
            qqi: None,
            records: Vec::with_capacity(cfg.max_groups),
            buf: vec![0; report_len],
            stats: IgmpStats::default(),
        }
    }

    /// The port.
    pub fn port(&self) -> PortId {
        self.port
    }

    /// Our address on the port (the source of our messages).
    pub fn our_addr(&self) -> Ipv4Addr {
        self.our_addr
    }

    /// Changes our address (used to recognise our own looped-back reports).
    pub fn set_our_addr(&mut self, addr: Ipv4Addr) {
        self.our_addr = addr;
    }

    /// Counters.
    pub fn stats(&self) -> &IgmpStats {
        &self.stats
    }

    /// The compatibility mode as of the last call that was given `now`.
    pub fn compat_mode(&self) -> Version {
        self.mode
    }

    /// The robustness in use: the last v3 query's QRV, else the configured one.
    pub fn robustness(&self) -> u8 {
        self.qrv.unwrap_or(self.cfg.robustness).max(1)
    }

    /// Whether datagrams to `group` are for us: 224.0.0.1 or a joined group. Others are
    /// discarded (the 01:00:5e mapping is not unique, so the NIC lets some through).
    pub fn is_member(&self, group: Ipv4Addr) -> bool {
        group == ALL_SYSTEMS || self.find(group).is_some_and(|i| self.groups[i].refs > 0)
    }

    /// Sockets that joined `group` (0 if none; 224.0.0.1 counts as 0).
    pub fn refs(&self, group: Ipv4Addr) -> u32 {
        self.find(group).map_or(0, |i| self.groups[i].refs)
    }

    /// The groups the port is a member of: 224.0.0.1, then the joined ones in ascending order.
    pub fn groups(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        core::iter::once(ALL_SYSTEMS)
            .chain(self.groups.iter().filter(|g| g.refs > 0).map(|g| g.addr))
    }

    /// The multicast MACs the port's filter should pass: the 01:00:5e mapping of every member
    /// group (224.0.0.1's included), sorted and without duplicates. Allocates: call it on the
    /// control path when [`IgmpHost::join`] or [`IgmpHost::leave`] returned `Ok(true)`.
    pub fn mac_filter(&self) -> Vec<MacAddr> {
        let mut macs: Vec<MacAddr> = self
            .groups()
            .filter_map(MacAddr::from_ipv4_multicast)
            .collect();
        macs.sort_unstable_by_key(|m| m.0);
        macs.dedup();
        macs
    }

    /// The earliest time [`IgmpHost::poll`] has something to do.
    pub fn next_deadline(&self) -> Option<Nanos> {
        let mut d = min_opt(self.general_at, self.v1_querier_until);
        d = min_opt(d, self.v2_querier_until);
        for g in &self.groups {
            d = min_opt(d, g.report_at);
            if g.change_left > 0 {
                d = min_opt(d, Some(g.change_at));
            }
        }
        d
    }

    fn find(&self, group: Ipv4Addr) -> Option<usize> {
        self.groups.binary_search_by_key(&group, |g| g.addr).ok()
    }

    /// Older Version Querier Present Timeout (RFC 3376 §8.12).
    fn older_querier_timeout(&self) -> Nanos {
        let qi = self.qqi.unwrap_or(self.cfg.query_interval);
        Nanos(u64::from(self.robustness()) * qi.0) + self.cfg.query_response_interval
    }

    /// Expires the older-querier timers and switches mode if needed, cancelling every pending
    /// response and retransmission timer on a change (RFC 3376 §7.2.1).
    fn refresh_mode(&mut self, now: Nanos) {
        if self.v1_querier_until.is_some_and(|t| t <= now) {
            self.v1_querier_until = None;
        }
        if self.v2_querier_until.is_some_and(|t| t <= now) {
            self.v2_querier_until = None;
        }
        let mode = if self.cfg.version == Version::V1 || self.v1_querier_until.is_some() {
            Version::V1
        } else if self.cfg.version == Version::V2 || self.v2_querier_until.is_some() {
            Version::V2
        } else {
            Version::V3
        };
        if mode == self.mode {
            return;
        }
        info!(port = %self.port, from = ?self.mode, to = ?mode, "IGMP compatibility mode changed");
        self.mode = mode;
        self.stats.mode_changes += 1;
        self.general_at = None;
        for g in &mut self.groups {
            g.report_at = None;
            g.reports_left = 0;
            g.change_left = 0;
        }
        // Groups left in v3 whose CHANGE_TO_INCLUDE was still being retransmitted are gone.
        self.groups.retain(|g| g.refs > 0);
    }

    /// A socket joins `group`. Returns `Ok(true)` when this is the port's first join of the
    /// group (it was reported; the MAC filter must be updated), `Ok(false)` for a further join
    /// or for 224.0.0.1 (always a member, never reported).
    pub fn join(
        &mut self,
        group: Ipv4Addr,
        now: Nanos,
        out: &mut impl IgmpOutput,
    ) -> Result<bool, IgmpError> {
        if !group.is_multicast() {
            return Err(IgmpError::NotMulticast);
        }
        if group == ALL_SYSTEMS {
            return Ok(false);
        }
        self.refresh_mode(now);
        let i = match self.groups.binary_search_by_key(&group, |g| g.addr) {
            Ok(i) => i,
            Err(i) => {
                if self.groups.len() >= self.cfg.max_groups {
                    self.stats.join_refused += 1;
                    return Err(IgmpError::TableFull);
                }
                self.groups.insert(i, Group::new(group));
                i
            }
        };
        let g = &mut self.groups[i];
        g.refs = g.refs.saturating_add(1);
        if g.refs > 1 {
            return Ok(false);
        }
        debug!(port = %self.port, %group, "IGMP join");
        if self.mode == Version::V3 {
            self.state_change(i, RecordType::CHANGE_TO_EXCLUDE_MODE, now, out);
        } else {
            // RFC 2236 §3: report at once, repeat after short random delays.
            let repeats = self.robustness() - 1;
            let g = &mut self.groups[i];
            send_old_report(self.port, self.mode, group, &mut self.stats, out);
            g.last_reporter = true;
            g.reports_left = repeats;
            g.report_at = (repeats > 0).then(|| {
                now + rand_interval(&mut self.rng, self.cfg.v2_unsolicited_report_interval)
            });
        }
        Ok(true)
    }

    /// A socket leaves `group`. Returns `Ok(true)` when it was the port's last member (the
    /// leave was signalled as the mode requires; the MAC filter must be updated), `Ok(false)`
    /// when other sockets still hold it or for 224.0.0.1.
    pub fn leave(
        &mut self,
        group: Ipv4Addr,
        now: Nanos,
        out: &mut impl IgmpOutput,
    ) -> Result<bool, IgmpError> {
        if group == ALL_SYSTEMS {
            return Ok(false);
        }
        self.refresh_mode(now);
        let i = match self.find(group) {
            Some(i) if self.groups[i].refs > 0 => i,
            _ => return Err(IgmpError::NotMember),
        };
        let g = &mut self.groups[i];
        g.refs -= 1;
        if g.refs > 0 {
            return Ok(false);
        }
        debug!(port = %self.port, %group, "IGMP leave");
        match self.mode {
            Version::V3 => {
                self.groups[i].report_at = None;
                self.state_change(i, RecordType::CHANGE_TO_INCLUDE_MODE, now, out);
                if self.groups[i].change_left == 0 {
                    self.groups.remove(i);
                }
            }
            Version::V2 => {
                if g.last_reporter || self.cfg.v2_leave_always {
                    let mut b = [0u8; igmp::HEADER_LEN];
                    igmp::Repr::LeaveGroup { group_addr: group }
                        .emit(&mut igmp::Packet::new_unchecked(&mut b[..]));
                    out.send(self.port, ALL_ROUTERS, &b);
                    self.stats.out_leaves += 1;
                } else {
                    self.stats.leaves_not_sent += 1;
                }
                self.groups.remove(i);
            }
            Version::V1 => {
                self.stats.leaves_not_sent += 1;
                self.groups.remove(i);
            }
        }
        Ok(true)
    }

    /// v3 state change of group `i` (RFC 3376 §5.1): report now, retransmit later.
    fn state_change(
        &mut self,
        i: usize,
        record: RecordType,
        now: Nanos,
        out: &mut impl IgmpOutput,
    ) {
        let retrans = self.robustness() - 1;
        let g = &mut self.groups[i];
        g.change = record;
        g.change_left = retrans;
        g.change_at = now + rand_interval(&mut self.rng, self.cfg.unsolicited_report_interval);
        let rec = [GroupRecord::new(record, g.addr, SourceList::EMPTY)];
        send_v3(self.port, &mut self.buf, &rec, &mut self.stats, out);
    }

    /// Parses and handles one received IGMP message (the IPv4 payload) from `src` to `dst`.
    pub fn on_message(&mut self, msg: &[u8], src: Ipv4Addr, dst: Ipv4Addr, now: Nanos) {
        self.stats.in_msgs += 1;
        let repr = match igmp::Packet::new_checked(msg)
            .and_then(|p| igmp::Repr::parse(&p, ChecksumCheck::Verify))
        {
            Ok(r) => r,
            Err(e) => {
                debug!(port = %self.port, %src, error = ?e, "bad IGMP message dropped");
                self.stats.in_errors += 1;
                return;
            }
        };
        match repr {
            igmp::Repr::MembershipQuery { .. } => self.on_query(&repr, dst, now),
            _ => self.on_report(&repr, src, now),
        }
    }

    /// Handles a membership query sent to `dst`: notes older queriers, adopts QRV/QQI and
    /// schedules the responses. Anything but a query is ignored.
    pub fn on_query(&mut self, query: &igmp::Repr<'_>, dst: Ipv4Addr, now: Nanos) {
        let igmp::Repr::MembershipQuery {
            version,
            group_addr,
            qrv,
            ..
        } = *query
        else {
            return;
        };
        match version {
            Version::V1 => self.stats.in_queries_v1 += 1,
            Version::V2 => self.stats.in_queries_v2 += 1,
            Version::V3 => self.stats.in_queries_v3 += 1,
        }
        // A v1 query's group field is unused: every v1 query is general.
        let general = version == Version::V1 || group_addr.is_unspecified();
        if (general && dst != ALL_SYSTEMS) || (!general && !group_addr.is_multicast()) {
            // RFC 3376 §9.1: hosts ignore general queries sent anywhere but 224.0.0.1.
            self.stats.in_queries_bad += 1;
            return;
        }
        match version {
            Version::V1 => {
                let t = if self.cfg.version == Version::V2 {
                    self.cfg.v1_router_present_timeout
                } else {
                    self.older_querier_timeout()
                };
                self.v1_querier_until = Some(now + t);
            }
            Version::V2 => {
                if self.cfg.version == Version::V3 {
                    self.v2_querier_until = Some(now + self.older_querier_timeout());
                }
            }
            Version::V3 => {
                if qrv != 0 {
                    self.qrv = Some(qrv);
                }
                if let Some(qqi) = query.qqi().filter(|&q| q != 0) {
                    self.qqi = Some(Nanos::from_secs(u64::from(qqi)));
                }
            }
        }
        self.refresh_mode(now);
        let max = Nanos(
            u64::from(
                query
                    .max_resp_time()
                    .unwrap_or(igmp::V1_QUERY_MAX_RESP_TIME),
            ) * TENTH,
        );
        if self.mode == Version::V3 {
            self.schedule_v3(general, group_addr, max, now);
        } else {
            self.schedule_old(general, group_addr, max, now);
        }
    }

    /// RFC 3376 §5.2's four rules.
    fn schedule_v3(&mut self, general: bool, group: Ipv4Addr, max: Nanos, now: Nanos) {
        let at = now + rand_upto(&mut self.rng, max);
        // 1. A general response due sooner covers this query.
        if self.general_at.is_some_and(|g| g <= at) {
            return;
        }
        // 2. General query: (re)arm the interface timer.
        if general {
            self.general_at = Some(at);
            return;
        }
        // 3./4. Group-specific: arm the group timer, or keep the sooner one.
        match self.find(group) {
            Some(i) if self.groups[i].refs > 0 => {
                let g = &mut self.groups[i];
                g.report_at = min_opt(g.report_at, Some(at));
            }
            _ => self.stats.in_queries_not_member += 1,
        }
    }

    /// RFC 2236 §3: start each queried group's delay timer, or shorten it if it would fire
    /// after the new max resp time.
    fn schedule_old(&mut self, general: bool, group: Ipv4Addr, max: Nanos, now: Nanos) {
        let mut hit = false;
        for g in &mut self.groups {
            if g.refs == 0 || !(general || g.addr == group) {
                continue;
            }
            hit = true;
            if g.report_at.is_none_or(|t| t > now + max) {
                g.report_at = Some(now + rand_upto(&mut self.rng, max));
            }
            g.reports_left = g.reports_left.max(1);
        }
        if !general && !hit {
            self.stats.in_queries_not_member += 1;
        }
    }

    /// Handles a report or leave from `src`: in v1/v2 mode, another host's v1/v2 report for a
    /// group cancels our pending report for it (suppression) and makes that host the last
    /// reporter. v3 reports and leaves need nothing from a host.
    pub fn on_report(&mut self, msg: &igmp::Repr<'_>, src: Ipv4Addr, now: Nanos) {
        if src == self.our_addr && !src.is_unspecified() {
            self.stats.in_own += 1;
            return;
        }
        let group = match *msg {
            igmp::Repr::MembershipReportV1 { group_addr }
            | igmp::Repr::MembershipReportV2 { group_addr } => group_addr,
            igmp::Repr::MembershipReportV3 { .. } => {
                self.stats.in_reports += 1;
                return;
            }
            igmp::Repr::LeaveGroup { .. } => {
                self.stats.in_leaves += 1;
                return;
            }
            igmp::Repr::MembershipQuery { .. } => return,
        };
        self.stats.in_reports += 1;
        self.refresh_mode(now);
        if self.mode == Version::V3 {
            // RFC 3376 §5.2: no suppression in v3.
            return;
        }
        if let Some(i) = self.find(group) {
            let g = &mut self.groups[i];
            if g.report_at.take().is_some() {
                debug!(port = %self.port, %group, %src, "IGMP report suppressed");
                self.stats.reports_suppressed += 1;
            }
            g.reports_left = 0;
            g.last_reporter = false;
        }
    }

    /// Fires the timers due at `now` (reports, retransmissions, mode changes) and returns the
    /// next deadline.
    pub fn poll(&mut self, now: Nanos, out: &mut impl IgmpOutput) -> Option<Nanos> {
        self.refresh_mode(now);
        if self.mode == Version::V3 {
            self.poll_v3(now, out);
        } else {
            for g in &mut self.groups {
                if g.refs == 0 || g.report_at.is_none_or(|t| t > now) {
                    continue;
                }
                send_old_report(self.port, self.mode, g.addr, &mut self.stats, out);
                g.last_reporter = true;
                g.reports_left = g.reports_left.saturating_sub(1);
                g.report_at = (g.reports_left > 0).then(|| {
                    now + rand_interval(&mut self.rng, self.cfg.v2_unsolicited_report_interval)
                });
            }
        }
        self.next_deadline()
    }

    fn poll_v3(&mut self, now: Nanos, out: &mut impl IgmpOutput) {
        // Current-state report: every group for a due general query, plus the groups whose
        // group-specific response is due.
        let general = self.general_at.is_some_and(|t| t <= now);
        if general {
            self.general_at = None;
        }
        self.records.clear();
        for g in &mut self.groups {
            let due = g.report_at.is_some_and(|t| t <= now);
            if due {
                g.report_at = None;
            }
            if g.refs > 0 && (general || due) {
                let rec = GroupRecord::new(RecordType::MODE_IS_EXCLUDE, g.addr, SourceList::EMPTY);
                self.records.push(rec);
            }
        }
        send_v3(
            self.port,
            &mut self.buf,
            &self.records,
            &mut self.stats,
            out,
        );
        // State-change retransmissions due now, merged into one report.
        self.records.clear();
        for g in &mut self.groups {
            if g.change_left == 0 || g.change_at > now {
                continue;
            }
            self.records
                .push(GroupRecord::new(g.change, g.addr, SourceList::EMPTY));
            g.change_left -= 1;
            if g.change_left > 0 {
                g.change_at =
                    now + rand_interval(&mut self.rng, self.cfg.unsolicited_report_interval);
            }
        }
        send_v3(
            self.port,
            &mut self.buf,
            &self.records,
            &mut self.stats,
            out,
        );
        self.groups.retain(|g| g.refs > 0 || g.change_left > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::igmp::{Packet, Repr};
    use burst_wire::ChecksumMode;

    const P: PortId = PortId(3);
    const ME: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const OTHER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
    const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const G1: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
    const G2: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 4);
    const G3: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 5);
    const G4: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 6);
    const CTE: RecordType = RecordType::CHANGE_TO_EXCLUDE_MODE;
    const CTI: RecordType = RecordType::CHANGE_TO_INCLUDE_MODE;
    const MIE: RecordType = RecordType::MODE_IS_EXCLUDE;
    const SEC: Nanos = Nanos::from_secs(1);

    fn s(n: u64) -> Nanos {
        Nanos::from_secs(n)
    }

    #[derive(Debug, Clone)]
    struct Sent {
        at: Nanos,
        dst: Ipv4Addr,
        msg: Vec<u8>,
    }

    /// Records what the host sends, stamped with the driver's current time.
    #[derive(Default)]
    struct Out {
        now: Nanos,
        sent: Vec<Sent>,
    }

    impl IgmpOutput for Out {
        fn send(&mut self, port: PortId, dst: Ipv4Addr, msg: &[u8]) {
            assert_eq!(port, P);
            self.sent.push(Sent {
                at: self.now,
                dst,
                msg: msg.to_vec(),
            });
        }
    }

    /// What a sent message says; `decode` also checks checksum and destination.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Msg {
        V3(Vec<(RecordType, Ipv4Addr)>),
        V2(Ipv4Addr),
        V1(Ipv4Addr),
        Leave(Ipv4Addr),
    }

    #[track_caller]
    fn decode(s: &Sent) -> Msg {
        let p = Packet::new_checked(&s.msg[..]).unwrap();
        assert!(p.additional_data().is_empty());
        let (m, dst) = match Repr::parse(&p, ChecksumCheck::Verify).unwrap() {
            Repr::MembershipReportV3 { records } => {
                let r = records
                    .iter()
                    .map(|r| {
                        assert!(r.sources().is_empty() && r.aux_data().is_empty());
                        (r.record_type(), r.group_addr())
                    })
                    .collect();
                (Msg::V3(r), ALL_V3_ROUTERS)
            }
            Repr::MembershipReportV2 { group_addr } => (Msg::V2(group_addr), group_addr),
            Repr::MembershipReportV1 { group_addr } => (Msg::V1(group_addr), group_addr),
            Repr::LeaveGroup { group_addr } => (Msg::Leave(group_addr), ALL_ROUTERS),
            q => panic!("host sent {q:?}"),
        };
        assert_eq!(s.dst, dst, "{m:?}");
        m
    }

    fn msgs(out: &Out) -> Vec<Msg> {
        out.sent.iter().map(decode).collect()
    }

    fn host_with(cfg: IgmpConfig, seed: u64) -> IgmpHost {
        IgmpHost::new(P, ME, cfg, seed)
    }

    fn host(seed: u64) -> IgmpHost {
        host_with(IgmpConfig::default(), seed)
    }

    #[track_caller]
    fn join(h: &mut IgmpHost, out: &mut Out, g: Ipv4Addr, now: Nanos) -> bool {
        out.now = now;
        h.join(g, now, out).unwrap()
    }

    #[track_caller]
    fn leave(h: &mut IgmpHost, out: &mut Out, g: Ipv4Addr, now: Nanos) -> bool {
        out.now = now;
        h.leave(g, now, out).unwrap()
    }

    /// Fires the host's timers from `from` through `until`, jumping from deadline to deadline.
    #[track_caller]
    fn run(h: &mut IgmpHost, out: &mut Out, from: Nanos, until: Nanos) {
        let mut now = from;
        for _ in 0..100_000 {
            out.now = now;
            match h.poll(now, out) {
                Some(d) if d <= until => {
                    assert!(d > now, "deadline {d:?} not after {now:?}");
                    now = d;
                }
                _ => return,
            }
        }
        panic!("timers did not settle");
    }

    fn query_bytes(version: Version, code: u8, group: Ipv4Addr, qrv: u8, qqic: u8) -> Vec<u8> {
        let srcs = [Ipv4Addr::new(198, 18, 0, 9)];
        let repr = Repr::MembershipQuery {
            version,
            max_resp_code: code,
            group_addr: group,
            s_flag: false,
            qrv,
            qqic,
            // Group-and-source-specific when version 3 and a group is given.
            sources: if version == Version::V3 && !group.is_unspecified() {
                SourceList::from_addrs(&srcs).unwrap()
            } else {
                SourceList::EMPTY
            },
        };
        let mut b = vec![0xa5; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut b[..]));
        b
    }

    /// Delivers a query from the router to 224.0.0.1 (general) or the group.
    fn query(h: &mut IgmpHost, version: Version, code: u8, group: Ipv4Addr, now: Nanos) {
        let dst = if group.is_unspecified() {
            ALL_SYSTEMS
        } else {
            group
        };
        h.on_message(&query_bytes(version, code, group, 2, 125), ROUTER, dst, now);
    }

    fn report_bytes(repr: Repr<'_>) -> Vec<u8> {
        let mut b = vec![0xa5; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut b[..]));
        b
    }

    const GENERAL: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

    #[test]
    fn join_sends_change_to_exclude_robustness_times() {
        for robustness in [1u8, 2, 3] {
            for seed in 0..20 {
                let cfg = IgmpConfig {
                    robustness,
                    ..IgmpConfig::default()
                };
                let mut h = host_with(cfg, seed);
                let mut out = Out::default();
                let t0 = s(5);
                assert!(join(&mut h, &mut out, G1, t0));
                // The first report goes out at once (RFC 3376 §5.1).
                assert_eq!(out.sent.len(), 1);
                assert_eq!(out.sent[0].at, t0);
                run(&mut h, &mut out, t0, s(60));
                assert_eq!(out.sent.len(), usize::from(robustness));
                for w in out.sent.windows(2) {
                    let gap = w[1].at - w[0].at;
                    assert!(gap > Nanos::ZERO && gap <= SEC, "{gap:?}");
                }
                for m in msgs(&out) {
                    assert_eq!(m, Msg::V3(vec![(CTE, G1)]));
                }
                assert_eq!(h.next_deadline(), None);
                assert_eq!(h.stats().out_reports_v3, u64::from(robustness));
            }
        }
    }

    #[test]
    fn leave_sends_change_to_include() {
        let mut h = host(1);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        run(&mut h, &mut out, s(1), s(10));
        out.sent.clear();
        assert!(leave(&mut h, &mut out, G1, s(20)));
        // No longer a member at once, even while the leave is retransmitted.
        assert!(!h.is_member(G1));
        assert_eq!(h.groups().collect::<Vec<_>>(), [ALL_SYSTEMS]);
        assert_eq!(out.sent[0].at, s(20));
        run(&mut h, &mut out, s(20), s(40));
        assert_eq!(
            msgs(&out),
            [Msg::V3(vec![(CTI, G1)]), Msg::V3(vec![(CTI, G1)])]
        );
        assert!(out.sent[1].at > s(20) && out.sent[1].at <= s(21));
        assert_eq!(h.next_deadline(), None);
        assert_eq!(h.refs(G1), 0);
        // A general query now reports nothing.
        query(&mut h, Version::V3, 100, GENERAL, s(50));
        run(&mut h, &mut out, s(50), s(70));
        assert_eq!(out.sent.len(), 2);
    }

    #[test]
    fn rejoin_during_leave_retransmission_restarts_with_new_record() {
        let mut h = host(2);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        run(&mut h, &mut out, s(1), s(5));
        out.sent.clear();
        leave(&mut h, &mut out, G1, s(10));
        assert!(join(&mut h, &mut out, G1, s(10)));
        run(&mut h, &mut out, s(10), s(20));
        assert_eq!(
            msgs(&out),
            [
                Msg::V3(vec![(CTI, G1)]),
                Msg::V3(vec![(CTE, G1)]),
                Msg::V3(vec![(CTE, G1)])
            ]
        );
        assert!(h.is_member(G1));
    }

    #[test]
    fn general_query_reports_every_group_within_max_resp_time() {
        let (mut earliest, mut latest) = (Nanos(u64::MAX), Nanos::ZERO);
        for seed in 0..50 {
            let mut h = host(seed);
            let mut out = Out::default();
            join(&mut h, &mut out, G2, s(1));
            join(&mut h, &mut out, G1, s(1));
            assert!(!join(&mut h, &mut out, ALL_SYSTEMS, s(1)));
            run(&mut h, &mut out, s(1), s(5));
            out.sent.clear();
            let tq = s(10);
            // Max resp code 100: 10 s.
            query(&mut h, Version::V3, 100, GENERAL, tq);
            assert!(out.sent.is_empty());
            let d = h.next_deadline().unwrap();
            assert!(d >= tq && d <= tq + s(10));
            run(&mut h, &mut out, tq, s(100));
            assert_eq!(msgs(&out), [Msg::V3(vec![(MIE, G1), (MIE, G2)])]);
            let at = out.sent[0].at;
            assert!(at >= tq && at <= tq + s(10), "{at:?}");
            earliest = earliest.min(at - tq);
            latest = latest.max(at - tq);
            assert_eq!(h.stats().in_queries_v3, 1);
        }
        // The delay is random over the whole interval.
        assert!(earliest < s(2) && latest > s(8), "{earliest:?} {latest:?}");
    }

    #[test]
    fn group_specific_query_reports_only_that_group() {
        for seed in 0..20 {
            let mut h = host(seed);
            let mut out = Out::default();
            join(&mut h, &mut out, G1, s(1));
            join(&mut h, &mut out, G2, s(1));
            run(&mut h, &mut out, s(1), s(5));
            out.sent.clear();
            // Group-specific (v3, no sources... the helper adds one source: a
            // group-and-source-specific query, answered with IS_EX {} like Linux does).
            query(&mut h, Version::V3, 10, G2, s(10));
            // Not a member: ignored.
            query(&mut h, Version::V3, 10, G3, s(10));
            run(&mut h, &mut out, s(10), s(30));
            assert_eq!(msgs(&out), [Msg::V3(vec![(MIE, G2)])]);
            assert!(out.sent[0].at <= s(11));
            assert_eq!(h.stats().in_queries_not_member, 1);
        }
    }

    #[test]
    fn pending_general_response_covers_later_group_query() {
        // RFC 3376 §5.2 rule 1: a general response due sooner makes the group query moot.
        let mut h = host(4);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        join(&mut h, &mut out, G2, s(1));
        run(&mut h, &mut out, s(1), s(5));
        out.sent.clear();
        // Max resp code 0: the general response is due at once.
        query(&mut h, Version::V3, 0, GENERAL, s(10));
        query(&mut h, Version::V3, 100, G1, s(10));
        run(&mut h, &mut out, s(10), s(30));
        assert_eq!(msgs(&out), [Msg::V3(vec![(MIE, G1), (MIE, G2)])]);
        assert_eq!(out.sent[0].at, s(10));
    }

    #[test]
    fn v2_query_switches_to_v2_compat_and_times_out() {
        let mut h = host(5);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        join(&mut h, &mut out, G2, s(1));
        run(&mut h, &mut out, s(1), s(5));
        out.sent.clear();
        let tq = s(10);
        query(&mut h, Version::V2, 100, GENERAL, tq);
        assert_eq!(h.compat_mode(), Version::V2);
        run(&mut h, &mut out, tq, tq + s(15));
        let mut m = msgs(&out);
        m.sort_by_key(|m| format!("{m:?}"));
        assert_eq!(m, [Msg::V2(G1), Msg::V2(G2)]);
        assert!(out.sent.iter().all(|x| x.at >= tq && x.at <= tq + s(10)));
        out.sent.clear();
        // A join in v2 mode: a v2 report at once, repeated once within 10 s.
        join(&mut h, &mut out, G3, tq + s(20));
        run(&mut h, &mut out, tq + s(20), tq + s(40));
        assert_eq!(msgs(&out), [Msg::V2(G3), Msg::V2(G3)]);
        assert!(out.sent[1].at - out.sent[0].at <= s(10));
        out.sent.clear();
        // Leave: we sent the last report, so a v2 leave to 224.0.0.2.
        leave(&mut h, &mut out, G1, tq + s(50));
        assert_eq!(msgs(&out), [Msg::Leave(G1)]);
        out.sent.clear();
        // Older Version Querier Present Timeout: 2 × 125 s + 10 s.
        run(&mut h, &mut out, tq + s(50), tq + s(259));
        assert_eq!(h.compat_mode(), Version::V2);
        assert!(out.sent.is_empty());
        assert_eq!(h.next_deadline(), Some(tq + s(260)));
        h.poll(tq + s(260), &mut out);
        assert_eq!(h.compat_mode(), Version::V3);
        assert_eq!(h.stats().mode_changes, 2);
        // Back to v3 reports and leaves.
        join(&mut h, &mut out, G4, tq + s(300));
        leave(&mut h, &mut out, G2, tq + s(300));
        assert_eq!(
            msgs(&out),
            [Msg::V3(vec![(CTE, G4)]), Msg::V3(vec![(CTI, G2)])]
        );
    }

    #[test]
    fn compat_timeout_follows_querier_qrv_and_qqi() {
        let mut h = host(6);
        let mut out = Out::default();
        // A v3 query with QRV 3 and QQIC 60 s is adopted.
        h.on_message(
            &query_bytes(Version::V3, 10, GENERAL, 3, 60),
            ROUTER,
            ALL_SYSTEMS,
            s(1),
        );
        assert_eq!(h.robustness(), 3);
        join(&mut h, &mut out, G1, s(2));
        run(&mut h, &mut out, s(2), s(10));
        // Three state-change reports (plus the answer to the query, due by 2 s).
        let changes = msgs(&out)
            .into_iter()
            .filter(|m| *m == Msg::V3(vec![(CTE, G1)]))
            .count();
        assert_eq!(changes, 3);
        query(&mut h, Version::V2, 10, GENERAL, s(20));
        // 3 × 60 s + 10 s.
        run(&mut h, &mut out, s(20), s(209));
        assert_eq!(h.compat_mode(), Version::V2);
        run(&mut h, &mut out, s(209), s(210));
        assert_eq!(h.compat_mode(), Version::V3);
    }

    #[test]
    fn mode_change_cancels_pending_v3_timers() {
        let mut h = host(7);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        join(&mut h, &mut out, G2, s(1));
        run(&mut h, &mut out, s(1), s(5));
        leave(&mut h, &mut out, G2, s(9));
        out.sent.clear();
        query(&mut h, Version::V3, 100, GENERAL, s(10));
        query(&mut h, Version::V2, 100, GENERAL, s(10));
        run(&mut h, &mut out, s(10), s(30));
        // Neither the v3 general response nor G2's CHANGE_TO_INCLUDE retransmission.
        assert_eq!(msgs(&out), [Msg::V2(G1)]);
        assert_eq!(h.refs(G2), 0);
    }

    #[test]
    fn v2_report_suppression_and_last_reporter() {
        for always in [false, true] {
            let cfg = IgmpConfig {
                v2_leave_always: always,
                ..IgmpConfig::default()
            };
            let mut h = host_with(cfg, 8);
            let mut out = Out::default();
            join(&mut h, &mut out, G1, s(1));
            join(&mut h, &mut out, G2, s(1));
            run(&mut h, &mut out, s(1), s(5));
            out.sent.clear();
            query(&mut h, Version::V2, 100, GENERAL, s(10));
            // Another host answers for G1 before our timer fires.
            let r = report_bytes(Repr::MembershipReportV2 { group_addr: G1 });
            h.on_message(&r, OTHER, G1, s(10));
            run(&mut h, &mut out, s(10), s(30));
            assert_eq!(msgs(&out), [Msg::V2(G2)]);
            assert_eq!(h.stats().reports_suppressed, 1);
            out.sent.clear();
            // We were not G1's last reporter: no leave (unless configured to always leave).
            leave(&mut h, &mut out, G1, s(40));
            leave(&mut h, &mut out, G2, s(40));
            if always {
                assert_eq!(msgs(&out), [Msg::Leave(G1), Msg::Leave(G2)]);
            } else {
                assert_eq!(msgs(&out), [Msg::Leave(G2)]);
                assert_eq!(h.stats().leaves_not_sent, 1);
            }
        }
    }

    #[test]
    fn no_suppression_in_v3_and_own_reports_ignored() {
        let mut h = host(9);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        run(&mut h, &mut out, s(1), s(5));
        out.sent.clear();
        query(&mut h, Version::V3, 100, GENERAL, s(10));
        let r = report_bytes(Repr::MembershipReportV2 { group_addr: G1 });
        h.on_message(&r, OTHER, G1, s(10));
        run(&mut h, &mut out, s(10), s(30));
        assert_eq!(msgs(&out), [Msg::V3(vec![(MIE, G1)])]);
        assert_eq!(h.stats().reports_suppressed, 0);
        // In v2 mode, our own report looped back does not suppress ours.
        out.sent.clear();
        query(&mut h, Version::V2, 100, GENERAL, s(40));
        h.on_message(&r, ME, G1, s(40));
        run(&mut h, &mut out, s(40), s(60));
        assert_eq!(msgs(&out), [Msg::V2(G1)]);
        assert_eq!(h.stats().in_own, 1);
    }

    #[test]
    fn v1_query_switches_to_v1_compat() {
        let mut h = host(10);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        run(&mut h, &mut out, s(1), s(5));
        out.sent.clear();
        query(&mut h, Version::V1, 0, GENERAL, s(10));
        assert_eq!(h.compat_mode(), Version::V1);
        // A v2 query meanwhile keeps v1 mode (the v1 querier timer still runs).
        query(&mut h, Version::V2, 50, GENERAL, s(10));
        assert_eq!(h.compat_mode(), Version::V1);
        run(&mut h, &mut out, s(10), s(30));
        assert_eq!(msgs(&out), [Msg::V1(G1)]);
        // v1: the max resp time is 10 s, but the v2 query shortened it to 5 s.
        assert!(out.sent[0].at <= s(15));
        out.sent.clear();
        leave(&mut h, &mut out, G1, s(40));
        join(&mut h, &mut out, G2, s(40));
        run(&mut h, &mut out, s(40), s(60));
        assert_eq!(msgs(&out), [Msg::V1(G2), Msg::V1(G2)]);
        assert_eq!(h.stats().leaves_not_sent, 1);
    }

    #[test]
    fn all_systems_is_always_member_and_never_reported() {
        let mut h = host(11);
        let mut out = Out::default();
        assert!(h.is_member(ALL_SYSTEMS));
        assert!(!join(&mut h, &mut out, ALL_SYSTEMS, s(1)));
        assert!(!leave(&mut h, &mut out, ALL_SYSTEMS, s(1)));
        assert!(h.is_member(ALL_SYSTEMS));
        query(&mut h, Version::V3, 10, GENERAL, s(2));
        query(&mut h, Version::V3, 10, ALL_SYSTEMS, s(2));
        run(&mut h, &mut out, s(1), s(10));
        query(&mut h, Version::V2, 10, GENERAL, s(20));
        run(&mut h, &mut out, s(20), s(30));
        assert!(out.sent.is_empty());
        assert_eq!(h.groups().collect::<Vec<_>>(), [ALL_SYSTEMS]);
        assert_eq!(
            h.mac_filter(),
            ["01:00:5e:00:00:01".parse::<MacAddr>().unwrap()]
        );
    }

    #[test]
    fn joins_are_reference_counted() {
        let mut h = host(12);
        let mut out = Out::default();
        assert!(join(&mut h, &mut out, G1, s(1)));
        assert!(!join(&mut h, &mut out, G1, s(1)));
        run(&mut h, &mut out, s(1), s(10));
        assert_eq!(out.sent.len(), 2);
        assert_eq!(h.refs(G1), 2);
        out.sent.clear();
        assert!(!leave(&mut h, &mut out, G1, s(20)));
        assert!(out.sent.is_empty() && h.is_member(G1));
        assert!(leave(&mut h, &mut out, G1, s(20)));
        assert_eq!(msgs(&out), [Msg::V3(vec![(CTI, G1)])]);
        out.now = s(30);
        assert_eq!(h.leave(G1, s(30), &mut out), Err(IgmpError::NotMember));
        assert_eq!(
            h.join(Ipv4Addr::new(198, 18, 0, 7), s(30), &mut out),
            Err(IgmpError::NotMulticast)
        );
    }

    #[test]
    fn mac_filter_follows_joins_and_leaves() {
        let mut h = host(13);
        let mut out = Out::default();
        let all: MacAddr = "01:00:5e:00:00:01".parse().unwrap();
        let m123: MacAddr = "01:00:5e:01:02:03".parse().unwrap();
        let m124: MacAddr = "01:00:5e:01:02:04".parse().unwrap();
        // 224.129.2.3 maps to the same MAC as 239.1.2.3 (the 01:00:5e mapping is not unique).
        let alias = Ipv4Addr::new(224, 129, 2, 3);
        join(&mut h, &mut out, G1, s(1));
        join(&mut h, &mut out, alias, s(1));
        join(&mut h, &mut out, G2, s(1));
        assert_eq!(h.mac_filter(), [all, m123, m124]);
        assert!(h.is_member(alias) && !h.is_member(Ipv4Addr::new(239, 129, 2, 3)));
        leave(&mut h, &mut out, G1, s(2));
        assert_eq!(h.mac_filter(), [all, m123, m124]);
        assert!(!h.is_member(G1));
        leave(&mut h, &mut out, alias, s(2));
        leave(&mut h, &mut out, G2, s(2));
        assert_eq!(h.mac_filter(), [all]);
    }

    #[test]
    fn bad_messages_are_counted_and_ignored() {
        let mut h = host(14);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        run(&mut h, &mut out, s(1), s(5));
        out.sent.clear();
        let mut q = query_bytes(Version::V3, 10, GENERAL, 2, 125);
        q[5] ^= 1;
        h.on_message(&q, ROUTER, ALL_SYSTEMS, s(10));
        h.on_message(&q[..7], ROUTER, ALL_SYSTEMS, s(10));
        assert_eq!(h.stats().in_errors, 2);
        // A general query not sent to 224.0.0.1 (RFC 3376 §9.1).
        let q = query_bytes(Version::V3, 10, GENERAL, 2, 125);
        h.on_message(&q, ROUTER, G1, s(10));
        // A "group-specific" query for a unicast group.
        let q = query_bytes(Version::V2, 10, OTHER, 0, 0);
        h.on_message(&q, ROUTER, OTHER, s(10));
        assert_eq!(h.stats().in_queries_bad, 2);
        assert_eq!(h.next_deadline(), None);
        run(&mut h, &mut out, s(10), s(30));
        assert!(out.sent.is_empty());
        assert_eq!(h.stats().in_msgs, 4);
        assert_eq!(h.compat_mode(), Version::V3);
    }

    #[test]
    fn many_groups_split_over_reports_and_table_limit() {
        let cfg = IgmpConfig {
            max_groups: 200,
            ..IgmpConfig::default()
        };
        let mut h = host_with(cfg, 15);
        let mut out = Out::default();
        let g = |i: u16| Ipv4Addr::new(239, 2, (i >> 8) as u8, i as u8);
        for i in 0..200 {
            join(&mut h, &mut out, g(i), s(1));
        }
        out.now = s(1);
        assert_eq!(h.join(g(200), s(1), &mut out), Err(IgmpError::TableFull));
        assert_eq!(h.stats().join_refused, 1);
        run(&mut h, &mut out, s(1), s(10));
        // Retransmissions due at the same instant share a report.
        assert!(out.sent.len() <= 400);
        out.sent.clear();
        query(&mut h, Version::V3, 10, GENERAL, s(20));
        run(&mut h, &mut out, s(20), s(30));
        let lens: Vec<usize> = msgs(&out)
            .into_iter()
            .map(|m| match m {
                Msg::V3(r) => r.len(),
                m => panic!("{m:?}"),
            })
            .collect();
        // (1500 - 24 - 8) / 8 = 183 records per report.
        assert_eq!(lens, [183, 17]);
        assert!(out
            .sent
            .iter()
            .all(|x| x.msg.len() + IPV4_HEADER_LEN <= 1500));
    }

    /// Frames of a classic little-endian microsecond pcap: (timestamp, frame).
    fn pcap_frames(b: &[u8]) -> Vec<(Nanos, &[u8])> {
        assert_eq!(b[..4], 0xa1b2_c3d4u32.to_le_bytes());
        let le = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()));
        let mut v = Vec::new();
        let mut off = 24;
        while off + 16 <= b.len() {
            let t = Nanos(le(off) * 1_000_000_000 + le(off + 4) * 1_000);
            let len = le(off + 8) as usize;
            v.push((t, &b[off + 16..off + 16 + len]));
            off += 16 + len;
        }
        v
    }

    /// The IPv4 datagram the stack would send for `s`: [`ipv4_header`] plus the message.
    fn datagram(s: &Sent) -> Vec<u8> {
        let h = ipv4_header(ME, s.dst, s.msg.len());
        let mut b = vec![0xa5; h.buffer_len()];
        b[h.header_len()..].copy_from_slice(&s.msg);
        h.emit(
            &mut ipv4::Packet::new_unchecked(&mut b[..]),
            ChecksumMode::Compute,
        );
        b
    }

    #[test]
    fn linux_capture_drives_the_host_and_is_matched_byte_for_byte() {
        let pcap = include_bytes!("../../wire/tests/data/linux/igmpv3.pcap");
        let frames = pcap_frames(pcap);
        assert_eq!(frames.len(), 13);
        let base = frames[0].0;
        // Frame n (1-based): time on our clock, IPv4 datagram.
        let t = |n: usize| s(1) + (frames[n - 1].0 - base);
        let ip = |n: usize| &frames[n - 1].1[14..];
        for seed in 0..10 {
            let mut h = host(seed);
            let mut out = Out::default();
            // Deliver a captured query (frame n) as the receive path would.
            let deliver = |h: &mut IgmpHost, n: usize| {
                let p = ipv4::Packet::new_checked(ip(n)).unwrap();
                h.on_message(p.payload(), p.src_addr(), p.dst_addr(), t(n));
            };
            let sent_since = |out: &Out, k: usize| out.sent[k..].to_vec();

            // Join 239.1.2.3: frames 1 and 2.
            join(&mut h, &mut out, G1, t(1));
            run(&mut h, &mut out, t(1), t(3) - Nanos(1));
            assert_eq!(out.sent.len(), 2);
            assert_eq!(datagram(&out.sent[0]), ip(1));
            assert_eq!(datagram(&out.sent[1]), ip(2));

            // v3 general query (frame 3) and group-specific query (frame 5): frames 4 and 6
            // (identical MODE_IS_EXCLUDE reports). One report may answer both (§5.2 rule 1).
            deliver(&mut h, 3);
            run(&mut h, &mut out, t(3), t(5) - Nanos(1));
            deliver(&mut h, 5);
            run(&mut h, &mut out, t(5), t(7) - Nanos(1));
            let answers = sent_since(&out, 2);
            assert!((1..=2).contains(&answers.len()), "{answers:?}");
            for a in &answers {
                assert_eq!(datagram(a), ip(4));
                assert_eq!(ip(4), ip(6));
            }
            assert!(answers.iter().any(|a| a.at >= t(3) && a.at <= t(3) + SEC));
            assert!(answers.iter().any(|a| a.at >= t(5) && a.at <= t(5) + SEC));
            let k = out.sent.len();

            // Leave: frames 7 and 8.
            leave(&mut h, &mut out, G1, t(7));
            run(&mut h, &mut out, t(7), t(9) - Nanos(1));
            let l = sent_since(&out, k);
            assert_eq!(l.len(), 2);
            assert_eq!(datagram(&l[0]), ip(7));
            assert_eq!(datagram(&l[1]), ip(8));

            // Join 239.1.2.4: frames 9 and 10.
            let k = out.sent.len();
            join(&mut h, &mut out, G2, t(9));
            run(&mut h, &mut out, t(9), t(11) - Nanos(1));
            let j = sent_since(&out, k);
            assert_eq!(j.len(), 2);
            assert_eq!(datagram(&j[0]), ip(9));
            assert_eq!(datagram(&j[1]), ip(10));

            // v2 general query (frame 11): v2 compatibility, v2 report (frame 12) within 1 s,
            // then the leave is a v2 leave to 224.0.0.2 (frame 13).
            let k = out.sent.len();
            deliver(&mut h, 11);
            assert_eq!(h.compat_mode(), Version::V2);
            let tl = t(13).max(t(11) + SEC + Nanos(1));
            run(&mut h, &mut out, t(11), tl - Nanos(1));
            leave(&mut h, &mut out, G2, tl);
            let v2 = sent_since(&out, k);
            assert_eq!(v2.len(), 2);
            assert!(v2[0].at >= t(11) && v2[0].at <= t(11) + SEC);
            assert_eq!(datagram(&v2[0]), ip(12));
            assert_eq!(datagram(&v2[1]), ip(13));

            let st = h.stats();
            assert_eq!(
                (st.in_queries_v3, st.in_queries_v2, st.in_errors),
                (2, 1, 0)
            );
            assert_eq!((st.out_reports_v2, st.out_leaves), (1, 1));
        }
    }
}
