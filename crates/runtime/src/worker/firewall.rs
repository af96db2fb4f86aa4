//! The firewall-hook (seed 000): NAT44 and the stateful firewall on this core, over one
//! connection tracking table (`burst_stack::conntrack`), NAT's mappings (`burst_stack::nat`)
//! and the exceptions list (a filter table of `permit` rules per firewalled port).
//!
//! Where the seed runs it:
//! * **destination traffic** on the public interface: a datagram to a NAT public address on an
//!   outside port is compared to the translation table first ([`Worker::fw_ingress`], before
//!   reassembly so fragments are translated one by one); an entry found translates it and it
//!   goes on as source traffic (forwarded, no exception check: the seed's "treated as source
//!   traffic"). Anything else for us on a firewalled port is checked against the sessions
//!   (dynamic exceptions) and the exceptions list ([`Worker::firewall_local_in`]);
//! * **transit traffic** after the route: NAT on the way from the private side to an outside
//!   port (a session found or created, the source translated), the firewall both ways through a
//!   firewalled port ([`Worker::firewall_transit`]);
//! * **source traffic**: blocked ICMP types and the dynamic exceptions our own traffic opens
//!   ([`Worker::firewall_local_out`]).
//!
//! Multi-worker nodes keep both directions of a flow on one core without a shared table: a
//! translated flow belongs to worker `public port % workers` (inside traffic by its inside
//! port, which NAT keeps or maps within the same residue; return traffic by the public port it
//! is sent to), an untranslated one to its symmetric hash; packets that land elsewhere move to
//! the owner over the steering queues (`handoff.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use burst_port::{Nanos, PacketBuf, Queue};
use burst_stack::conntrack::{
    Conntrack, ConntrackConfig, Dir, InsertError, Session, SessionId, Tracked, Tuple,
};
use burst_stack::filter::{Direction, FilterReader};
use burst_stack::firewall::{FirewallConfig, FirewallStats};
use burst_stack::nat::frags::{FragKey, FragTable, HeldFragments};
use burst_stack::nat::packet::{self, icmp_kind, Icmp, Shape};
use burst_stack::nat::{marks, Nat, NatConfig, Refused};
use burst_stack::PortId;
use crossbeam_queue::ArrayQueue;

use super::forward::Hop;
use super::Worker;
use crate::trace::{Hook, HookVerdict};

mod fast;
mod public;

pub(super) use fast::Fast;

/// Most rows one worker hands `ctl conntrack` / `ctl nat` (a larger table is listed cut).
pub const LIST_ROWS: usize = 65_536;

/// What a node's workers need for the firewall-hook (`None` in [`super::WorkerConfig`] when
/// neither NAT nor the firewall is configured: every hook is then a constant "off").
#[derive(Debug, Clone)]
pub struct FirewallSetup {
    /// Conntrack limits and timeouts (per core).
    pub conntrack: ConntrackConfig,
    /// NAT, when configured.
    pub nat: Option<NatConfig>,
    /// NAT's outside ports (bit = port id).
    pub outside: u64,
    /// Firewalled ports and blocked ICMP types.
    pub firewall: FirewallConfig,
    /// The exceptions list (inbound `permit` rules per firewalled port).
    pub exceptions: FilterReader,
    /// Later fragments a core holds until their first fragment comes.
    pub held_fragments: usize,
}

/// One session as `ctl conntrack` lists it.
#[derive(Debug, Clone, Copy)]
pub struct SessionRow {
    /// The first packet's tuple.
    pub orig: Tuple,
    /// The answer's tuple.
    pub reply: Tuple,
    /// `ESTABLISHED`, `SYN_SENT`, ..., `REPLIED`/`UNREPLIED`.
    pub state: &'static str,
    /// Seconds since it was created.
    pub age: u64,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Packets seen.
    pub packets: u64,
    /// NAT marks (`burst_stack::nat::marks`).
    pub marks: u8,
}

/// One dynamic mapping as `ctl nat` lists it.
#[derive(Debug, Clone, Copy)]
pub struct MappingRow {
    /// Protocol.
    pub proto: u8,
    /// Inside address and port.
    pub inside: (std::net::Ipv4Addr, u16),
    /// Public address and port.
    pub public: (std::net::Ipv4Addr, u16),
    /// Sessions using it.
    pub sessions: u32,
}

