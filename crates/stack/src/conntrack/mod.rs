//! Connection tracking, one table per core: the sessions the stateful firewall and NAT keep
//! (seed 000's firewall-hook: "dynamic exceptions created by outgoing traffic", the NAT
//! translation table).
//!
//! # Keys
//! A session is found by either of its two [`Tuple`]s: `orig`, as the first packet travelled,
//! and `reply`, as the answer travels (for NAT the translated addresses and ports, so the
//! answer is found on the public side by what it carries). TCP and UDP tuples hold the ports;
//! an ICMP query (echo, timestamp, information, address mask) holds its identifier in both
//! port fields; any other protocol holds zeros. `zone` separates address spaces that overlap
//! (one table for several of them); burst uses zone 0 everywhere today.
//!
//! # Memory and time
//! Everything is allocated in [`Conntrack::new`] from [`ConntrackConfig::max_sessions`]:
//! the session slab and an open-addressing index of twice as many slots as keys (linear
//! probing, deletion by backward shift, so no tombstones). Nothing allocates afterwards.
//!
//! Each session sits in the list of its timeout class (TCP established, TCP transitory, TCP
//! closed, UDP, ICMP); a packet moves it to the tail, so each list is ordered by expiry and
//! [`Conntrack::expire`] only looks at list heads, with a bound on the work per call. A full
//! table first reuses the oldest expired session (aging may lag by a few polls), then refuses
//! (`conntrack.drop_full`): established sessions keep working, new ones wait.
//!
//! # TCP
//! A small state machine (after grout's and Linux's, without window tracking): SYN from the
//! originator opens (`SYN_SENT`), SYN-ACK from the responder (`SYN_RECV`), the originator's ACK
//! establishes; FIN from each side (`FIN_WAIT`, `CLOSING`), the last ACK after both FINs
//! (`TIME_WAIT`); RST closes from any state (`CLOSE`, short timeout). A SYN on a `TIME_WAIT` or
//! `CLOSE` session reopens it (the 4-tuple reused). Established sessions time out after
//! `tcp_established` (RFC 5382 REQ-5: at least 2 h 4 min), every other state after
//! `tcp_transitory` (RFC 5382: 4 min), except `CLOSE`.

use core::fmt;
use core::net::Ipv4Addr;

mod index;
mod tcp;
mod tuple;

use index::Slot;
pub use index::STAGED_NONE;
use tcp::tcp_step;
pub use tcp::{flags, TcpState};
use tuple::mix;
pub use tuple::Tuple;

use crate::bigmem::BigSlice;
use burst_port::Nanos;

/// Protocol numbers the table gives a meaning to.
const TCP: u8 = 6;
const ICMP: u8 = 1;
#[cfg(test)]
const UDP: u8 = 17;

/// Which way a packet travels relative to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// As the first packet did (matched `orig`).
    Orig,
    /// The answer (matched `reply`).
    Reply,
}

/// The timeout classes, one LRU list each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    TcpEstablished = 0,
    TcpTransitory = 1,
    TcpClosed = 2,
    Udp = 3,
    Icmp = 4,
}
const CLASSES: usize = 5;

/// Per-class timeouts and the table's size (`[conntrack]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConntrackConfig {
    /// Sessions per core (the table never grows).
    pub max_sessions: usize,
    /// TCP established (RFC 5382 REQ-5: ≥ 2 h 4 min), 7440 s.
    pub tcp_established: Nanos,
    /// TCP opening and closing states (RFC 5382: 4 min), 240 s.
    pub tcp_transitory: Nanos,
    /// TCP after a reset, 10 s.
    pub tcp_closed: Nanos,
    /// UDP and other protocols (RFC 4787 REQ-5: ≥ 2 min, 5 min recommended), 300 s.
    pub udp: Nanos,
    /// ICMP queries, 60 s.
    pub icmp: Nanos,
    /// Most sessions one [`Conntrack::expire`] call removes.
    pub expire_budget: usize,
}

impl Default for ConntrackConfig {
    fn default() -> Self {
        ConntrackConfig {
            max_sessions: 65_536,
            tcp_established: Nanos::from_secs(7440),
            tcp_transitory: Nanos::from_secs(240),
            tcp_closed: Nanos::from_secs(10),
            udp: Nanos::from_secs(300),
            icmp: Nanos::from_secs(60),
            expire_budget: 64,
        }
    }
}

