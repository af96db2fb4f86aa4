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

mod query;

#[cfg(test)]
mod tests;