/// What a worker hands the control thread when asked: its sessions and mappings.
#[derive(Debug, Default)]
pub struct SessionList {
    /// Sessions (at most [`LIST_ROWS`]).
    pub sessions: Vec<SessionRow>,
    /// Mappings (at most [`LIST_ROWS`]).
    pub mappings: Vec<MappingRow>,
    /// Rows left out: the table held more.
    pub cut: bool,
}

/// The control thread's window on one worker's sessions: like `netstat -a` (`NetstatSlot`), a
/// request generation and a buffer handed back and forth, so the worker never locks or
/// allocates; and a flush generation.
#[derive(Debug)]
pub struct SessionSlot {
    requested: AtomicU64,
    flush: AtomicU64,
    empty: ArrayQueue<SessionList>,
    filled: ArrayQueue<(u64, SessionList)>,
}

impl SessionSlot {
    /// A slot whose buffers hold `rows` sessions and as many mappings.
    pub fn new(rows: usize) -> SessionSlot {
        let empty = ArrayQueue::new(1);
        let _ = empty.push(SessionList {
            sessions: Vec::with_capacity(rows),
            mappings: Vec::with_capacity(rows),
            cut: false,
        });
        SessionSlot {
            requested: AtomicU64::new(0),
            flush: AtomicU64::new(0),
            empty,
            filled: ArrayQueue::new(1),
        }
    }

    /// Asks the worker for its rows; returns the generation to wait for.
    pub fn request(&self) -> u64 {
        self.requested.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Asks the worker to flush its table.
    pub fn flush(&self) {
        self.flush.fetch_add(1, Ordering::AcqRel);
    }

    /// The rows once the worker answered generation `gen`; `f` reads them before the buffer
    /// goes back.
    pub fn take<T>(&self, gen: u64, f: impl FnOnce(&SessionList) -> T) -> Option<T> {
        let (got, mut list) = self.filled.pop()?;
        let out = (got >= gen).then(|| f(&list));
        list.sessions.clear();
        list.mappings.clear();
        list.cut = false;
        let _ = self.empty.push(list);
        out
    }
}

/// One core's firewall-hook state.
pub(super) struct Fw<B> {
    pub(super) ct: Conntrack,
    pub(super) nat: Option<Nat>,
    outside: u64,
    cfg: FirewallConfig,
    exceptions: FilterReader,
    frags: FragTable,
    held: HeldFragments<(PortId, u8, B)>,
    pub(super) stats: FirewallStats,
    pub(super) slot: Arc<SessionSlot>,
    seen_request: u64,
    seen_flush: u64,
    /// The first outside port (where hairpinned datagrams turn around).
    first_outside: Option<PortId>,
    /// A first fragment just passed: its later fragments that waited go after it.
    pub(super) release: Option<FragKey>,
    /// The hairpinned datagram being handled was handed here by the owner of its destination's
    /// public port, which found a mapping there (this core owns its source's mapping).
    pub(super) hairpin_checked: bool,
    /// NAT clamps the MSS of SYNs (fixed at start: the fast path tests it once per frame
    /// without reaching into NAT's configuration).
    clamp: bool,
}

impl<B> Fw<B> {
    pub(super) fn new(s: &FirewallSetup, workers: usize, me: usize, seed: u64) -> Fw<B> {
        let rows = s.conntrack.max_sessions.min(LIST_ROWS);
        Fw {
            ct: Conntrack::new(s.conntrack, seed),
            nat: s
                .nat
                .clone()
                .map(|c| Nat::new(c, workers, me, seed ^ 0x5a5a)),
            outside: s.outside,
            cfg: s.firewall,
            exceptions: s.exceptions.clone(),
            frags: FragTable::new(1024),
            held: HeldFragments::new(s.held_fragments),
            stats: FirewallStats::default(),
            slot: Arc::new(SessionSlot::new(rows)),
            seen_request: 0,
            seen_flush: 0,
            first_outside: (0..64u16).find(|p| s.outside & (1 << p) != 0).map(PortId),
            release: None,
            hairpin_checked: false,
            clamp: s.nat.as_ref().is_some_and(|c| c.mss_clamp.is_some()),
        }
    }

    /// Ports whose traffic needs the hook (the fast path leaves them to the full path).
    pub(super) fn ports(&self) -> u64 {
        self.outside | self.cfg.ports
    }