impl ConntrackConfig {
    fn timeout(&self, c: Class) -> Nanos {
        match c {
            Class::TcpEstablished => self.tcp_established,
            Class::TcpTransitory => self.tcp_transitory,
            Class::TcpClosed => self.tcp_closed,
            Class::Udp => self.udp,
            Class::Icmp => self.icmp,
        }
    }
}

/// Per-core conntrack counters (`stats`, section `conntrack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConntrackStats {
    /// Sessions in the table now.
    pub sessions: u64,
    /// Sessions created.
    pub created: u64,
    /// Sessions removed by their timeout.
    pub expired: u64,
    /// Expired sessions reused by a new one before aging reached them.
    pub reused: u64,
    /// New sessions refused: the table was full of live sessions.
    pub drop_full: u64,
    /// Sessions removed by `ctl conntrack flush`.
    pub flushed: u64,
}

impl ConntrackStats {
    /// Every counter with its name.
    pub fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("sessions", self.sessions),
            ("created", self.created),
            ("expired", self.expired),
            ("reused", self.reused),
            ("drop_full", self.drop_full),
            ("flushed", self.flushed),
        ]
    }
}

/// Index of a session in its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub u32);

const NONE: u32 = u32::MAX;

/// One tracked flow: what a packet of it reads and writes, in one cache line (what only the
/// aging lists and `ctl conntrack` need is kept beside it, see [`Conntrack`]).
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
pub struct Session {
    /// The first packet's tuple.
    pub orig: Tuple,
    /// The answer's tuple (translated addresses and ports for NAT).
    pub reply: Tuple,
    /// When it expires unless a packet refreshes it.
    pub expires: Nanos,
    /// Packets seen (both directions).
    pub packets: u64,
    /// The owner's flags (NAT kind, which side opened it).
    pub marks: u8,
    tcp: TcpState,
    /// FIN seen from the originator (bit 0) and the responder (bit 1).
    fins: u8,
    /// A packet seen in the reply direction.
    replied: bool,
    class: Class,
    live: bool,
    /// When it last moved to its list's tail (see [`requeue_after`]).
    linked: Nanos,
    /// The checksum differences of the `orig` direction's translation (into `reply`
    /// reversed), IPv4 header and transport, from `nat::packet::flow_deltas`: the fast path's
    /// rewrite reads them instead of recomputing them per frame (see [`Session::deltas`]).
    deltas: [u16; 2],
}

// The packet path reads one line per session.
const _: () = assert!(core::mem::size_of::<Session>() == 64);

/// A session's place in its aging list (or the free list) and its creation time: what the
/// packet path does not read.
#[derive(Debug, Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
    created: Nanos,
}

impl Session {
    const EMPTY: Session = Session {
        orig: Tuple {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            sport: 0,
            dport: 0,
            proto: 0,
            zone: 0,
        },
        reply: Tuple {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            sport: 0,
            dport: 0,
            proto: 0,
            zone: 0,
        },
        expires: Nanos::ZERO,
        packets: 0,
        marks: 0,
        tcp: TcpState::Close,
        fins: 0,
        replied: false,
        class: Class::Udp,
        live: false,
        linked: Nanos::ZERO,
        deltas: [0; 2],
    };

    /// A detached session carrying `marks` (to give back what a refused insert had taken, e.g.
    /// a NAT mapping).
    pub fn marked(orig: Tuple, reply: Tuple, marks: u8) -> Session {
        Session {
            orig,
            reply,
            marks,
            ..Session::EMPTY
        }
    }

    /// The checksum differences (IPv4 header, transport) of the translation of a TCP/UDP
    /// packet going `dir`: from its tuple into the other direction's reversed
    /// (`nat::packet::rewrite_flow_with`).
    #[inline]
    pub fn deltas(&self, dir: Dir) -> [u16; 2] {
        match dir {
            Dir::Orig => self.deltas,
            Dir::Reply => crate::nat::packet::reverse_deltas(self.deltas),
        }
    }

    /// The TCP state (TCP sessions only).
    pub fn tcp_state(&self) -> Option<TcpState> {
        (self.orig.proto == TCP).then_some(self.tcp)
    }

