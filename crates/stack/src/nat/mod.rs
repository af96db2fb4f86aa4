//! NAT44 per core: dynamic NAPT over a pool of public addresses, static 1:1 mappings and port
//! forwards (seed 000's Internet Connection Sharing, "a basic network address translator").
//!
//! # Sessions and mappings
//! A translated flow is a conntrack [`Session`](crate::conntrack::Session) whose `reply` tuple
//! carries the public address and port: a packet matching `orig` leaves as the reverse of
//! `reply`, a packet matching `reply` comes back as the reverse of `orig`. So one lookup finds
//! both the session and its translation, whatever kind of mapping made it.
//!
//! Dynamic NAPT keeps endpoint-independent mappings (RFC 4787 REQ-1): an inside (address,
//! port) keeps one public (address, port) for every destination while any of its sessions
//! lives. The public address is chosen by a hash of the inside address (paired pooling, REQ-2);
//! the inside port is kept when free (port preservation), else another is taken.
//! Inbound packets to a mapping are let in per [`Filtering`]: only from endpoints the inside
//! host sent to (address- and port-dependent, the default, REQ-8's most secure choice), or from
//! anyone (endpoint-independent).
//!
//! # One core per flow, without a shared table
//! Worker `w` of `n` allocates only public ports `p` with `p % n == w`, and inside flows are
//! handled by worker `inside port % n` (the runtime steers them there), so the inside port,
//! when preserved, already has the right residue. Return traffic's owner is then a pure
//! function of the public port it is sent to: no table is shared between cores, and port
//! preservation does not depend on which core a packet landed on.
//!
//! # Memory
//! The mapping tables hold at most [`NatConfig::max_mappings`] entries and are sized at start;
//! a full table refuses (`nat.drop_mappings_full`), never grows.

pub mod frags;
pub mod packet;

use core::net::Ipv4Addr;

use burst_port::map::HashMap;

use crate::conntrack::{Session, Tuple};

const ICMP: u8 = 1;

/// Which inbound packets reach an existing mapping (RFC 4787 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filtering {
    /// Only from the address and port the inside endpoint sent to (REQ-8 default).
    #[default]
    AddressAndPortDependent,
    /// From any address and port.
    EndpointIndependent,
}

/// A static 1:1 mapping: the inside host is reachable as `outside`, and leaves as it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticNat {
    /// The inside address.
    pub inside: Ipv4Addr,
    /// Its public address.
    pub outside: Ipv4Addr,
}

/// A port forward: `outside` (public address and port) reaches `inside` for one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortForward {
    /// TCP or UDP.
    pub proto: u8,
    /// Public address and port.
    pub outside: (Ipv4Addr, u16),
    /// Inside address and port.
    pub inside: (Ipv4Addr, u16),
}

/// NAT's settings (`[nat]`, `[[nat_static]]`, `[[port_forward]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatConfig {
    /// Public addresses of dynamic NAPT.
    pub pool: Vec<Ipv4Addr>,
    /// Public ports NAPT allocates (TCP and UDP; ICMP identifiers use every value).
    pub ports: (u16, u16),
    /// Ports never allocated on `own` addresses (the node's own ephemeral range there).
    pub reserved: Option<(u16, u16)>,
    /// Pool addresses that are also the node's own interface addresses.
    pub own: Vec<Ipv4Addr>,
    /// Inbound filtering of dynamic mappings.
    pub filtering: Filtering,
    /// Static 1:1 mappings.
    pub statics: Vec<StaticNat>,
    /// Port forwards.
    pub forwards: Vec<PortForward>,
    /// Inside hosts reach each other through their public addresses (RFC 4787 REQ-9).
    pub hairpinning: bool,
    /// Lower the MSS option of TCP SYNs through the NAT to this.
    pub mss_clamp: Option<u16>,
    /// Dynamic mappings per core.
    pub max_mappings: usize,
}

impl Default for NatConfig {
    fn default() -> Self {
        NatConfig {
            pool: Vec::new(),
            ports: (1024, 65535),
            reserved: None,
            own: Vec::new(),
            filtering: Filtering::default(),
            statics: Vec::new(),
            forwards: Vec::new(),
            hairpinning: true,
            mss_clamp: None,
            max_mappings: 65_536,
        }
    }
}

