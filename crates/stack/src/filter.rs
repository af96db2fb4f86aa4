//! Per-port inbound and outbound packet filters: the seeds' filter-hook driver, which "allows
//! you to configure separate inbound and outbound IP packet filters for each interface" and
//! "examines both local host and transit IP traffic" (seed 000).
//!
//! # Rules and evaluation
//! Each port has an ordered rule list per [`Direction`]. A [`Rule`] matches on source and
//! destination prefix, IP protocol, TCP/UDP source and destination port ranges and the TCP SYN
//! flag; its [`Action`] is `permit`, `deny` or `count`. Rules are evaluated in order: the first
//! matching `permit` or `deny` decides; a matching `count` rule counts the packet and evaluation
//! goes on; when no `permit`/`deny` rule matches, the packet is permitted. Every matching rule
//! evaluated (the deciding one included) counts a hit; rules after the deciding one are not
//! evaluated and count nothing.
//!
//! `--flags syn` matches TCP segments with SYN set and ACK clear: connection attempts, not the
//! SYN-ACK answering one.
//!
//! # Fragments
//! Ports and TCP flags are in the first fragment only (fragment offset 0). A rule that names a
//! source port, destination port or flags therefore never matches a non-first fragment, nor a
//! packet whose TCP (20 bytes) or UDP (8 bytes) header is cut short by the total length; rules
//! on addresses and protocol alone match every fragment. So `--proto tcp --dport 80 deny` drops
//! the first fragment of a datagram to port 80 and lets its later fragments through (they
//! cannot be reassembled without the first); `--proto tcp deny` drops them all.
//!
//! # Publication
//! The control thread owns the master copy ([`FilterTable`]) and publishes every change as a new
//! immutable [`FilterSet`] with a version number one higher, through a crossbeam-epoch `Atomic`
//! (like the route and neighbour tables). Workers read it through a [`FilterReader`] under a
//! pinned guard, without locks or allocation.
//!
//! # Hit counters
//! Each rule owns an `Arc<RuleHits>`: one cache-line-padded counter per worker, each written
//! only by its worker (a Relaxed load and store, no read-modify-write, no shared cache line).
//! A rule that survives a change keeps its `Arc`, so no hit is lost when the table is
//! republished; [`FilterTable::list`] sums the slots.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;

use burst_wire::ipv4::{Cidr, CidrError, Protocol};
use burst_wire::tcp::Flags;
use crossbeam_epoch::{self as epoch, Atomic, Guard, Owned};

use crate::epoch::Domain;
use crate::PortId;

/// Most rules per port and direction (evaluation is a linear scan).
pub const MAX_RULES: usize = 1024;

/// Which way a packet crosses the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Received on the port.
    In,
    /// Sent out of the port.
    Out,
}

impl Direction {
    /// Both directions, `In` first.
    pub const ALL: [Direction; 2] = [Direction::In, Direction::Out];

    const fn index(self) -> usize {
        match self {
            Direction::In => 0,
            Direction::Out => 1,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::In => "in",
            Direction::Out => "out",
        })
    }
}

impl FromStr for Direction {
    type Err = RuleError;

    /// `in` or `out`.
    fn from_str(s: &str) -> Result<Direction, RuleError> {
        match s {
            "in" => Ok(Direction::In),
            "out" => Ok(Direction::Out),
            _ => Err(RuleError::BadDirection(s.into())),
        }
    }
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Let the packet through; evaluation stops.
    Permit,
    /// Drop the packet; evaluation stops.
    Deny,
    /// Count the packet and go on with the next rule.
    Count,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Permit => "permit",
            Action::Deny => "deny",
            Action::Count => "count",
        })
    }
}

impl FromStr for Action {
    type Err = RuleError;

    /// `permit`, `deny` or `count`.
    fn from_str(s: &str) -> Result<Action, RuleError> {
        match s {
            "permit" => Ok(Action::Permit),
            "deny" => Ok(Action::Deny),
            "count" => Ok(Action::Count),
            _ => Err(RuleError::UnknownAction(s.into())),
        }
    }
}

/// An inclusive range of TCP/UDP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// First port.
    pub lo: u16,
    /// Last port (`>= lo`).
    pub hi: u16,
}

impl PortRange {
    /// The range holding `port` alone.
    pub const fn single(port: u16) -> PortRange {
        PortRange { lo: port, hi: port }
    }

    /// `lo..=hi`, or `None` when reversed.
    pub const fn new(lo: u16, hi: u16) -> Option<PortRange> {
        if lo <= hi {
            Some(PortRange { lo, hi })
        } else {
            None
        }
    }

    /// Whether `port` is in the range.
    #[inline]
    pub const fn contains(&self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

impl FromStr for PortRange {
    type Err = RuleError;

    /// `N` or `A-B` (inclusive, `A <= B`).
    fn from_str(s: &str) -> Result<PortRange, RuleError> {
        let num = |t: &str| -> Result<u16, RuleError> {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RuleError::BadPort(s.into()));
            }
            t.parse().map_err(|_| RuleError::BadPort(s.into()))
        };
        match s.split_once('-') {
            None => Ok(PortRange::single(num(s)?)),
            Some((a, b)) => {
                let (lo, hi) = (num(a)?, num(b)?);
                PortRange::new(lo, hi).ok_or(RuleError::ReversedRange(lo, hi))
            }
        }
    }
}

/// Parses a protocol: `tcp`, `udp`, `icmp` or a number `0..=255`.
pub fn parse_protocol(s: &str) -> Result<u8, RuleError> {
    match s {
        "tcp" => Ok(Protocol::TCP.0),
        "udp" => Ok(Protocol::UDP.0),
        "icmp" => Ok(Protocol::ICMP.0),
        _ if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<u8>()
            .map_err(|_| RuleError::BadProtocol(s.into())),
        _ => Err(RuleError::BadProtocol(s.into())),
    }
}

/// A protocol number as rules write it (`tcp`, `udp`, `icmp`, else the number).
struct ProtoName(u8);

impl fmt::Display for ProtoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Protocol(self.0) {
            Protocol::TCP => f.write_str("tcp"),
            Protocol::UDP => f.write_str("udp"),
            Protocol::ICMP => f.write_str("icmp"),
            Protocol(n) => write!(f, "{n}"),
        }
    }
}