    /// Whether a packet was seen in the reply direction (Linux's `[ASSURED]`-ish `replied`).
    pub fn replied(&self) -> bool {
        self.replied
    }

    /// The state as `ctl conntrack` shows it: the TCP state, else `REPLIED`/`UNREPLIED`.
    pub fn state_name(&self) -> &'static str {
        match self.tcp_state() {
            Some(s) => s.name(),
            None if self.replied => "REPLIED",
            None => "UNREPLIED",
        }
    }
}

/// What [`Conntrack::track`] made of a packet of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracked {
    /// It belongs to the session (state and timer updated).
    Ok,
    /// A TCP segment the state machine does not accept from that side in that state (a
    /// SYN-ACK from the originator, a new SYN on an established session): the caller drops
    /// it (`fw.drop_invalid`).
    Invalid,
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// Why a session could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertError {
    /// Every session is live (counted in `drop_full`).
    Full,
    /// A session with one of these tuples exists already.
    Exists,
}

/// One core's connection tracking table.
pub struct Conntrack {
    cfg: ConntrackConfig,
    sessions: BigSlice<Session>,
    links: BigSlice<Links>,
    index: BigSlice<Slot>,
    mask: usize,
    free: u32,
    lists: [List; CLASSES],
    seed: u64,
    /// Sessions still to remove for a flush asked for (worked off with the expiry budget).
    flushing: usize,
    /// Counters.
    pub stats: ConntrackStats,
}

impl fmt::Debug for Conntrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conntrack")
            .field("sessions", &self.stats.sessions)
            .field("max", &self.cfg.max_sessions)
            .finish()
    }
}