impl NatConfig {
    /// Every public address: the pool, the static mappings' and the port forwards'.
    pub fn public_addresses(&self) -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = self
            .pool
            .iter()
            .copied()
            .chain(self.statics.iter().map(|s| s.outside))
            .chain(self.forwards.iter().map(|f| f.outside.0))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Per-core NAT counters (`stats`, section `nat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatStats {
    /// Dynamic mappings now.
    pub mappings: u64,
    /// Sessions translated on the way out (created by inside traffic).
    pub sessions_out: u64,
    /// Sessions translated on the way in (port forwards, static, endpoint-independent).
    pub sessions_in: u64,
    /// Datagrams translated.
    pub translated: u64,
    /// Inside ports kept as the public port.
    pub port_preserved: u64,
    /// ICMP errors translated with the datagram they quote (RFC 5508).
    pub icmp_errors: u64,
    /// Datagrams hairpinned between two inside hosts.
    pub hairpinned: u64,
    /// TCP SYNs whose MSS was lowered.
    pub mss_clamped: u64,
    /// Later fragments translated as their first.
    pub fragments: u64,
    /// Later fragments held until their first came.
    pub fragments_held: u64,
    /// Dropped: no free public port for a new mapping.
    pub drop_no_port: u64,
    /// Dropped: the mapping table is full.
    pub drop_mappings_full: u64,
    /// Dropped: to a public address and port with no mapping (or filtered by it).
    pub drop_no_mapping: u64,
    /// Dropped: a protocol NAPT cannot translate (not TCP, UDP or ICMP query).
    pub drop_protocol: u64,
    /// Dropped: an ICMP error quoting no translated flow.
    pub drop_icmp_error: u64,
    /// Dropped: a later fragment whose first fragment never came (or did not pass).
    pub drop_fragment: u64,
    /// Dropped: a transport header cut short.
    pub drop_truncated: u64,
    /// Dropped: conntrack refused the session (full).
    pub drop_session: u64,
}

impl NatStats {
    /// Every counter with its name.
    pub fn named(&self) -> [(&'static str, u64); 18] {
        [
            ("mappings", self.mappings),
            ("sessions_out", self.sessions_out),
            ("sessions_in", self.sessions_in),
            ("translated", self.translated),
            ("port_preserved", self.port_preserved),
            ("icmp_errors", self.icmp_errors),
            ("hairpinned", self.hairpinned),
            ("mss_clamped", self.mss_clamped),
            ("fragments", self.fragments),
            ("fragments_held", self.fragments_held),
            ("drop_no_port", self.drop_no_port),
            ("drop_mappings_full", self.drop_mappings_full),
            ("drop_no_mapping", self.drop_no_mapping),
            ("drop_protocol", self.drop_protocol),
            ("drop_icmp_error", self.drop_icmp_error),
            ("drop_fragment", self.drop_fragment),
            ("drop_truncated", self.drop_truncated),
            ("drop_session", self.drop_session),
        ]
    }
}

/// Session marks NAT leaves in [`Session::marks`].
pub mod marks {
    /// The session holds a dynamic mapping keyed by its `orig` source (inside opened it).
    pub const DYN_ORIG: u8 = 0x01;
    /// The session holds a dynamic mapping keyed by its `reply` source (let in by
    /// endpoint-independent filtering).
    pub const DYN_REPLY: u8 = 0x02;
    /// A translated session (any kind).
    pub const NAT: u8 = 0x04;
    /// Opened from the public side.
    pub const INBOUND: u8 = 0x08;
}

/// Why NAT refused a new flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No public port left.
    NoPort,
    /// The mapping table is full.
    MappingsFull,
    /// The protocol has nothing NAPT can map (no ports, not an ICMP query).
    Protocol,
}

/// A dynamic mapping: inside (proto, address, port) → public (address, port).
#[derive(Debug, Clone, Copy)]
struct Mapping {
    public: (Ipv4Addr, u16),
    /// Sessions holding it.
    refs: u32,
}

type Key = (u8, Ipv4Addr, u16);

/// One core's NAT state.
#[derive(Debug)]
pub struct Nat {
    cfg: NatConfig,
    workers: u16,
    me: u16,
    by_inside: HashMap<Key, Mapping>,
    by_public: HashMap<Key, (Ipv4Addr, u16)>,
    static_by_inside: HashMap<Ipv4Addr, Ipv4Addr>,
    static_by_outside: HashMap<Ipv4Addr, Ipv4Addr>,
    fwd_by_inside: HashMap<Key, (Ipv4Addr, u16)>,
    fwd_by_outside: HashMap<Key, (Ipv4Addr, u16)>,
    public: Vec<Ipv4Addr>,
    rng: u64,
    /// Counters.
    pub stats: NatStats,
}

impl Nat {
    /// Worker `me` of `workers`' NAT (tables allocated now, for `cfg.max_mappings`).
    pub fn new(cfg: NatConfig, workers: usize, me: usize, seed: u64) -> Nat {
        let cap = cfg.max_mappings.max(1);
        Nat {
            by_inside: HashMap::with_capacity_and_hasher(cap, Default::default()),
            by_public: HashMap::with_capacity_and_hasher(cap, Default::default()),
            static_by_inside: cfg.statics.iter().map(|s| (s.inside, s.outside)).collect(),
            static_by_outside: cfg.statics.iter().map(|s| (s.outside, s.inside)).collect(),
            fwd_by_inside: cfg
                .forwards
                .iter()
                .map(|f| ((f.proto, f.inside.0, f.inside.1), f.outside))
                .collect(),
            fwd_by_outside: cfg
                .forwards
                .iter()
                .map(|f| ((f.proto, f.outside.0, f.outside.1), f.inside))
                .collect(),
            public: cfg.public_addresses(),
            workers: workers.clamp(1, usize::from(u16::MAX)) as u16,
            me: me as u16,
            rng: seed | 1,
            cfg,
            stats: NatStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &NatConfig {
        &self.cfg
    }

    /// Whether `a` is one of NAT's public addresses.
    #[inline]
    pub fn is_public(&self, a: Ipv4Addr) -> bool {
        self.public.binary_search(&a).is_ok()
    }

    /// Whether `a` is an inside address with a static 1:1 mapping.
    #[inline]
    pub fn is_static_inside(&self, a: Ipv4Addr) -> bool {
        !self.static_by_inside.is_empty() && self.static_by_inside.contains_key(&a)
    }

    /// Whether a new flow `t` to a public address reaches an inside host without a session: a
    /// port forward, a static mapping, or (endpoint-independent filtering) a dynamic mapping.
    pub fn maps_public(&self, t: &Tuple) -> bool {
        self.fwd_by_outside.contains_key(&(t.proto, t.dst, t.dport))
            || self.static_by_outside.contains_key(&t.dst)
            || (self.cfg.filtering == Filtering::EndpointIndependent
                && t.proto != ICMP
                && self.by_public.contains_key(&(t.proto, t.dst, t.dport)))
    }

    /// Whether anything (a session's mapping included) sits behind public address and port
    /// `t.dst:t.dport` (hairpinning turns such datagrams around).
    pub fn has_mapping(&self, t: &Tuple) -> bool {
        self.by_public.contains_key(&(t.proto, t.dst, t.dport))
            || self.fwd_by_outside.contains_key(&(t.proto, t.dst, t.dport))
            || self.static_by_outside.contains_key(&t.dst)
    }

    /// The public port an inside flow `t` leaves with, as far as it decides the owning core: a
    /// port forward's public port, else the inside port (kept, or mapped within its residue).
    pub fn public_port(&self, t: &Tuple) -> u16 {
        match self.fwd_by_inside.get(&(t.proto, t.src, t.sport)) {
            Some(&(_, p)) => p,
            None => t.sport,
        }
    }

    /// The worker that owns a dynamic flow by its (inside or public) port: `port % workers`.
    #[inline]
    pub fn owner_of_port(&self, port: u16) -> usize {
        usize::from(port % self.workers)
    }

    /// The public tuple for a new flow `t` from the inside (the session's `reply` tuple) and
    /// the marks its session carries: a static mapping, a port forward's reverse, or a
    /// dynamic mapping (created, or shared with the inside endpoint's other sessions).
    pub fn outbound(&mut self, t: &Tuple) -> Result<(Tuple, u8), Refused> {
        let reply_to = |src: Ipv4Addr, port: u16| Tuple {
            src: t.dst,
            dst: src,
            sport: if t.proto == ICMP { port } else { t.dport },
            dport: port,
            proto: t.proto,
            zone: t.zone,
        };
        if let Some(&out) = self.static_by_inside.get(&t.src) {
            return Ok((reply_to(out, t.sport), marks::NAT));
        }
        if let Some(&(ip, port)) = self.fwd_by_inside.get(&(t.proto, t.src, t.sport)) {
            return Ok((reply_to(ip, port), marks::NAT));
        }
        if !matches!(t.proto, 1 | 6 | 17) {
            return Err(Refused::Protocol);
        }
        let key = (t.proto, t.src, t.sport);
        if let Some(m) = self.by_inside.get_mut(&key) {
            m.refs += 1;
            let (ip, port) = m.public;
            return Ok((reply_to(ip, port), marks::NAT | marks::DYN_ORIG));
        }
        if self.by_inside.len() >= self.cfg.max_mappings.max(1) {
            self.stats.drop_mappings_full += 1;
            return Err(Refused::MappingsFull);
        }
        let Some((ip, port)) = self.allocate(t.proto, t.src, t.sport) else {
            self.stats.drop_no_port += 1;
            return Err(Refused::NoPort);
        };
        if port == t.sport {
            self.stats.port_preserved += 1;
        }
        self.by_inside.insert(
            key,
            Mapping {
                public: (ip, port),
                refs: 1,
            },
        );
        self.by_public.insert((t.proto, ip, port), (t.src, t.sport));
        self.stats.mappings = self.by_inside.len() as u64;
        Ok((reply_to(ip, port), marks::NAT | marks::DYN_ORIG))
    }

    /// For a new flow `t` from outside to a public address: the inside tuple its answers will
    /// carry (the session's `reply`) and the marks, when a port forward, a static mapping or
    /// (endpoint-independent filtering) a dynamic mapping lets it in; `None` when NAT has no
    /// entry for it.
    pub fn inbound(&mut self, t: &Tuple) -> Option<(Tuple, u8)> {
        let reply_from = |ip: Ipv4Addr, port: u16| Tuple {
            src: ip,
            dst: t.src,
            sport: port,
            dport: if t.proto == ICMP { port } else { t.sport },
            proto: t.proto,
            zone: t.zone,
        };
        if let Some(&(ip, port)) = self.fwd_by_outside.get(&(t.proto, t.dst, t.dport)) {
            return Some((reply_from(ip, port), marks::NAT | marks::INBOUND));
        }
        if let Some(&inside) = self.static_by_outside.get(&t.dst) {
            return Some((reply_from(inside, t.dport), marks::NAT | marks::INBOUND));
        }
        if self.cfg.filtering == Filtering::EndpointIndependent && t.proto != ICMP {
            let &(ip, port) = self.by_public.get(&(t.proto, t.dst, t.dport))?;
            if let Some(m) = self.by_inside.get_mut(&(t.proto, ip, port)) {
                m.refs += 1;
                return Some((
                    reply_from(ip, port),
                    marks::NAT | marks::INBOUND | marks::DYN_REPLY,
                ));
            }
        }
        None
    }

    /// A session that held a dynamic mapping is gone: the mapping goes with its last session.
    pub fn release(&mut self, s: &Session) {
        let (proto, ip, port) = if s.marks & marks::DYN_ORIG != 0 {
            (s.orig.proto, s.orig.src, s.orig.sport)
        } else if s.marks & marks::DYN_REPLY != 0 {
            (s.reply.proto, s.reply.src, s.reply.sport)
        } else {
            return;
        };
        let key = (proto, ip, port);
        let Some(m) = self.by_inside.get_mut(&key) else {
            return;
        };
        m.refs = m.refs.saturating_sub(1);
        if m.refs == 0 {
            let public = m.public;
            self.by_inside.remove(&key);
            self.by_public.remove(&(proto, public.0, public.1));
            self.stats.mappings = self.by_inside.len() as u64;
        }
    }

    /// Every dynamic mapping: (protocol, inside, public, sessions).
    pub fn mappings(
        &self,
    ) -> impl Iterator<Item = (u8, (Ipv4Addr, u16), (Ipv4Addr, u16), u32)> + '_ {
        self.by_inside
            .iter()
            .map(|(&(p, ip, port), m)| (p, (ip, port), m.public, m.refs))
    }

    /// Public ports in use per pool address (for `ctl nat`): (address, mappings).
    pub fn pool_usage(&self) -> impl Iterator<Item = (Ipv4Addr, usize)> + '_ {
        self.cfg
            .pool
            .iter()
            .map(|&a| (a, self.by_public.keys().filter(|k| k.1 == a).count()))
    }

    /// A free public (address, port) for inside endpoint (`proto`, `ip`, `port`): the pool
    /// address paired with `ip`, the inside port when free and ours, else a random one of
    /// ours.
    fn allocate(&mut self, proto: u8, ip: Ipv4Addr, port: u16) -> Option<(Ipv4Addr, u16)> {
        if self.cfg.pool.is_empty() {
            return None;
        }
        // Paired pooling: one inside address, one public address (a stable hash, the same on
        // every core).
        let h = (u64::from(ip.to_bits())).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
        let addr = self.cfg.pool[h as usize % self.cfg.pool.len()];
        let own = self.cfg.own.contains(&addr);
        let (lo, hi) = if proto == ICMP {
            (1, u16::MAX)
        } else {
            self.cfg.ports
        };
        let w = self.workers;
        let usable = |p: u16| {
            (lo..=hi).contains(&p)
                && p % w == self.me
                && !(own
                    && proto != ICMP
                    && self.cfg.reserved.is_some_and(|(a, b)| (a..=b).contains(&p)))
        };
        if usable(port) && !self.by_public.contains_key(&(proto, addr, port)) {
            return Some((addr, port));
        }
        // Ports of this core's residue class in [lo, hi]: lo' + k * w.
        let first = lo + (self.me + w - lo % w) % w;
        if first > hi {
            return None;
        }
        let count = u32::from(hi - first) / u32::from(w) + 1;
        // A bounded number of random candidates (a reserved block inside the range cannot
        // swallow a run of them): a nearly exhausted pool refuses rather than scanning the
        // whole range on the packet path.
        for _ in 0..count.min(512) {
            self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let i = (mix(self.rng) % u64::from(count)) as u32;
            let p = first + (i * u32::from(w)) as u16;
            if usable(p) && !self.by_public.contains_key(&(proto, addr, p)) {
                return Some((addr, p));
            }
        }
        None
    }
}

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::{Conntrack, ConntrackConfig};
    use burst_port::Nanos;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
    const A2: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 2);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);
    const C: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 2);
    const P: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 254);

    fn udp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Tuple {
        Tuple {
            src,
            dst,
            sport,
            dport,
            proto: 17,
            zone: 0,
        }
    }

    fn nat(cfg: NatConfig) -> Nat {
        Nat::new(cfg, 1, 0, 1)
    }

    fn pool() -> NatConfig {
        NatConfig {
            pool: vec![P],
            ..Default::default()
        }
    }

    #[test]
    fn a_mapping_is_endpoint_independent_and_preserves_the_port() {
        let mut n = nat(pool());
        let (r1, m) = n.outbound(&udp(A, 5000, B, 53)).unwrap();
        assert_eq!(r1, udp(B, 53, P, 5000));
        assert_eq!(m, marks::NAT | marks::DYN_ORIG);
        let (r2, _) = n.outbound(&udp(A, 5000, C, 53)).unwrap();
        assert_eq!(
            r2,
            udp(C, 53, P, 5000),
            "same mapping to a second destination"
        );
        // Another inside host with the same port gets another public port.
        let (r3, _) = n.outbound(&udp(A2, 5000, B, 53)).unwrap();
        assert_ne!(r3.dport, 5000);
        assert_eq!(n.stats.port_preserved, 1);
        assert_eq!(n.stats.mappings, 2);
    }

    #[test]
    fn the_mapping_goes_with_its_last_session() {
        let mut n = nat(pool());
        let mut ct = Conntrack::new(ConntrackConfig::default(), 1);
        let mut ids = Vec::new();
        for dst in [B, C] {
            let o = udp(A, 5000, dst, 53);
            let (r, m) = n.outbound(&o).unwrap();
            let id = ct.insert(o, r, 0, Nanos::ZERO, &mut |_| {}).unwrap();
            ct.get_mut(id).marks = m;
            ids.push(id);
        }
        let s = ct.remove(ids[0]);
        n.release(&s);
        assert_eq!(n.stats.mappings, 1);
        let s = ct.remove(ids[1]);
        n.release(&s);
        assert_eq!(n.stats.mappings, 0);
    }

    #[test]
    fn filtering_decides_who_reaches_a_mapping() {
        let mut apdf = nat(pool());
        apdf.outbound(&udp(A, 5000, B, 53)).unwrap();
        assert_eq!(apdf.inbound(&udp(C, 9, P, 5000)), None);
        let mut eif = nat(NatConfig {
            filtering: Filtering::EndpointIndependent,
            ..pool()
        });
        eif.outbound(&udp(A, 5000, B, 53)).unwrap();
        let (reply, m) = eif.inbound(&udp(C, 9, P, 5000)).unwrap();
        assert_eq!(reply, udp(A, 5000, C, 9));
        assert_eq!(m & marks::DYN_REPLY, marks::DYN_REPLY);
        assert_eq!(eif.inbound(&udp(C, 9, P, 5001)), None);
    }

    #[test]
    fn static_mappings_and_port_forwards() {
        let s = Ipv4Addr::new(198, 18, 2, 50);
        let mut n = nat(NatConfig {
            statics: vec![StaticNat {
                inside: A2,
                outside: s,
            }],
            forwards: vec![PortForward {
                proto: 6,
                outside: (P, 8080),
                inside: (A, 80),
            }],
            ..pool()
        });
        assert!(n.is_public(s) && n.is_public(P) && !n.is_public(A));
        let (r, _) = n.outbound(&udp(A2, 777, B, 53)).unwrap();
        assert_eq!(r, udp(B, 53, s, 777));
        let (r, _) = n.inbound(&udp(B, 53, s, 777)).unwrap();
        assert_eq!(r, udp(A2, 777, B, 53));
        let t = Tuple {
            proto: 6,
            ..udp(B, 40000, P, 8080)
        };
        let (r, _) = n.inbound(&t).unwrap();
        assert_eq!(
            r,
            Tuple {
                proto: 6,
                ..udp(A, 80, B, 40000)
            }
        );
    }

    #[test]
    fn each_core_takes_ports_of_its_own_residue_and_skips_reserved_ones() {
        let mut n = Nat::new(
            NatConfig {
                own: vec![P],
                reserved: Some((49152, 65535)),
                ..pool()
            },
            4,
            3,
            9,
        );
        // 5003 % 4 == 3: preserved. 50003 is reserved on our own address: another port.
        assert_eq!(n.outbound(&udp(A, 5003, B, 1)).unwrap().0.dport, 5003);
        let p = n.outbound(&udp(A, 50003, B, 1)).unwrap().0.dport;
        assert_eq!(p % 4, 3);
        assert!(p < 49152);
        for i in 0..100 {
            let p = n.outbound(&udp(A2, 7 + i * 4, B, 1)).unwrap().0.dport;
            assert_eq!(n.owner_of_port(p), 3);
        }
    }

    #[test]
    fn an_exhausted_pool_and_a_full_table_refuse() {
        let mut n = nat(NatConfig {
            ports: (2000, 2001),
            ..pool()
        });
        n.outbound(&udp(A, 2000, B, 1)).unwrap();
        n.outbound(&udp(A2, 2000, B, 1)).unwrap();
        assert_eq!(n.outbound(&udp(B, 2000, C, 1)), Err(Refused::NoPort));
        assert_eq!(n.stats.drop_no_port, 1);
        let mut n = nat(NatConfig {
            max_mappings: 1,
            ..pool()
        });
        n.outbound(&udp(A, 1, B, 1)).unwrap();
        assert_eq!(n.outbound(&udp(A, 2, B, 1)), Err(Refused::MappingsFull));
        let gre = Tuple {
            proto: 47,
            ..udp(A, 0, B, 0)
        };
        assert_eq!(n.outbound(&gre), Err(Refused::Protocol));
    }
}