/// Why a rule did not parse or is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// An option the syntax does not have.
    UnknownOption(String),
    /// An option without its value.
    MissingValue(&'static str),
    /// The same option twice.
    Repeated(&'static str),
    /// A prefix that does not parse.
    BadPrefix(String, CidrError),
    /// A protocol that is not `tcp`, `udp`, `icmp` or `0..=255`.
    BadProtocol(String),
    /// A port or port range that does not parse.
    BadPort(String),
    /// A port range whose first port is above its last.
    ReversedRange(u16, u16),
    /// Flags other than `syn`.
    BadFlags(String),
    /// A direction other than `in` or `out`.
    BadDirection(String),
    /// No action at the end.
    MissingAction,
    /// A word that is neither an option nor an action.
    UnknownAction(String),
    /// Words after the action.
    Trailing(String),
    /// Port ranges with a protocol that has no ports.
    PortsNeedTcpOrUdp(u8),
    /// `--flags syn` with a protocol other than TCP.
    FlagsNeedTcp(u8),
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::UnknownOption(o) => write!(
                f,
                "unknown option {o} (expected --src, --dst, --proto, --sport, --dport or --flags)"
            ),
            RuleError::MissingValue(o) => write!(f, "{o} needs a value"),
            RuleError::Repeated(o) => write!(f, "{o} given twice"),
            RuleError::BadPrefix(s, e) => write!(f, "bad prefix {s} ({e})"),
            RuleError::BadProtocol(s) => write!(
                f,
                "bad protocol {s} (expected tcp, udp, icmp or a number 0..=255)"
            ),
            RuleError::BadPort(s) => {
                write!(f, "bad port {s} (expected N or A-B, ports 0..=65535)")
            }
            RuleError::ReversedRange(lo, hi) => write!(f, "port range {lo}-{hi} is reversed"),
            RuleError::BadFlags(s) => write!(f, "bad flags {s} (only syn is supported)"),
            RuleError::BadDirection(s) => write!(f, "bad direction {s} (expected in or out)"),
            RuleError::MissingAction => f.write_str("missing action (permit, deny or count)"),
            RuleError::UnknownAction(s) => {
                write!(f, "unknown action {s} (expected permit, deny or count)")
            }
            RuleError::Trailing(s) => write!(f, "unexpected {s} after the action"),
            RuleError::PortsNeedTcpOrUdp(p) => write!(
                f,
                "port ranges need --proto tcp or udp (or no --proto), not {}",
                ProtoName(*p)
            ),
            RuleError::FlagsNeedTcp(p) => write!(
                f,
                "--flags syn needs --proto tcp (or no --proto), not {}",
                ProtoName(*p)
            ),
        }
    }
}

impl core::error::Error for RuleError {}

/// One filter rule. Every field left `None` (or `syn` false) matches anything.
///
/// Text form (`FromStr`/`Display`, the `burst ctl filter add` syntax after `PORT in|out`):
/// `[--src PREFIX] [--dst PREFIX] [--proto tcp|udp|icmp|N] [--sport A[-B]] [--dport A[-B]]
/// [--flags syn] permit|deny|count`, options in any order, the action last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Source prefix (host bits cleared by the parser).
    pub src: Option<Cidr>,
    /// Destination prefix.
    pub dst: Option<Cidr>,
    /// IP protocol number.
    pub proto: Option<u8>,
    /// TCP/UDP source ports (first fragments only).
    pub sport: Option<PortRange>,
    /// TCP/UDP destination ports (first fragments only).
    pub dport: Option<PortRange>,
    /// TCP with SYN set and ACK clear (a connection attempt; first fragments only).
    pub syn: bool,
    /// What a match does.
    pub action: Action,
}

impl Rule {
    /// A rule matching every packet.
    pub const fn any(action: Action) -> Rule {
        Rule {
            src: None,
            dst: None,
            proto: None,
            sport: None,
            dport: None,
            syn: false,
            action,
        }
    }

    /// Checks that the fields make sense together (ports need TCP or UDP, flags need TCP).
    pub fn validate(&self) -> Result<(), RuleError> {
        if let Some(p) = self.proto {
            if (self.sport.is_some() || self.dport.is_some())
                && p != Protocol::TCP.0
                && p != Protocol::UDP.0
            {
                return Err(RuleError::PortsNeedTcpOrUdp(p));
            }
            if self.syn && p != Protocol::TCP.0 {
                return Err(RuleError::FlagsNeedTcp(p));
            }
        }
        Ok(())
    }

    /// Whether the rule needs the transport header (ports or flags).
    #[inline]
    fn needs_l4(&self) -> bool {
        self.sport.is_some() || self.dport.is_some() || self.syn
    }

    /// Whether the IPv4 datagram `ip` (starting at its header, whose header length and total
    /// length the caller has validated) matches. Never panics: a slice shorter than 20 bytes
    /// matches nothing, and a cut-short transport header matches no port or flag rule.
    #[inline]
    pub fn matches(&self, ip: &[u8]) -> bool {
        Headers::read(ip).is_some_and(|h| self.matches_headers(&h))
    }

    #[inline]
    fn matches_headers(&self, h: &Headers) -> bool {
        if let Some(c) = self.src {
            if !c.contains_addr(h.src) {
                return false;
            }
        }
        if let Some(c) = self.dst {
            if !c.contains_addr(h.dst) {
                return false;
            }
        }
        if let Some(p) = self.proto {
            if p != h.proto {
                return false;
            }
        }
        if self.needs_l4() {
            // Only filled for a first fragment of TCP or UDP with its whole header present.
            let Some(l4) = h.l4 else {
                return false;
            };
            if let Some(r) = self.sport {
                if !r.contains(l4.sport) {
                    return false;
                }
            }
            if let Some(r) = self.dport {
                if !r.contains(l4.dport) {
                    return false;
                }
            }
            if self.syn {
                let syn_ack = Flags::SYN.bits() | Flags::ACK.bits();
                if h.proto != Protocol::TCP.0 || l4.flags & syn_ack != Flags::SYN.bits() {
                    return false;
                }
            }
        }
        true
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.src {
            write!(f, "--src {c} ")?;
        }
        if let Some(c) = self.dst {
            write!(f, "--dst {c} ")?;
        }
        if let Some(p) = self.proto {
            write!(f, "--proto {} ", ProtoName(p))?;
        }
        if let Some(r) = self.sport {
            write!(f, "--sport {r} ")?;
        }
        if let Some(r) = self.dport {
            write!(f, "--dport {r} ")?;
        }
        if self.syn {
            f.write_str("--flags syn ")?;
        }
        write!(f, "{}", self.action)
    }
}

impl FromStr for Rule {
    type Err = RuleError;

    /// The `burst ctl filter add` syntax after `PORT in|out`, words separated by whitespace.
    fn from_str(s: &str) -> Result<Rule, RuleError> {
        Rule::from_words(s.split_whitespace())
    }
}

impl Rule {
    /// Parses the words of a rule (as [`FromStr`] does, for callers that have them split).
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Rule, RuleError> {
        fn set<T>(slot: &mut Option<T>, v: T, opt: &'static str) -> Result<(), RuleError> {
            if slot.is_some() {
                return Err(RuleError::Repeated(opt));
            }
            *slot = Some(v);
            Ok(())
        }
        fn prefix(s: &str) -> Result<Cidr, RuleError> {
            s.parse::<Cidr>()
                .map(|c| c.network())
                .map_err(|e| RuleError::BadPrefix(s.into(), e))
        }
        let mut rule = Rule::any(Action::Permit);
        let mut flags: Option<()> = None;
        let mut action: Option<Action> = None;
        let mut words = words.into_iter();
        while let Some(w) = words.next() {
            if action.is_some() {
                return Err(RuleError::Trailing(w.into()));
            }
            let mut value = |opt: &'static str| words.next().ok_or(RuleError::MissingValue(opt));
            match w {
                "--src" => set(&mut rule.src, prefix(value("--src")?)?, "--src")?,
                "--dst" => set(&mut rule.dst, prefix(value("--dst")?)?, "--dst")?,
                "--proto" => set(
                    &mut rule.proto,
                    parse_protocol(value("--proto")?)?,
                    "--proto",
                )?,
                "--sport" => set(&mut rule.sport, value("--sport")?.parse()?, "--sport")?,
                "--dport" => set(&mut rule.dport, value("--dport")?.parse()?, "--dport")?,
                "--flags" => {
                    let v = value("--flags")?;
                    if v != "syn" {
                        return Err(RuleError::BadFlags(v.into()));
                    }
                    set(&mut flags, (), "--flags")?;
                    rule.syn = true;
                }
                _ if w.starts_with('-') => return Err(RuleError::UnknownOption(w.into())),
                _ => action = Some(w.parse()?),
            }
        }
        rule.action = action.ok_or(RuleError::MissingAction)?;
        rule.validate()?;
        Ok(rule)
    }
}