    #[inline]
    fn is_outside(&self, p: PortId) -> bool {
        p.0 < 64 && self.outside & (1 << p.0) != 0
    }

    /// The translation a packet of session `id` going `dir` gets: it leaves carrying this
    /// tuple.
    fn target(&self, id: SessionId, dir: Dir) -> Tuple {
        let s = self.ct.get(id);
        match dir {
            Dir::Orig => s.reply.reverse(),
            Dir::Reply => s.orig.reverse(),
        }
    }

    fn is_nat(&self, id: SessionId) -> bool {
        self.ct.get(id).marks & marks::NAT != 0
    }

    /// Rewrites a datagram of NAT session `id` going `dir` (addresses, ports or echo id) and
    /// clamps the MSS of a SYN when configured.
    fn nat_translate(&mut self, ip: &mut [u8], id: SessionId, dir: Dir, tcp_flags: u8) {
        packet::rewrite(ip, &self.target(id, dir));
        let n = self.nat.as_mut().expect("a NAT session implies NAT");
        n.stats.translated += 1;
        if let Some(mss) = n.config().mss_clamp {
            if tcp_flags & 0x02 != 0 && packet::clamp_mss(ip, mss) {
                n.stats.mss_clamped += 1;
            }
        }
    }

    /// Rewrites a later fragment of NAT session `id` (its first one told where it belongs).
    fn nat_translate_fragment(&mut self, ip: &mut [u8], id: SessionId, dir: Dir) {
        packet::rewrite(ip, &self.target(id, dir));
        let n = self.nat.as_mut().expect("a NAT session implies NAT");
        n.stats.fragments += 1;
        n.stats.translated += 1;
    }

    /// Rewrites an ICMP error about NAT session `id`: the quoted datagram, the outer
    /// destination, and the outer source when the error came from the quoted destination.
    fn nat_translate_icmp_error(
        &mut self,
        ip: &mut [u8],
        id: SessionId,
        dir: Dir,
        outer_src: std::net::Ipv4Addr,
        quoted_dst: std::net::Ipv4Addr,
    ) {
        let to = self.target(id, dir);
        let src = if outer_src == quoted_dst {
            to.src
        } else {
            outer_src
        };
        packet::rewrite_icmp_error(ip, src, to.dst, &to.reverse());
        let n = self.nat.as_mut().expect("a NAT session implies NAT");
        n.stats.icmp_errors += 1;
        n.stats.translated += 1;
    }

    /// The counters for `ctl stats` (all zero without NAT).
    pub(super) fn nat_stats(&self) -> burst_stack::nat::NatStats {
        self.nat.as_ref().map(|n| n.stats).unwrap_or_default()
    }
}

/// What to do with a datagram after the hook looked at it.
enum Outcome {
    /// Go on (translated or not).
    Pass(HookVerdict),
    /// Dropped, with the counter.
    Drop(&'static str),
    /// Kept (a later fragment waiting for its first).
    Held,
}

/// The fragment key of datagram `ip` as received.
pub(super) fn frag_key(ip: &[u8]) -> FragKey {
    FragKey {
        src: std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        dst: std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        proto: ip[9],
        ident: u16::from_be_bytes([ip[4], ip[5]]),
    }
}

/// Whether a later fragment's header still belongs to the session it was learnt for (ids are
/// reused once a session goes).
fn frag_fits(s: &Session, dir: Dir, k: &FragKey) -> bool {
    let t = match dir {
        Dir::Orig => &s.orig,
        Dir::Reply => &s.reply,
    };
    t.src == k.src && t.dst == k.dst && t.proto == k.proto
}

impl<Q: Queue> Worker<Q> {
    /// Whether the firewall-hook has anything to do on this node.
    #[inline]
    pub(super) fn fw_on(&self) -> bool {
        self.fw.is_some()
    }

    /// Whether `a` is a NAT public address that `port` (an outside port) answers ARP for.
    pub(super) fn fw_public_on(&self, port: PortId, a: std::net::Ipv4Addr) -> bool {
        self.fw
            .as_ref()
            .is_some_and(|f| f.is_outside(port) && f.nat.as_ref().is_some_and(|n| n.is_public(a)))
    }