impl Conntrack {
    /// A table of `cfg.max_sessions` sessions (allocated now, never grown), keyed with `seed`.
    pub fn new(cfg: ConntrackConfig, seed: u64) -> Conntrack {
        let n = cfg.max_sessions.clamp(1, (u32::MAX / 4) as usize);
        // Two keys per session, at most half full.
        let slots = (4 * n).next_power_of_two();
        let sessions = BigSlice::filled(n, Session::EMPTY);
        let links = BigSlice::from_fn(n, |i| Links {
            prev: NONE,
            next: if i + 1 < n { i as u32 + 1 } else { NONE },
            created: Nanos::ZERO,
        });
        Conntrack {
            cfg: ConntrackConfig {
                max_sessions: n,
                ..cfg
            },
            sessions,
            links,
            index: BigSlice::filled(slots, Slot::default()),
            mask: slots - 1,
            free: 0,
            lists: [List {
                head: NONE,
                tail: NONE,
            }; CLASSES],
            seed: mix(seed | 1),
            flushing: 0,
            stats: ConntrackStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ConntrackConfig {
        &self.cfg
    }

    /// Sessions in the table.
    pub fn len(&self) -> usize {
        self.stats.sessions as usize
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.stats.sessions == 0
    }

    /// The session with this id.
    #[inline]
    pub fn get(&self, id: SessionId) -> &Session {
        &self.sessions[id.0 as usize]
    }

    /// When session `id` was created.
    #[inline]
    pub fn created(&self, id: SessionId) -> Nanos {
        self.links[id.0 as usize].created
    }

    /// The session with this id, for its owner's fields (`marks`).
    #[inline]
    pub fn get_mut(&mut self, id: SessionId) -> &mut Session {
        &mut self.sessions[id.0 as usize]
    }

    /// The session `t` belongs to, and which way `t` goes.
    #[inline]
    pub fn lookup(&self, t: &Tuple) -> Option<(SessionId, Dir)> {
        self.lookup_hashed(t, self.hash_of(t))
    }

    /// Creates a session for a first packet with tuple `orig` whose answer will carry `reply`
    /// (TCP: with control bits `tcp_flags`). A full table reuses its oldest expired session
    /// (`evicted` sees it first), else refuses.
    pub fn insert(
        &mut self,
        orig: Tuple,
        reply: Tuple,
        tcp_flags: u8,
        now: Nanos,
        evicted: &mut impl FnMut(&Session),
    ) -> Result<SessionId, InsertError> {
        if self.lookup(&orig).is_some() || self.lookup(&reply).is_some() {
            return Err(InsertError::Exists);
        }
        if self.free == NONE && !self.reuse_expired(now, evicted) {
            self.stats.drop_full += 1;
            return Err(InsertError::Full);
        }
        let id = self.free;
        self.free = self.links[id as usize].next;
        let (tcp, class) = if orig.proto == TCP {
            if tcp_flags & (flags::SYN | flags::ACK) == flags::SYN {
                (TcpState::SynSent, Class::TcpTransitory)
            } else {
                // Picked up mid-stream (a session that expired while idle, or a restart).
                (TcpState::Established, Class::TcpEstablished)
            }
        } else if orig.proto == ICMP {
            (TcpState::Close, Class::Icmp)
        } else {
            (TcpState::Close, Class::Udp)
        };
        self.sessions[id as usize] = Session {
            orig,
            reply,
            linked: now,
            expires: now + self.cfg.timeout(class),
            packets: 1,
            tcp,
            class,
            live: true,
            deltas: crate::nat::packet::flow_deltas(&orig, &reply.reverse()),
            ..Session::EMPTY
        };
        self.links[id as usize].created = now;
        self.link_tail(id, class);
        self.index_insert(&orig, id << 1);
        self.index_insert(&reply, (id << 1) | 1);
        self.stats.sessions += 1;
        self.stats.created += 1;
        Ok(SessionId(id))
    }

    /// A packet of session `id` going `dir` (TCP: with control bits `tcp_flags`): the state
    /// machine, the timer, the session's place in its list (always inlined, as
    /// [`lookup_hashed`](Self::lookup_hashed); its uncommon part is a call).
    #[inline(always)]
    pub fn track(&mut self, id: SessionId, dir: Dir, tcp_flags: u8, now: Nanos) -> Tracked {
        let i = id.0 as usize;
        let s = &mut self.sessions[i];
        s.packets += 1;
        if dir == Dir::Reply {
            s.replied = true;
        }
        // The common case, an established connection's segment without SYN, FIN or RST (or a
        // UDP or ICMP datagram): no state moves, only the timer (what `tcp_step` would do,
        // without its branches).
        let plain = if s.orig.proto == TCP {
            s.tcp == TcpState::Established
                && tcp_flags & (flags::SYN | flags::FIN | flags::RST) == 0
        } else {
            true
        };
        if plain {
            let timeout = self.cfg.timeout(s.class);
            s.expires = now + timeout;
            if now.saturating_sub(s.linked) >= requeue_after(timeout) {
                s.linked = now;
                self.move_to_tail(id.0);
            }
            return Tracked::Ok;
        }
        self.track_step(id, dir, tcp_flags, now)
    }

    /// [`track`](Self::track) of a segment that may move the TCP state (counters done).
    fn track_step(&mut self, id: SessionId, dir: Dir, tcp_flags: u8, now: Nanos) -> Tracked {
        let i = id.0 as usize;
        let s = &mut self.sessions[i];
        let class = if s.orig.proto == TCP {
            match tcp_step(s, dir, tcp_flags) {
                Some(c) => c,
                None => return Tracked::Invalid,
            }
        } else {
            s.class
        };
        let timeout = self.cfg.timeout(class);
        let expires = now + timeout;
        if class != s.class {
            self.unlink(id.0);
            self.link_tail(id.0, class);
            self.sessions[i].linked = now;
        } else if now.saturating_sub(s.linked) >= requeue_after(timeout) {
            s.linked = now;
            self.move_to_tail(id.0);
        }
        self.sessions[i].expires = expires;
        Tracked::Ok
    }

    /// Removes session `id`; returns it.
    pub fn remove(&mut self, id: SessionId) -> Session {
        let s = self.sessions[id.0 as usize];
        debug_assert!(s.live);
        self.unlink(id.0);
        self.index_remove(&s.orig);
        self.index_remove(&s.reply);
        self.sessions[id.0 as usize].live = false;
        self.links[id.0 as usize].next = self.free;
        self.free = id.0;
        self.stats.sessions -= 1;
        s
    }

    /// Removes sessions that expired by `now` (at most the configured budget, oldest first,
    /// and as much again of a pending flush); `removed` sees each. Returns how many went.
    pub fn expire(&mut self, now: Nanos, removed: &mut impl FnMut(&Session)) -> usize {
        let mut n = 0;
        for c in 0..CLASSES {
            while n < self.cfg.expire_budget {
                let h = self.lists[c].head;
                if h == NONE || self.sessions[h as usize].expires > now {
                    break;
                }
                let s = self.remove(SessionId(h));
                self.stats.expired += 1;
                removed(&s);
                n += 1;
            }
        }
        let mut f = 0;
        while self.flushing > 0 && f < self.cfg.expire_budget {
            let Some(c) = (0..CLASSES).find(|&c| self.lists[c].head != NONE) else {
                self.flushing = 0;
                break;
            };
            let s = self.remove(SessionId(self.lists[c].head));
            self.stats.flushed += 1;
            removed(&s);
            self.flushing -= 1;
            f += 1;
        }
        n + f
    }

    /// Asks for every session present now to go (`ctl conntrack flush`), a budget's worth per
    /// [`expire`](Self::expire) call so a large table does not stall the core.
    pub fn flush(&mut self) {
        self.flushing = self.len();
    }

    /// Whether a flush is still being worked off.
    pub fn flushing(&self) -> bool {
        self.flushing > 0
    }

    /// When the next session expires (the earliest list head).
    pub fn next_expiry(&self) -> Option<Nanos> {
        self.lists
            .iter()
            .filter(|l| l.head != NONE)
            .map(|l| self.sessions[l.head as usize].expires)
            .min()
    }

    /// Every live session, oldest expiry first within each class.
    pub fn iter(&self) -> impl Iterator<Item = (SessionId, &Session)> + '_ {
        self.lists.iter().flat_map(move |l| {
            let mut at = l.head;
            core::iter::from_fn(move || {
                if at == NONE {
                    return None;
                }
                let id = at;
                at = self.links[id as usize].next;
                Some((SessionId(id), &self.sessions[id as usize]))
            })
        })
    }

    /// Frees the oldest expired session for a new one.
    fn reuse_expired(&mut self, now: Nanos, evicted: &mut impl FnMut(&Session)) -> bool {
        let oldest = self
            .lists
            .iter()
            .filter(|l| l.head != NONE)
            .map(|l| l.head)
            .filter(|&h| self.sessions[h as usize].expires <= now)
            .min_by_key(|&h| self.sessions[h as usize].expires);
        let Some(h) = oldest else {
            return false;
        };
        let s = self.remove(SessionId(h));
        self.stats.reused += 1;
        evicted(&s);
        true
    }

    fn link_tail(&mut self, id: u32, class: Class) {
        let l = &mut self.lists[class as usize];
        let tail = l.tail;
        self.sessions[id as usize].class = class;
        self.links[id as usize].prev = tail;
        self.links[id as usize].next = NONE;
        if tail == NONE {
            l.head = id;
        } else {
            self.links[tail as usize].next = id;
        }
        l.tail = id;
    }

    fn unlink(&mut self, id: u32) {
        let Links { prev, next, .. } = self.links[id as usize];
        let class = self.sessions[id as usize].class as usize;
        if prev == NONE {
            self.lists[class].head = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next == NONE {
            self.lists[class].tail = prev;
        } else {
            self.links[next as usize].prev = prev;
        }
    }

    #[inline]
    fn move_to_tail(&mut self, id: u32) {
        let class = self.sessions[id as usize].class;
        if self.lists[class as usize].tail != id {
            self.unlink(id);
            self.link_tail(id, class);
        }
    }
}

/// How long after its last move to the tail a refreshed session moves again. Moving on every
/// packet keeps each list in exact expiry order but touches the two neighbours of the session
/// in the list (two cache misses a packet in a large table); moving at most once per 1/64 of
/// the timeout keeps the list ordered by the time of the last move, so a session's expiry is
/// at most that much later than the list order says, and aging reaches an expired session at
/// most that late (RFC 5382's 2 h 4 min: 116 s; UDP's 5 min: 4.7 s). Nothing is removed
/// early: expiry reads the session's own deadline.
#[inline]
fn requeue_after(timeout: Nanos) -> Nanos {
    Nanos(timeout.0 >> 6)
}

#[cfg(test)]
mod tests;