/// The header fields rules look at, read once per evaluation.
#[derive(Debug, Clone, Copy)]
struct Headers {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    /// Ports and flags: a first fragment of TCP or UDP with its whole header present.
    l4: Option<L4>,
}

#[derive(Debug, Clone, Copy)]
struct L4 {
    sport: u16,
    dport: u16,
    /// TCP control bits (0 for UDP).
    flags: u16,
}

impl Headers {
    #[inline]
    fn read(ip: &[u8]) -> Option<Headers> {
        let h: &[u8; 20] = ip.get(..20)?.try_into().ok()?;
        let ihl = usize::from(h[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let frag_offset = u16::from_be_bytes([h[6], h[7]]) & 0x1fff;
        let proto = h[9];
        let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
        let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
        let l4 = if frag_offset != 0 {
            None
        } else {
            // Bytes past the total length (Ethernet padding) are not the transport header.
            let body = ip.get(ihl..total.min(ip.len())).unwrap_or(&[]);
            match Protocol(proto) {
                Protocol::TCP if body.len() >= burst_wire::tcp::HEADER_LEN => Some(L4 {
                    sport: u16::from_be_bytes([body[0], body[1]]),
                    dport: u16::from_be_bytes([body[2], body[3]]),
                    flags: u16::from_be_bytes([body[12], body[13]]) & Flags::ALL.bits(),
                }),
                Protocol::UDP if body.len() >= burst_wire::udp::HEADER_LEN => Some(L4 {
                    sport: u16::from_be_bytes([body[0], body[1]]),
                    dport: u16::from_be_bytes([body[2], body[3]]),
                    flags: 0,
                }),
                _ => None,
            }
        };
        Some(Headers {
            src,
            dst,
            proto,
            l4,
        })
    }
}

/// One worker's counter, alone on its cache lines (128 bytes: adjacent-line prefetchers pull
/// lines in pairs, so 64 would still let two workers' slots interfere).
#[repr(align(128))]
#[derive(Debug, Default)]
struct Slot(AtomicU64);

/// A rule's hit counter: one slot per worker, each written by its worker only.
#[derive(Debug)]
pub struct RuleHits {
    slots: Box<[Slot]>,
}

impl RuleHits {
    /// Zeroed counters for `workers` workers.
    pub fn new(workers: usize) -> RuleHits {
        RuleHits {
            slots: (0..workers.max(1)).map(|_| Slot::default()).collect(),
        }
    }

    /// Counts one hit for `worker`. Only that worker calls this for its slot, so a Relaxed
    /// load and store is exact (no read-modify-write needed); an unknown worker counts nothing.
    #[inline]
    pub fn hit(&self, worker: usize) {
        if let Some(s) = self.slots.get(worker) {
            s.0.store(s.0.load(Relaxed).wrapping_add(1), Relaxed);
        }
    }

    /// Hits summed over workers.
    pub fn total(&self) -> u64 {
        self.slots
            .iter()
            .fold(0u64, |t, s| t.wrapping_add(s.0.load(Relaxed)))
    }

    /// Hits counted by `worker`.
    pub fn of(&self, worker: usize) -> u64 {
        self.slots.get(worker).map_or(0, |s| s.0.load(Relaxed))
    }
}

/// A rule with its counters (shared by every version holding the rule).
#[derive(Debug, Clone)]
struct Entry {
    rule: Rule,
    hits: Arc<RuleHits>,
}

/// The outcome of evaluating a packet against a port's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the packet goes on.
    pub permit: bool,
    /// The index of the rule that decided, else of the last `count` rule that matched (for
    /// tracing); `None` when no rule matched.
    pub rule: Option<usize>,
}

impl Verdict {
    /// No rule matched: permitted.
    pub const DEFAULT: Verdict = Verdict {
        permit: true,
        rule: None,
    };
}

/// One immutable, versioned set of every port's lists (what workers read).
#[derive(Debug)]
pub struct FilterSet {
    version: u64,
    /// Every list back to back, port-major (`port * 2 + direction`).
    entries: Box<[Entry]>,
    /// `[start, end)` into `entries` per `port * 2 + direction`.
    lists: Box<[(u32, u32)]>,
}

impl FilterSet {
    /// This version's number (0 for the empty initial set, then +1 per publication).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether any port has a rule.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn list(&self, port: PortId, dir: Direction) -> &[Entry] {
        let i = usize::from(port.0) * 2 + dir.index();
        match self.lists.get(i) {
            Some(&(s, e)) => self.entries.get(s as usize..e as usize).unwrap_or(&[]),
            None => &[],
        }
    }

    /// Whether `port` has rules for `dir` (when not, every packet is permitted without
    /// looking at it).
    #[inline]
    pub fn is_active(&self, port: PortId, dir: Direction) -> bool {
        let i = usize::from(port.0) * 2 + dir.index();
        self.lists.get(i).is_some_and(|&(s, e)| s != e)
    }

    /// The rules of `port` for `dir`, in order.
    pub fn rules(&self, port: PortId, dir: Direction) -> impl Iterator<Item = &Rule> + '_ {
        self.list(port, dir).iter().map(|e| &e.rule)
    }

    /// Evaluates the IPv4 datagram `ip` (from its header; header and total length validated
    /// by the caller) against `port`'s `dir` list, counting hits in `worker`'s slots. No
    /// allocation, no lock, no read-modify-write.
    #[inline]
    pub fn evaluate(&self, port: PortId, dir: Direction, ip: &[u8], worker: usize) -> Verdict {
        let list = self.list(port, dir);
        if list.is_empty() {
            return Verdict::DEFAULT;
        }
        let Some(h) = Headers::read(ip) else {
            return Verdict::DEFAULT;
        };
        let mut counted = None;
        for (i, e) in list.iter().enumerate() {
            if !e.rule.matches_headers(&h) {
                continue;
            }
            e.hits.hit(worker);
            match e.rule.action {
                Action::Permit => {
                    return Verdict {
                        permit: true,
                        rule: Some(i),
                    }
                }
                Action::Deny => {
                    return Verdict {
                        permit: false,
                        rule: Some(i),
                    }
                }
                Action::Count => counted = Some(i),
            }
        }
        Verdict {
            permit: true,
            rule: counted,
        }
    }
}