    /// Whether `port` is a NAT outside port (datagrams to public addresses arrive there).
    #[inline]
    pub(super) fn fw_public_port(&self, port: PortId) -> bool {
        self.fw
            .as_ref()
            .is_some_and(|f| f.nat.is_some() && f.is_outside(port))
    }

    /// Ports whose datagrams need the firewall-hook (0 without NAT or firewall): the fast path
    /// takes them only for sessions this core holds (`firewall/fast.rs`).
    #[inline]
    pub(super) fn fw_ports(&self) -> u64 {
        self.fw.as_ref().map_or(0, |f| f.ports())
    }

    /// The worker that owns the flow of datagram `ip` arriving on `port`, when it is not this
    /// one (multi-worker nodes with NAT or the firewall).
    pub(super) fn fw_owner(&self, port: PortId, ip: &[u8]) -> Option<usize> {
        let fw = self.fw.as_ref()?;
        self.handoff.as_ref()?;
        let (workers, me) = self.steering();
        let dst = std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let outside = fw.is_outside(port);
        let owner = match (&fw.nat, packet::shape(ip)) {
            (_, Shape::LaterFragment { .. } | Shape::Truncated) => return None,
            (Some(nat), Shape::Flow { tuple, .. }) if outside && nat.is_public(dst) => {
                nat.owner_of_port(tuple.dport)
            }
            (Some(nat), Shape::IcmpError { quoted, .. }) if outside && nat.is_public(dst) => {
                nat.owner_of_port(quoted.sport)
            }
            (Some(nat), Shape::Flow { tuple, .. })
                if !outside && !self.local_ips.contains(&dst) =>
            {
                nat.owner_of_port(nat.public_port(&tuple))
            }
            // Hairpinning: first the owner of the destination's public port, whose table says
            // whether anything is behind it (see `nat_hairpin`).
            (Some(nat), Shape::Flow { tuple, .. }) if !outside && nat.is_public(dst) => {
                if nat.config().hairpinning {
                    nat.owner_of_port(tuple.dport)
                } else {
                    nat.owner_of_port(nat.public_port(&tuple))
                }
            }
            (Some(nat), Shape::IcmpError { quoted, .. }) if !outside => {
                nat.owner_of_port(nat.public_port(&quoted.reverse()))
            }
            (_, _) if self.local_ips.contains(&dst) => return None,
            (_, Shape::Flow { tuple, .. }) => (tuple.symmetric_hash() % workers as u64) as usize,
            (_, Shape::IcmpError { quoted, .. }) => {
                (quoted.symmetric_hash() % workers as u64) as usize
            }
        };
        (owner != me).then_some(owner)
    }

