//! Filter rules: match fields, actions, the text form, and evaluation against a packet's headers.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

use burst_wire::ipv4::{Cidr, CidrError, Protocol};
use burst_wire::tcp::Flags;

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

    pub(super) const fn index(self) -> usize {
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
pub(super) struct ProtoName(u8);

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
    pub(super) fn matches_headers(&self, h: &Headers) -> bool {
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
pub(super) struct Headers {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    /// Ports and flags: a first fragment of TCP or UDP with its whole header present.
    l4: Option<L4>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct L4 {
    sport: u16,
    dport: u16,
    /// TCP control bits (0 for UDP).
    flags: u16,
}

impl Headers {
    #[inline]
    pub(super) fn read(ip: &[u8]) -> Option<Headers> {
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