/// Why a filter-table change was refused (the table is unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// The port id is not below the table's port count.
    NoSuchPort(PortId),
    /// No rule at this index (`len` rules in the list; an insert may use `0..=len`).
    NoSuchIndex {
        /// The index asked for.
        index: usize,
        /// Rules in the list.
        len: usize,
    },
    /// The list has [`MAX_RULES`] rules.
    Full,
    /// The rule's fields contradict each other.
    Invalid(RuleError),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::NoSuchPort(p) => write!(f, "no port {}", p.0),
            FilterError::NoSuchIndex { index, len } => {
                write!(f, "no rule at index {index} (the list has {len})")
            }
            FilterError::Full => write!(f, "the list has {MAX_RULES} rules already"),
            FilterError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for FilterError {}

/// One rule as [`FilterTable::list`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterEntry {
    /// The port.
    pub port: PortId,
    /// The direction.
    pub dir: Direction,
    /// Position in the port's list for `dir` (0-based; evaluation order).
    pub index: usize,
    /// The rule.
    pub rule: Rule,
    /// Matches counted, summed over workers.
    pub hits: u64,
}

/// What the writer shares with readers.
struct Shared {
    current: Atomic<FilterSet>,
    /// The domain readers' guards must come from.
    domain: Domain,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: `&mut self` in drop means no `FilterTable` or `FilterReader` is left, and
        // every reference into the set borrowed one of them, so nothing reads the current set.
        // It is never null (created in `Shared::new`, only ever swapped for another).
        unsafe {
            drop(
                self.current
                    .load(Relaxed, epoch::unprotected())
                    .into_owned(),
            )
        }
    }
}

impl Shared {
    fn new(ports: usize, domain: &Domain) -> Shared {
        Shared {
            current: Atomic::new(FilterSet {
                version: 0,
                entries: Box::new([]),
                lists: vec![(0, 0); ports * 2].into_boxed_slice(),
            }),
            domain: domain.clone(),
        }
    }
}

/// The control plane's filter lists: single writer, read by workers through [`FilterReader`].
pub struct FilterTable {
    workers: usize,
    /// Per `port * 2 + direction`, in evaluation order.
    lists: Vec<Vec<Entry>>,
    shared: Arc<Shared>,
    version: u64,
}

impl fmt::Debug for FilterTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilterTable")
            .field("ports", &self.ports())
            .field("workers", &self.workers)
            .field("rules", &self.lists.iter().map(Vec::len).sum::<usize>())
            .field("version", &self.version)
            .finish()
    }
}

impl FilterTable {
    /// Empty lists for `ports` ports, with hit counters for `workers` workers (worker ids
    /// `0..workers`; at least one slot).
    pub fn new(ports: usize, workers: usize) -> FilterTable {
        FilterTable::with_domain(ports, workers, &Domain::new())
    }

    /// [`new`](Self::new), read under guards of `domain` (shared with the other tables a
    /// worker reads in the same burst).
    pub fn with_domain(ports: usize, workers: usize, domain: &Domain) -> FilterTable {
        FilterTable {
            workers: workers.max(1),
            lists: vec![Vec::new(); ports * 2],
            shared: Arc::new(Shared::new(ports, domain)),
            version: 0,
        }
    }

    /// A read handle for workers.
    pub fn reader(&self) -> FilterReader {
        FilterReader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The number of ports.
    pub fn ports(&self) -> usize {
        self.lists.len() / 2
    }

    /// The version last published.
    pub fn version(&self) -> u64 {
        self.version
    }

    fn slot(&mut self, port: PortId, dir: Direction) -> Result<&mut Vec<Entry>, FilterError> {
        self.lists
            .get_mut(usize::from(port.0) * 2 + dir.index())
            .ok_or(FilterError::NoSuchPort(port))
    }

    /// Inserts `rule` at `index` of `port`'s `dir` list (rules from there on move down one), or
    /// appends it when `index` is `None`; returns its index. Publishes a new version.
    pub fn add(
        &mut self,
        port: PortId,
        dir: Direction,
        index: Option<usize>,
        rule: Rule,
    ) -> Result<usize, FilterError> {
        rule.validate().map_err(FilterError::Invalid)?;
        let workers = self.workers;
        let list = self.slot(port, dir)?;
        if list.len() >= MAX_RULES {
            return Err(FilterError::Full);
        }
        let at = index.unwrap_or(list.len());
        if at > list.len() {
            return Err(FilterError::NoSuchIndex {
                index: at,
                len: list.len(),
            });
        }
        list.insert(
            at,
            Entry {
                rule,
                hits: Arc::new(RuleHits::new(workers)),
            },
        );
        self.publish();
        tracing::info!(%port, %dir, index = at, %rule, "filter rule added");
        Ok(at)
    }

    /// Deletes the rule at `index` of `port`'s `dir` list (later rules move up one) and returns
    /// it. Publishes a new version.
    pub fn delete(
        &mut self,
        port: PortId,
        dir: Direction,
        index: usize,
    ) -> Result<Rule, FilterError> {
        let list = self.slot(port, dir)?;
        if index >= list.len() {
            return Err(FilterError::NoSuchIndex {
                index,
                len: list.len(),
            });
        }
        let rule = list.remove(index).rule;
        self.publish();
        tracing::info!(%port, %dir, index, %rule, "filter rule deleted");
        Ok(rule)
    }

    /// The rules of `port`'s `dir` list, in order.
    pub fn rules(&self, port: PortId, dir: Direction) -> Vec<Rule> {
        self.lists
            .get(usize::from(port.0) * 2 + dir.index())
            .map(|l| l.iter().map(|e| e.rule).collect())
            .unwrap_or_default()
    }

    /// Every rule with its hit count, by port, then `in` before `out`, then index.
    pub fn list(&self) -> Vec<FilterEntry> {
        let mut v = Vec::new();
        for (i, l) in self.lists.iter().enumerate() {
            let port = PortId((i / 2) as u16);
            let dir = Direction::ALL[i % 2];
            v.extend(l.iter().enumerate().map(|(index, e)| FilterEntry {
                port,
                dir,
                index,
                rule: e.rule,
                hits: e.hits.total(),
            }));
        }
        v
    }

    /// Publishes the lists as the next version.
    fn publish(&mut self) {
        self.version += 1;
        let mut entries = Vec::with_capacity(self.lists.iter().map(Vec::len).sum());
        let mut ranges = Vec::with_capacity(self.lists.len());
        for l in &self.lists {
            let start = entries.len() as u32;
            // Clones share the counters: hits counted through the old version stay.
            entries.extend(l.iter().cloned());
            ranges.push((start, entries.len() as u32));
        }
        let set = Owned::new(FilterSet {
            version: self.version,
            entries: entries.into_boxed_slice(),
            lists: ranges.into_boxed_slice(),
        });
        let guard = self.shared.domain.pin();
        let old = self.shared.current.swap(set, AcqRel, &guard);
        // SAFETY: `old` is unlinked (only this single, `&mut` writer stores to `current`), so it
        // is destroyed exactly once; readers reach sets only through `current` while pinned on
        // the table's domain (checked in `FilterReader::set`), and `defer_destroy` waits
        // until every guard pinned before the swap is gone.
        unsafe { guard.defer_destroy(old) };
    }
}

/// A worker's read handle on a [`FilterTable`]: `Clone + Send + Sync`, never blocks.
///
/// Pin once per burst ([`FilterReader::domain`]`.pin()`), then per packet call
/// [`is_active`](Self::is_active) and, only when it says so, [`evaluate`](Self::evaluate) (or
/// take the [`set`](Self::set) once per burst and call the same methods on it).
#[derive(Clone)]
pub struct FilterReader {
    shared: Arc<Shared>,
}

impl Default for FilterReader {
    /// A reader of an empty table of no ports: every packet is permitted.
    fn default() -> FilterReader {
        FilterTable::new(0, 1).reader()
    }
}

impl fmt::Debug for FilterReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guard = self.shared.domain.pin();
        f.debug_struct("FilterReader")
            .field("version", &self.version(&guard))
            .finish()
    }
}