    /// The core of the hook for a datagram from `port` to `out`: sessions found or created,
    /// NAT on the way out of an outside port, the firewall's checks on a firewalled port.
    fn fw_flow(
        &mut self,
        port: PortId,
        out: PortId,
        buf: &mut Q::Buf,
        hl: usize,
        now: Nanos,
    ) -> Outcome {
        let Some(fw) = self.fw.as_mut() else {
            return Outcome::Pass(HookVerdict::Off);
        };
        let nat_out = fw.nat.is_some() && fw.is_outside(out) && !fw.is_outside(port);
        let fw_out = fw.cfg.guards(out.0);
        let fw_in = fw.cfg.guards(port.0);
        let ip = &mut buf.data_mut()[hl..];
        let sh = packet::shape(ip);
        // Blocked ICMP types, both ways through a firewalled port.
        if fw_out || fw_in {
            let ty = match sh {
                Shape::Flow { icmp_type, .. } => icmp_type,
                Shape::IcmpError { icmp_type, .. } => Some(icmp_type),
                _ => None,
            };
            if ty.is_some_and(|t| fw.cfg.blocks_icmp(t)) {
                fw.stats.drop_icmp_type += 1;
                return Outcome::Drop("fw.drop_icmp_type");
            }
        }
        match sh {
            Shape::Flow {
                tuple,
                tcp_flags,
                icmp_type,
                first_fragment,
            } => {
                let (id, dir) = match fw.ct.lookup(&tuple) {
                    Some(x) => x,
                    None => {
                        let kind = icmp_type.map(icmp_kind);
                        let syn_only = tcp_flags & 0x12 == 0x02;
                        let (reply, m) = if nat_out {
                            if matches!(kind, Some(Icmp::Reply | Icmp::Other)) {
                                let n = fw.nat.as_mut().expect("nat_out");
                                n.stats.drop_protocol += 1;
                                return Outcome::Drop("nat.drop_protocol");
                            }
                            let n = fw.nat.as_mut().expect("nat_out");
                            match n.outbound(&tuple) {
                                Ok(x) => x,
                                Err(Refused::NoPort) => return Outcome::Drop("nat.drop_no_port"),
                                Err(Refused::MappingsFull) => {
                                    return Outcome::Drop("nat.drop_mappings_full")
                                }
                                Err(Refused::Protocol) => {
                                    n.stats.drop_protocol += 1;
                                    return Outcome::Drop("nat.drop_protocol");
                                }
                            }
                        } else if fw_in && !fw_out {
                            // A new flow from outside: only an exception lets it in, and only
                            // as a connection attempt or a query.
                            if matches!(kind, Some(Icmp::Reply)) {
                                fw.stats.drop_unsolicited += 1;
                                return Outcome::Drop("fw.drop_unsolicited");
                            }
                            if tuple.proto == 6 && !syn_only {
                                fw.stats.drop_invalid += 1;
                                return Outcome::Drop("fw.drop_invalid");
                            }
                            let g = fw.exceptions.domain().pin();
                            let v =
                                fw.exceptions
                                    .set(&g)
                                    .evaluate(port, Direction::In, ip, self.id);
                            if !(v.permit && v.rule.is_some()) {
                                fw.stats.drop_inbound += 1;
                                return Outcome::Drop("fw.drop_inbound");
                            }
                            fw.stats.accepted_exception += 1;
                            (tuple.reverse(), 0)
                        } else {
                            if matches!(kind, Some(Icmp::Reply)) && fw_in {
                                fw.stats.drop_unsolicited += 1;
                                return Outcome::Drop("fw.drop_unsolicited");
                            }
                            (tuple.reverse(), 0)
                        };
                        let nat = &mut fw.nat;
                        let r = fw
                            .ct
                            .insert(tuple, reply, tcp_flags, now, &mut |s: &Session| {
                                if let Some(n) = nat.as_mut() {
                                    n.release(s)
                                }
                            });
                        match r {
                            Ok(id) => {
                                let s = fw.ct.get_mut(id);
                                s.marks = m;
                                // `track` below counts this first packet (insert counted it for callers that
                                // do not track).
                                s.packets = 0;
                                if m & marks::NAT != 0 {
                                    if let Some(n) = fw.nat.as_mut() {
                                        n.stats.sessions_out += 1;
                                    }
                                }
                                (id, Dir::Orig)
                            }
                            Err(e) => {
                                if let Some(n) = fw.nat.as_mut() {
                                    n.release(&Session::marked(tuple, reply, m));
                                }
                                return match (e, m & marks::NAT != 0) {
                                    (_, true) => {
                                        let n = fw.nat.as_mut().expect("nat session");
                                        n.stats.drop_session += 1;
                                        Outcome::Drop("nat.drop_session")
                                    }
                                    (InsertError::Full, false) | (InsertError::Exists, false) => {
                                        fw.stats.drop_table_full += 1;
                                        Outcome::Drop("fw.drop_table_full")
                                    }
                                };
                            }
                        }
                    }
                };
                if fw.ct.track(id, dir, tcp_flags, now) == Tracked::Invalid && (fw_in || fw_out) {
                    fw.stats.drop_invalid += 1;
                    return Outcome::Drop("fw.drop_invalid");
                }
                if first_fragment {
                    let k = frag_key(ip);
                    fw.frags.learn(k, id, dir, now);
                    fw.release = Some(k);
                }
                if !fw.is_nat(id) {
                    return Outcome::Pass(HookVerdict::Pass);
                }
                fw.nat_translate(ip, id, dir, tcp_flags);
                Outcome::Pass(HookVerdict::Translated)
            }
            Shape::IcmpError { outer, quoted, .. } => {
                let Some((id, dir)) = fw.ct.lookup(&quoted.reverse()) else {
                    if nat_out {
                        let n = fw.nat.as_mut().expect("nat_out");
                        n.stats.drop_icmp_error += 1;
                        return Outcome::Drop("nat.drop_icmp_error");
                    }
                    if fw_in {
                        fw.stats.drop_icmp_error += 1;
                        return Outcome::Drop("fw.drop_icmp_error");
                    }
                    return Outcome::Pass(HookVerdict::Pass);
                };
                if !fw.is_nat(id) {
                    return Outcome::Pass(HookVerdict::Pass);
                }
                fw.nat_translate_icmp_error(ip, id, dir, outer.src, quoted.dst);
                Outcome::Pass(HookVerdict::Translated)
            }
            Shape::LaterFragment { .. } => {
                let k = frag_key(ip);
                match fw.frags.find(&k, now) {
                    Some((id, dir)) if frag_fits(fw.ct.get(id), dir, &k) => {
                        if fw.is_nat(id) {
                            fw.nat_translate_fragment(ip, id, dir);
                            Outcome::Pass(HookVerdict::Translated)
                        } else {
                            Outcome::Pass(HookVerdict::Pass)
                        }
                    }
                    _ if nat_out || fw_in => Outcome::Held,
                    _ => Outcome::Pass(HookVerdict::Pass),
                }
            }
            Shape::Truncated => {
                if nat_out {
                    let n = fw.nat.as_mut().expect("nat_out");
                    n.stats.drop_truncated += 1;
                    return Outcome::Drop("nat.drop_truncated");
                }
                if fw_in {
                    fw.stats.drop_invalid += 1;
                    return Outcome::Drop("fw.drop_invalid");
                }
                Outcome::Pass(HookVerdict::Pass)
            }
        }
    }

    /// Destination traffic's firewall-hook (for us, on the arrival port): the sessions our own
    /// traffic opened, ICMP errors about them, the exceptions list; default deny.
    pub(super) fn firewall_local_in(&mut self, port: PortId, ip: &[u8], now: Nanos) -> HookVerdict {
        let Some(fw) = self.fw.as_mut() else {
            return HookVerdict::Off;
        };
        if !fw.cfg.guards(port.0) {
            return HookVerdict::Off;
        }
        let sh = packet::shape(ip);
        let ty = match sh {
            Shape::Flow { icmp_type, .. } => icmp_type,
            Shape::IcmpError { icmp_type, .. } => Some(icmp_type),
            _ => None,
        };
        if ty.is_some_and(|t| fw.cfg.blocks_icmp(t)) {
            fw.stats.drop_icmp_type += 1;
            return HookVerdict::Drop("fw.drop_icmp_type");
        }
        match sh {
            Shape::Flow {
                tuple,
                tcp_flags,
                icmp_type,
                ..
            } => {
                if let Some((id, dir)) = fw.ct.lookup(&tuple) {
                    if fw.ct.track(id, dir, tcp_flags, now) == Tracked::Invalid {
                        fw.stats.drop_invalid += 1;
                        return HookVerdict::Drop("fw.drop_invalid");
                    }
                    return HookVerdict::Pass;
                }
                if icmp_type.map(icmp_kind) == Some(Icmp::Reply) {
                    fw.stats.drop_unsolicited += 1;
                    return HookVerdict::Drop("fw.drop_unsolicited");
                }
                let g = fw.exceptions.domain().pin();
                let v = fw
                    .exceptions
                    .set(&g)
                    .evaluate(port, Direction::In, ip, self.id);
                if !(v.permit && v.rule.is_some()) {
                    fw.stats.drop_inbound += 1;
                    return HookVerdict::Drop("fw.drop_inbound");
                }
                fw.stats.accepted_exception += 1;
                // Track it so the answer and what follows pass; a full table still lets the
                // exception's traffic in (the exception says so), just untracked.
                let _ = fw
                    .ct
                    .insert(tuple, tuple.reverse(), tcp_flags, now, &mut |_| {});
                HookVerdict::Permit {
                    rule: v.rule.map(|r| r as u16),
                }
            }
            Shape::IcmpError { quoted, .. } => {
                if fw.ct.lookup(&quoted.reverse()).is_some() {
                    HookVerdict::Pass
                } else {
                    fw.stats.drop_icmp_error += 1;
                    HookVerdict::Drop("fw.drop_icmp_error")
                }
            }
            // Reassembled before this hook: a later fragment never gets here.
            Shape::LaterFragment { .. } => HookVerdict::Pass,
            Shape::Truncated => {
                fw.stats.drop_invalid += 1;
                HookVerdict::Drop("fw.drop_invalid")
            }
        }
    }