impl FilterReader {
    /// The reclamation domain to pin on for lookups.
    pub fn domain(&self) -> &Domain {
        &self.shared.domain
    }

    /// The current set (its version tells whether anything changed).
    ///
    /// # Panics
    /// If `guard` is not pinned on the table's [`Domain`].
    #[inline]
    pub fn set<'g>(&'g self, guard: &'g Guard) -> &'g FilterSet {
        assert!(
            self.shared.domain.owns(guard),
            "filter lookups need a guard pinned on the table's domain"
        );
        // SAFETY: the pointer is never null (set in `Shared::new`, only swapped for another
        // set); a replaced set is destroyed only after every guard pinned on this domain
        // when it was replaced is gone, and `guard` is such a guard (checked above), so the set
        // outlives 'g. `&'g self` keeps `Shared`, hence the current set, alive for 'g too.
        unsafe { self.shared.current.load(Acquire, guard).deref() }
    }

    /// Whether `port` has rules for `dir`: when false, skip [`evaluate`](Self::evaluate).
    #[inline]
    pub fn is_active(&self, port: PortId, dir: Direction, guard: &Guard) -> bool {
        self.set(guard).is_active(port, dir)
    }

    /// Evaluates the IPv4 datagram `ip` against `port`'s `dir` list as worker `worker` (see
    /// [`FilterSet::evaluate`]).
    #[inline]
    pub fn evaluate(
        &self,
        port: PortId,
        dir: Direction,
        ip: &[u8],
        worker: usize,
        guard: &Guard,
    ) -> Verdict {
        self.set(guard).evaluate(port, dir, ip, worker)
    }