    /// Source traffic's firewall-hook (what we originate, leaving by `port`): blocked ICMP
    /// types, and the dynamic exception for the answers.
    pub(super) fn firewall_local_out(
        &mut self,
        port: PortId,
        ip: &[u8],
        now: Nanos,
    ) -> HookVerdict {
        let Some(fw) = self.fw.as_mut() else {
            return HookVerdict::Off;
        };
        if !fw.cfg.guards(port.0) {
            return HookVerdict::Off;
        }
        match packet::shape(ip) {
            Shape::Flow {
                tuple,
                tcp_flags,
                icmp_type,
                ..
            } => {
                if icmp_type.is_some_and(|t| fw.cfg.blocks_icmp(t)) {
                    fw.stats.drop_icmp_type += 1;
                    return HookVerdict::Drop("fw.drop_icmp_type");
                }
                match fw.ct.lookup(&tuple) {
                    Some((id, dir)) => {
                        fw.ct.track(id, dir, tcp_flags, now);
                    }
                    None => {
                        // Sent even when the table is full (it is ours); its answer is then
                        // refused and counted.
                        let _ = fw
                            .ct
                            .insert(tuple, tuple.reverse(), tcp_flags, now, &mut |_| {});
                    }
                }
                HookVerdict::Pass
            }
            Shape::IcmpError { icmp_type, .. } if fw.cfg.blocks_icmp(icmp_type) => {
                fw.stats.drop_icmp_type += 1;
                HookVerdict::Drop("fw.drop_icmp_type")
            }
            _ => HookVerdict::Pass,
        }
    }

    /// Once per poll: sessions that expired (their mappings with them), fragments that waited
    /// too long, a flush or a listing the control thread asked for.
    pub(super) fn fw_poll(&mut self, now: Nanos) -> usize {
        let Some(fw) = self.fw.as_mut() else {
            return 0;
        };
        let flush = fw.slot.flush.load(Ordering::Acquire);
        if flush != fw.seen_flush {
            fw.seen_flush = flush;
            fw.ct.flush();
        }
        let mut work = 0;
        if fw.ct.flushing() || fw.ct.next_expiry().is_some_and(|t| t <= now) {
            let nat = &mut fw.nat;
            work += fw.ct.expire(now, &mut |s: &Session| {
                if let Some(n) = nat.as_mut() {
                    n.release(s)
                }
            });
        }
        let dropped = fw.held.expire(now);
        if dropped > 0 {
            match fw.nat.as_mut() {
                Some(n) => n.stats.drop_fragment += dropped as u64,
                None => fw.stats.drop_unsolicited += dropped as u64,
            }
            work += dropped;
        }
        let asked = fw.slot.requested.load(Ordering::Acquire);
        if asked != fw.seen_request {
            if let Some(mut list) = fw.slot.empty.pop() {
                fw.seen_request = asked;
                let cap = list.sessions.capacity();
                for (id, s) in fw.ct.iter() {
                    if list.sessions.len() == cap {
                        list.cut = true;
                        break;
                    }
                    list.sessions.push(SessionRow {
                        orig: s.orig,
                        reply: s.reply,
                        state: s.state_name(),
                        age: now.saturating_sub(fw.ct.created(id)).as_millis() / 1000,
                        expires_in: s.expires.saturating_sub(now).as_millis() / 1000,
                        packets: s.packets,
                        marks: s.marks,
                    });
                }
                if let Some(n) = fw.nat.as_ref() {
                    let cap = list.mappings.capacity();
                    for (proto, inside, public, sessions) in n.mappings() {
                        if list.mappings.len() == cap {
                            list.cut = true;
                            break;
                        }
                        list.mappings.push(MappingRow {
                            proto,
                            inside,
                            public,
                            sessions,
                        });
                    }
                }
                let _ = fw.slot.filled.push((asked, list));
            }
        }
        work
    }

    /// This worker's session slot (for the control thread).
    pub fn session_slot(&self) -> Option<Arc<SessionSlot>> {
        self.fw.as_ref().map(|f| f.slot.clone())
    }
}

#[inline]
fn port_bit(p: PortId) -> u64 {
    if p.0 < 64 {
        1 << p.0
    } else {
        0
    }
}