    /// The current version number.
    pub fn version(&self, guard: &Guard) -> u64 {
        self.set(guard).version()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::tcp::{self, SeqNumber};
    use burst_wire::{icmpv4, ipv4, udp, ChecksumMode};

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 10);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 20);
    const C: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 30);
    const P0: PortId = PortId(0);
    const P1: PortId = PortId(1);
    use Direction::{In, Out};

    fn ip_header(r: &ipv4::Repr, buf: &mut [u8]) {
        r.emit(&mut ipv4::Packet::new_unchecked(buf), ChecksumMode::Compute);
    }

    fn tcp_seg(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, flags: Flags) -> Vec<u8> {
        let t = tcp::Repr {
            src_port: sport,
            dst_port: dport,
            seq: SeqNumber(1000),
            ack_number: SeqNumber(if flags.contains(Flags::ACK) { 77 } else { 0 }),
            flags,
            reserved: 0,
            window: 65535,
            urgent: 0,
            options: tcp::Options::EMPTY,
            payload_len: 4,
        };
        let ip = ipv4::Repr::new(src, dst, Protocol::TCP, t.buffer_len(), 64);
        let mut d = vec![0u8; ip.buffer_len()];
        let hl = ip.header_len();
        t.emit(
            &mut tcp::Packet::new_unchecked(&mut d[hl..]),
            src,
            dst,
            ChecksumMode::Compute,
        );
        ip_header(&ip, &mut d);
        d
    }

    fn udp_dgram(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
        let u = udp::Repr {
            src_port: sport,
            dst_port: dport,
            payload_len: 12,
        };
        let ip = ipv4::Repr::new(src, dst, Protocol::UDP, u.buffer_len(), 64);
        let mut d = vec![0u8; ip.buffer_len()];
        let hl = ip.header_len();
        u.emit(
            &mut udp::Packet::new_unchecked(&mut d[hl..]),
            src,
            dst,
            ChecksumMode::Compute,
        );
        ip_header(&ip, &mut d);
        d
    }

    fn icmp_echo(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let msg = icmpv4::Repr::EchoRequest {
            ident: 80,
            seq_no: 80,
            data: b"abcdefgh",
        };
        let mut d = vec![0u8; 20 + msg.buffer_len()];
        let n = crate::icmp::emit(&msg, src, dst, 64, false, &mut d);
        d.truncate(n);
        d
    }

    /// A GRE (protocol 47) datagram whose first payload bytes look like ports 80 → 80.
    fn gre(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let ip = ipv4::Repr::new(src, dst, Protocol(47), 24, 64);
        let mut d = vec![0u8; ip.buffer_len()];
        d[20..24].copy_from_slice(&[0, 80, 0, 80]);
        ip_header(&ip, &mut d);
        d
    }

    /// Fragment `offset` (bytes) of a UDP datagram, `more` set as asked; a non-first fragment's
    /// payload starts with bytes that would read as ports 53 → 53.
    fn udp_fragment(offset: u16, more: bool) -> Vec<u8> {
        let mut d = udp_dgram(A, B, 53, 53);
        if offset != 0 {
            d[20..24].copy_from_slice(&[0, 53, 0, 53]);
        }
        let r = ipv4::Repr {
            frag_offset: offset,
            more_frags: more,
            ident: 9,
            ..ipv4::Repr::new(A, B, Protocol::UDP, d.len() - 20, 64)
        };
        ip_header(&r, &mut d);
        d
    }

    fn rule(s: &str) -> Rule {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn m(s: &str, p: &[u8]) -> bool {
        rule(s).matches(p)
    }

    #[test]
    fn each_field_matches_on_real_packets() {
        let syn = tcp_seg(A, B, 40000, 80, Flags::SYN);
        let u = udp_dgram(A, B, 5353, 53);
        let ping = icmp_echo(A, B);
        let g = gre(A, B);
        // Nothing named: everything.
        for p in [&syn, &u, &ping, &g] {
            assert!(m("deny", p));
        }
        // Prefixes.
        assert!(m("--src 198.18.1.0/24 deny", &syn));
        assert!(!m("--src 198.18.2.0/24 deny", &syn));
        assert!(m("--dst 198.18.2.0/24 deny", &syn));
        assert!(m("--dst 198.18.2.20 deny", &syn), "a bare address is a /32");
        assert!(!m("--dst 198.18.2.21 deny", &syn));
        assert!(m("--src 198.18.0.0/15 --dst 198.18.0.0/15 deny", &u));
        assert!(!m("--dst 198.18.0.0/16 deny", &udp_dgram(A, C, 1, 2)));
        assert!(m("--dst 0.0.0.0/0 deny", &udp_dgram(A, C, 1, 2)));
        // Protocols, by name and number.
        assert!(m("--proto tcp deny", &syn) && !m("--proto tcp deny", &u));
        assert!(m("--proto udp deny", &u) && !m("--proto udp deny", &ping));
        assert!(m("--proto icmp deny", &ping) && !m("--proto icmp deny", &g));
        assert!(m("--proto 47 deny", &g) && m("--proto 6 deny", &syn));
        // Ports and ranges, inclusive at both ends.
        assert!(m("--dport 80 deny", &syn));
        assert!(m("--proto tcp --dport 80 deny", &syn));
        assert!(!m("--proto tcp --dport 81 deny", &syn));
        assert!(m("--sport 40000-40000 deny", &syn));
        assert!(m("--sport 39999-40001 deny", &syn));
        assert!(m("--sport 40000-65535 deny", &syn));
        assert!(m("--sport 1-40000 deny", &syn));
        assert!(!m("--sport 40001-65535 deny", &syn));
        assert!(!m("--sport 1-39999 deny", &syn));
        assert!(m("--proto udp --sport 5353 --dport 53 deny", &u));
        assert!(!m("--proto udp --sport 5353 --dport 54 deny", &u));
        assert!(m("--dport 53 deny", &u), "no --proto: TCP or UDP");
        // Ports never match a protocol without them, even when its bytes look like ports.
        assert!(!m("--dport 80 deny", &g));
        assert!(!m("--sport 0-65535 deny", &ping));
    }

    #[test]
    fn syn_means_a_connection_attempt() {
        let r = rule("--flags syn deny");
        assert!(r.matches(&tcp_seg(A, B, 40000, 80, Flags::SYN)));
        assert!(r.matches(&tcp_seg(A, B, 40000, 80, Flags::SYN.union(Flags::ECE))));
        assert!(!r.matches(&tcp_seg(B, A, 80, 40000, Flags::SYN.union(Flags::ACK))));
        assert!(!r.matches(&tcp_seg(A, B, 40000, 80, Flags::ACK)));
        assert!(!r.matches(&tcp_seg(A, B, 40000, 80, Flags::ACK.union(Flags::PSH))));
        assert!(!r.matches(&tcp_seg(A, B, 40000, 80, Flags::RST)));
        assert!(!r.matches(&udp_dgram(A, B, 40000, 80)));
        assert!(
            rule("--proto tcp --dport 80 --flags syn deny").matches(&tcp_seg(
                A,
                B,
                40000,
                80,
                Flags::SYN
            ))
        );
        assert!(
            !rule("--proto tcp --dport 81 --flags syn deny").matches(&tcp_seg(
                A,
                B,
                40000,
                80,
                Flags::SYN
            ))
        );
    }

    #[test]
    fn only_first_fragments_have_ports() {
        let first = udp_fragment(0, true);
        let later = udp_fragment(1480, true);
        let last = udp_fragment(2960, false);
        let ports = rule("--proto udp --dport 53 deny");
        assert!(ports.matches(&first));
        assert!(!ports.matches(&later), "offset != 0: no ports");
        assert!(!ports.matches(&last));
        assert!(!rule("--sport 53 deny").matches(&later));
        // Rules on addresses and protocol match every fragment.
        for f in [&first, &later, &last] {
            assert!(rule("--proto udp --src 198.18.1.10 deny").matches(f));
        }
        // Also for TCP and the SYN flag: a later fragment whose bytes look like a SYN.
        let mut t = tcp_seg(A, B, 40000, 80, Flags::SYN);
        let r = ipv4::Repr {
            frag_offset: 8,
            ..ipv4::Repr::new(A, B, Protocol::TCP, t.len() - 20, 64)
        };
        ip_header(&r, &mut t);
        assert!(!rule("--flags syn deny").matches(&t));
        assert!(rule("--proto tcp deny").matches(&t));
    }

    #[test]
    fn short_transport_headers_match_no_port_rule_and_never_panic() {
        // Total length leaves 6 bytes of UDP header (the buffer is longer: Ethernet padding).
        let mut u = udp_dgram(A, B, 5353, 53);
        let r = ipv4::Repr::new(A, B, Protocol::UDP, 6, 64);
        ip_header(&r, &mut u);
        assert!(!rule("--dport 53 deny").matches(&u));
        assert!(rule("--proto udp deny").matches(&u));
        // TCP with 19 bytes of header: no flags, no ports.
        let mut t = tcp_seg(A, B, 40000, 80, Flags::SYN);
        let r = ipv4::Repr::new(A, B, Protocol::TCP, 19, 64);
        ip_header(&r, &mut t);
        assert!(!rule("--flags syn deny").matches(&t));
        assert!(!rule("--dport 80 deny").matches(&t));
        // Every prefix of real packets, and headers claiming more than there is.
        let rules = [
            rule("--proto tcp --sport 1-65535 --dport 80 --flags syn deny"),
            rule("--proto udp --dport 53 deny"),
            rule("--src 198.18.0.0/15 deny"),
        ];
        let mut table = FilterTable::new(1, 1);
        for r in rules {
            table.add(P0, In, None, r).unwrap();
        }
        let reader = table.reader();
        let guard = reader.domain().pin();
        for p in [
            tcp_seg(A, B, 40000, 80, Flags::SYN),
            udp_dgram(A, B, 1, 53),
            icmp_echo(A, B),
        ] {
            for n in 0..=p.len() {
                for r in &rules {
                    let _ = r.matches(&p[..n]);
                }
                let v = reader.evaluate(P0, In, &p[..n], 0, &guard);
                if n < 20 {
                    assert_eq!(v, Verdict::DEFAULT, "too short to be a datagram");
                }
                // A header length beyond the data.
                let mut q = p[..n].to_vec();
                if let Some(b) = q.first_mut() {
                    *b = 0x4f;
                }
                let _ = reader.evaluate(P0, In, &q, 0, &guard);
            }
        }
    }

    #[test]
    fn evaluation_order_count_deny_permit_and_default() {
        let mut t = FilterTable::new(2, 1);
        let r = t.reader();
        let g = r.domain().pin();
        let web = tcp_seg(A, B, 40000, 80, Flags::SYN);
        let dns = udp_dgram(A, B, 5353, 53);
        // No rules: permitted, inactive.
        assert!(!r.is_active(P0, In, &g));
        assert_eq!(r.evaluate(P0, In, &web, 0, &g), Verdict::DEFAULT);
        drop(g);

        t.add(P0, In, None, rule("--proto tcp count")).unwrap();
        t.add(P0, In, None, rule("--dport 80 deny")).unwrap();
        t.add(P0, In, None, rule("--proto tcp permit")).unwrap();
        t.add(P0, In, None, rule("count")).unwrap();
        let g = r.domain().pin();
        assert!(r.is_active(P0, In, &g));
        assert!(!r.is_active(P0, Out, &g) && !r.is_active(P1, In, &g));
        assert!(!r.is_active(PortId(7), In, &g), "unknown port: inactive");
        assert_eq!(r.evaluate(PortId(7), In, &web, 0, &g), Verdict::DEFAULT);
        // Count then deny: both hit, the deny decides, the rest is not evaluated.
        assert_eq!(
            r.evaluate(P0, In, &web, 0, &g),
            Verdict {
                permit: false,
                rule: Some(1)
            }
        );
        // TCP to another port: counted, then permitted by rule 2.
        let ssh = tcp_seg(A, B, 40000, 22, Flags::SYN);
        assert_eq!(
            r.evaluate(P0, In, &ssh, 0, &g),
            Verdict {
                permit: true,
                rule: Some(2)
            }
        );
        // UDP: only the last count rule matches; no decisive rule → permitted.
        assert_eq!(
            r.evaluate(P0, In, &dns, 0, &g),
            Verdict {
                permit: true,
                rule: Some(3)
            }
        );
        // Other port and direction: untouched.
        assert_eq!(r.evaluate(P0, Out, &web, 0, &g), Verdict::DEFAULT);
        assert_eq!(r.evaluate(P1, In, &web, 0, &g), Verdict::DEFAULT);
        drop(g);
        let hits: Vec<u64> = t.list().iter().map(|e| e.hits).collect();
        assert_eq!(hits, [2, 1, 1, 1]);

        // Deny first: the count after it is never reached.
        let mut t = FilterTable::new(1, 1);
        t.add(P0, Out, None, rule("deny")).unwrap();
        t.add(P0, Out, None, rule("count")).unwrap();
        let r = t.reader();
        let g = r.domain().pin();
        for _ in 0..3 {
            assert_eq!(
                r.evaluate(P0, Out, &dns, 0, &g),
                Verdict {
                    permit: false,
                    rule: Some(0)
                }
            );
        }
        drop(g);
        let hits: Vec<u64> = t.list().iter().map(|e| e.hits).collect();
        assert_eq!(hits, [3, 0]);

        // Rules that match nothing: default permit, no hits.
        let mut t = FilterTable::new(1, 1);
        t.add(P0, In, None, rule("--src 198.19.0.0/16 deny"))
            .unwrap();
        let r = t.reader();
        let g = r.domain().pin();
        assert_eq!(r.evaluate(P0, In, &web, 0, &g), Verdict::DEFAULT);
        drop(g);
        assert_eq!(t.list()[0].hits, 0);
    }

    #[test]
    fn hits_are_per_worker_and_summed() {
        fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
        assert_send_sync_clone::<FilterReader>();
        let mut t = FilterTable::new(1, 2);
        t.add(P0, In, None, rule("--proto udp count")).unwrap();
        t.add(P0, In, None, rule("--dport 53 deny")).unwrap();
        let dns = udp_dgram(A, B, 5353, 53);
        let other = udp_dgram(A, B, 5353, 54);
        const N: u64 = 10_000;
        std::thread::scope(|s| {
            for w in 0..2usize {
                let r = t.reader();
                let (dns, other) = (&dns, &other);
                s.spawn(move || {
                    for i in 0..N {
                        let g = r.domain().pin();
                        let p = if i % 2 == 0 { dns } else { other };
                        let v = r.evaluate(P0, In, p, w, &g);
                        assert_eq!(v.permit, i % 2 == 1);
                    }
                });
            }
        });
        let l = t.list();
        assert_eq!((l[0].hits, l[1].hits), (2 * N, N));
        // The per-worker slots, read through a snapshot.
        let r = t.reader();
        let g = r.domain().pin();
        let set = r.set(&g);
        let e = &set.list(P0, In)[1];
        assert_eq!(
            (e.hits.of(0), e.hits.of(1), e.hits.of(2)),
            (N / 2, N / 2, 0)
        );
        // A worker id beyond the table's counts nothing and does not panic.
        set.evaluate(P0, In, &dns, 9);
        assert_eq!(e.hits.total(), N);
    }

    #[test]
    fn add_insert_delete_and_indices() {
        let mut t = FilterTable::new(2, 1);
        assert_eq!(t.version(), 0);
        assert_eq!(t.add(P1, Out, None, rule("--dport 1 deny")), Ok(0));
        assert_eq!(t.add(P1, Out, None, rule("--dport 3 deny")), Ok(1));
        assert_eq!(t.add(P1, Out, Some(1), rule("--dport 2 deny")), Ok(1));
        assert_eq!(t.add(P1, Out, Some(0), rule("--dport 0 deny")), Ok(0));
        assert_eq!(t.add(P1, Out, Some(4), rule("--dport 4 deny")), Ok(4));
        assert_eq!(
            t.add(P1, Out, Some(6), rule("deny")),
            Err(FilterError::NoSuchIndex { index: 6, len: 5 })
        );
        assert_eq!(
            t.add(PortId(2), In, None, rule("deny")),
            Err(FilterError::NoSuchPort(PortId(2)))
        );
        let bad = Rule {
            proto: Some(1),
            dport: Some(PortRange::single(80)),
            ..Rule::any(Action::Deny)
        };
        assert_eq!(
            t.add(P0, In, None, bad),
            Err(FilterError::Invalid(RuleError::PortsNeedTcpOrUdp(1)))
        );
        assert_eq!(t.version(), 5, "refused changes publish nothing");
        let ports = |t: &FilterTable| -> Vec<u16> {
            t.rules(P1, Out)
                .iter()
                .map(|r| r.dport.unwrap().lo)
                .collect()
        };
        assert_eq!(ports(&t), [0, 1, 2, 3, 4]);
        assert!(t.rules(P1, In).is_empty() && t.rules(P0, Out).is_empty());
        assert_eq!(t.delete(P1, Out, 2), Ok(rule("--dport 2 deny")));
        assert_eq!(ports(&t), [0, 1, 3, 4]);
        assert_eq!(
            t.delete(P1, Out, 4),
            Err(FilterError::NoSuchIndex { index: 4, len: 4 })
        );
        assert_eq!(
            t.delete(P1, In, 0),
            Err(FilterError::NoSuchIndex { index: 0, len: 0 })
        );
        assert_eq!(
            t.delete(PortId(9), In, 0),
            Err(FilterError::NoSuchPort(PortId(9)))
        );
        let l = t.list();
        assert_eq!(
            l.iter()
                .map(|e| (e.port, e.dir, e.index))
                .collect::<Vec<_>>(),
            [(P1, Out, 0), (P1, Out, 1), (P1, Out, 2), (P1, Out, 3)]
        );
        // The workers' view follows.
        let r = t.reader();
        let g = r.domain().pin();
        assert_eq!(r.version(&g), t.version());
        let set = r.set(&g);
        let seen: Vec<u16> = set.rules(P1, Out).map(|r| r.dport.unwrap().lo).collect();
        assert_eq!(seen, [0, 1, 3, 4]);
        assert!(!set.is_empty());
        // Full lists refuse more.
        let mut t = FilterTable::new(1, 1);
        for _ in 0..MAX_RULES {
            t.add(P0, In, None, rule("count")).unwrap();
        }
        assert_eq!(t.add(P0, In, None, rule("count")), Err(FilterError::Full));
        assert_eq!(
            FilterError::NoSuchIndex { index: 6, len: 5 }.to_string(),
            "no rule at index 6 (the list has 5)"
        );
    }

    #[test]
    fn republishing_keeps_hits_and_old_snapshots_stay_readable() {
        let mut t = FilterTable::new(1, 2);
        t.add(P0, In, None, rule("--proto tcp count")).unwrap();
        let r = t.reader();
        let web = tcp_seg(A, B, 40000, 80, Flags::SYN);
        let old = r.domain().pin();
        let v1 = r.set(&old);
        assert_eq!(v1.version(), 1);
        v1.evaluate(P0, In, &web, 0);
        // Insert before it and add after it while a worker still holds version 1.
        t.add(P0, In, Some(0), rule("--proto udp deny")).unwrap();
        t.add(P0, In, None, rule("--dport 80 deny")).unwrap();
        t.add(P0, Out, None, rule("deny")).unwrap();
        assert_eq!(
            v1.evaluate(P0, In, &web, 1),
            Verdict {
                permit: true,
                rule: Some(0)
            },
            "the pinned version is unchanged"
        );
        assert!(!v1.is_active(P0, Out));
        drop(old);
        let g = r.domain().pin();
        assert_eq!(r.version(&g), 4);
        assert_eq!(
            r.evaluate(P0, In, &web, 1, &g),
            Verdict {
                permit: false,
                rule: Some(2)
            }
        );
        drop(g);
        let l = t.list();
        // The count rule moved to index 1 with its two old hits plus the new one.
        assert_eq!(l[1].rule, rule("--proto tcp count"));
        assert_eq!(l.iter().map(|e| e.hits).collect::<Vec<_>>(), [0, 3, 1, 0]);
        // Deleting another rule keeps them too.
        t.delete(P0, In, 0).unwrap();
        assert_eq!(t.list()[0].hits, 3);
    }

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "permit",
            "deny",
            "count",
            "--dst 198.18.2.0/24 --proto tcp --dport 80 deny",
            "--src 198.18.0.0/15 --dst 198.18.2.20/32 --proto udp --sport 1000-2000 --dport 53 count",
            "--proto 47 permit",
            "--proto icmp deny",
            "--proto tcp --flags syn deny",
            "--flags syn count",
            "--sport 0-65535 --dport 0 permit",
        ] {
            let r = rule(s);
            assert_eq!(r.to_string(), s);
            assert_eq!(rule(&r.to_string()), r);
        }
        // Other spellings parse to the same rule and print canonically.
        let r = rule("  deny");
        assert_eq!(r, Rule::any(Action::Deny));
        let r = rule("--dport 80 --proto 6 --dst 198.18.2.7/24 deny");
        assert_eq!(
            r.to_string(),
            "--dst 198.18.2.0/24 --proto tcp --dport 80 deny"
        );
        assert_eq!(r.dst, Some("198.18.2.0/24".parse().unwrap()));
        assert_eq!(r.dport, Some(PortRange { lo: 80, hi: 80 }));
        assert_eq!(rule("--sport 7-7 deny").to_string(), "--sport 7 deny");
        assert_eq!(rule("--proto 17 deny").to_string(), "--proto udp deny");
        assert_eq!(
            rule("--dst 198.18.2.9 deny").to_string(),
            "--dst 198.18.2.9/32 deny"
        );
        let r = Rule::from_words(["--proto", "udp", "--sport", "1000-2000", "count"]).unwrap();
        assert_eq!(r.sport, Some(PortRange { lo: 1000, hi: 2000 }));
        assert_eq!(r.action, Action::Count);
        assert_eq!("in".parse::<Direction>(), Ok(In));
        assert_eq!("out".parse::<Direction>(), Ok(Out));
        assert_eq!(
            (In.to_string(), Out.to_string()),
            ("in".into(), "out".into())
        );
    }

    #[test]
    fn every_parse_error_is_clear() {
        let e = |s: &str| s.parse::<Rule>().unwrap_err().to_string();
        assert_eq!(
            e("--foo 1 deny"),
            "unknown option --foo (expected --src, --dst, --proto, --sport, --dport or --flags)"
        );
        assert!(e("-s 198.18.0.0/15 deny").starts_with("unknown option -s "));
        assert_eq!(e("--src"), "--src needs a value");
        assert_eq!(e("--dport"), "--dport needs a value");
        assert_eq!(
            e("--src 198.18.0.300/24 deny"),
            "bad prefix 198.18.0.300/24 (expected a.b.c.d/len)"
        );
        assert_eq!(
            e("--dst 198.18.0.0/33 deny"),
            "bad prefix 198.18.0.0/33 (prefix length 33 is above 32)"
        );
        assert_eq!(
            e("--proto gre deny"),
            "bad protocol gre (expected tcp, udp, icmp or a number 0..=255)"
        );
        assert!(e("--proto 256 deny").starts_with("bad protocol 256 "));
        assert!(e("--proto -1 deny").starts_with("bad protocol -1 "));
        assert_eq!(
            e("--dport 65536 deny"),
            "bad port 65536 (expected N or A-B, ports 0..=65535)"
        );
        assert!(e("--dport 80- deny").starts_with("bad port 80- "));
        assert!(e("--dport -80 deny").starts_with("bad port -80 "));
        assert!(e("--sport http deny").starts_with("bad port http "));
        assert!(e("--sport 1-2-3 deny").starts_with("bad port 1-2-3 "));
        assert_eq!(e("--dport 10-5 deny"), "port range 10-5 is reversed");
        assert_eq!(
            e("--flags ack deny"),
            "bad flags ack (only syn is supported)"
        );
        assert_eq!(e(""), "missing action (permit, deny or count)");
        assert_eq!(e("--proto tcp"), "missing action (permit, deny or count)");
        assert_eq!(
            e("--proto tcp drop"),
            "unknown action drop (expected permit, deny or count)"
        );
        assert_eq!(e("deny --proto tcp"), "unexpected --proto after the action");
        assert_eq!(e("deny permit"), "unexpected permit after the action");
        assert_eq!(
            e("--src 198.18.0.0/16 --src 198.18.0.0/16 deny"),
            "--src given twice"
        );
        assert_eq!(e("--flags syn --flags syn deny"), "--flags given twice");
        assert_eq!(
            e("--proto icmp --dport 80 deny"),
            "port ranges need --proto tcp or udp (or no --proto), not icmp"
        );
        assert_eq!(
            e("--proto udp --flags syn deny"),
            "--flags syn needs --proto tcp (or no --proto), not udp"
        );
        assert_eq!(
            "sideways".parse::<Direction>().unwrap_err().to_string(),
            "bad direction sideways (expected in or out)"
        );
    }

    #[test]
    fn default_reader_permits_everything() {
        let r = FilterReader::default();
        let g = r.domain().pin();
        assert!(!r.is_active(P0, In, &g));
        assert_eq!(
            r.evaluate(P0, In, &udp_dgram(A, B, 1, 2), 0, &g),
            Verdict::DEFAULT
        );
        assert!(format!("{r:?}").contains("version: 0"));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Arbitrary bytes never make matching or evaluation panic.
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
                let mut t = FilterTable::new(1, 1);
                let syn = rule("--proto tcp --sport 1-9 --dport 80 --flags syn count");
                t.add(P0, In, None, syn).unwrap();
                t.add(P0, In, None, rule("--proto udp --dport 53 count")).unwrap();
                t.add(P0, In, None, rule("--src 198.18.0.0/15 --dst 198.18.0.0/15 count")).unwrap();
                let r = t.reader();
                let g = r.domain().pin();
                let v = r.evaluate(P0, In, &bytes, 0, &g);
                prop_assert!(v.permit);
            }
        }
    }
}
