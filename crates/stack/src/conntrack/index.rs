//! The table's index: one 64-byte [`Entry`] per session direction, open addressing by the
//! key's hash (linear probing, deletion by backward shift, so no tombstones).
//!
//! An entry holds what a packet of an established flow needs, so such a packet reads and
//! writes one line: its key (compared in place, no session line needed to confirm a hit), the
//! translation it leaves with and its checksum differences, the owner's marks, and a timer
//! checked lazily: the time of the direction's last packet and its packet count. The session
//! line (state machine, aging lists, exact expiry) is visited by such a packet at most once per
//! 1/64 of the timeout ([`Entry::due`]), so the session's stored expiry trails the entries'
//! by less than that; aging and the listing read both (`Conntrack::expires`).

use super::*;

/// One direction of a session in the index (see the module doc).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub struct Entry {
    /// The key a packet going this way carries.
    key: Tuple,
    /// What it leaves with: the other direction's tuple reversed (address and ports; the
    /// protocol and zone are the key's).
    to_src: Ipv4Addr,
    to_dst: Ipv4Addr,
    to_sport: u16,
    to_dport: u16,
    /// The rewrite's checksum differences (IPv4 header, transport), `nat::packet::flow_deltas`.
    deltas: [u16; 2],
    /// The last packet counted here (the lazily checked timer).
    last: Nanos,
    /// From when the next packet visits the session line again (its state, its stored expiry
    /// and its place in the aging list): 1/64 of the timeout after the last visit.
    due: Nanos,
    /// Packets counted here since the last visit (added to the session's then).
    packets: u32,
    /// The key's hash (its low bits are the home slot).
    tag: u32,
    /// (session << 1 | direction) + 1, 0 when empty.
    val: u32,
    /// The session's marks (the owner's: NAT kind, which side opened it).
    marks: u8,
    /// Nothing for the state machine to do with a packet without SYN, FIN or RST: a TCP
    /// session established, or not TCP.
    plain: bool,
}

// A hit reads and writes one line.
const _: () = assert!(core::mem::size_of::<Entry>() == 64);

impl Entry {
    pub(super) const EMPTY: Entry = Entry {
        key: Session::EMPTY.orig,
        to_src: Ipv4Addr::UNSPECIFIED,
        to_dst: Ipv4Addr::UNSPECIFIED,
        to_sport: 0,
        to_dport: 0,
        deltas: [0; 2],
        last: Nanos::ZERO,
        due: Nanos::ZERO,
        packets: 0,
        tag: 0,
        val: 0,
        marks: 0,
        plain: false,
    };

    /// Its session.
    #[inline(always)]
    pub fn session(&self) -> SessionId {
        SessionId((self.val - 1) >> 1)
    }

    /// Which way its packets go.
    #[inline(always)]
    pub fn dir(&self) -> Dir {
        if (self.val - 1) & 1 == 0 {
            Dir::Orig
        } else {
            Dir::Reply
        }
    }

    /// The tuple a packet going this way leaves with (the other direction's reversed).
    #[inline(always)]
    pub fn to(&self) -> Tuple {
        Tuple {
            src: self.to_src,
            dst: self.to_dst,
            sport: self.to_sport,
            dport: self.to_dport,
            proto: self.key.proto,
            zone: self.key.zone,
        }
    }

    /// The checksum differences (IPv4 header, transport) of the rewrite into [`to`](Self::to).
    #[inline(always)]
    pub fn deltas(&self) -> [u16; 2] {
        self.deltas
    }

    /// The session's marks (as [`Session::marks`]).
    #[inline(always)]
    pub fn marks(&self) -> u8 {
        self.marks
    }

    /// The key's protocol.
    #[inline(always)]
    pub fn proto(&self) -> u8 {
        self.key.proto
    }
}

/// Whether the state machine has nothing to do with a packet of `s` without SYN, FIN or RST.
#[inline]
pub(super) fn plain(s: &Session) -> bool {
    s.orig.proto != TCP || s.tcp == TcpState::Established
}

impl Conntrack {
    /// The slot of `t` (hash `h`), if present.
    #[inline(always)]
    pub(super) fn find(&self, t: &Tuple, h: u32) -> Option<usize> {
        let mut i = h as usize & self.mask;
        loop {
            let e = &self.index[i];
            if e.val == 0 {
                return None;
            }
            if e.tag == h && e.key.same(t) {
                return Some(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The slot of key `t`, which is present.
    pub(super) fn slot_of(&self, t: &Tuple) -> usize {
        let at = self.find(t, self.hash_of(t));
        debug_assert!(at.is_some(), "a live session's key is indexed");
        at.unwrap_or(0)
    }

    /// The entry at `at` (from [`lookup_entry`](Self::lookup_entry)).
    #[inline(always)]
    pub fn entry(&self, at: u32) -> &Entry {
        &self.index[at as usize]
    }

    /// The slot of the entry `t` (hash `h`, from [`hash_of`](Self::hash_of)) is found in: the
    /// fast path's lookup, whose hit reads that one line (a slot stays put until a session is
    /// inserted or removed).
    #[inline(always)]
    pub fn lookup_entry(&self, t: &Tuple, h: u32) -> Option<u32> {
        self.find(t, h).map(|i| i as u32)
    }

    /// [`track`](Self::track) of a packet found at slot `at`: a packet without SYN, FIN or RST
    /// of a plain session (TCP established, or not TCP) between two visits only counts itself
    /// and its time in the entry; any other packet, and the first after [`Entry::due`], takes
    /// `track` on the session line.
    #[inline(always)]
    pub fn track_at(&mut self, at: u32, tcp_flags: u8, now: Nanos) -> Tracked {
        let e = &mut self.index[at as usize];
        let quiet = e.key.proto != TCP || tcp_flags & (flags::SYN | flags::FIN | flags::RST) == 0;
        if e.plain && quiet && now < e.due && e.packets != u32::MAX {
            e.last = now;
            e.packets += 1;
            return Tracked::Ok;
        }
        self.track_visit(at, tcp_flags, now)
    }

    /// [`track_at`](Self::track_at)'s visit to the session line.
    fn track_visit(&mut self, at: u32, tcp_flags: u8, now: Nanos) -> Tracked {
        let e = self.index[at as usize];
        let (id, dir) = (e.session(), e.dir());
        self.sessions[id.0 as usize].packets += u64::from(e.packets);
        let r = self.track(id, dir, tcp_flags, now);
        let timeout = self.cfg.timeout(self.sessions[id.0 as usize].class);
        let e = &mut self.index[at as usize];
        e.packets = 0;
        e.last = now;
        e.due = now + requeue_after(timeout);
        r
    }

    /// Session `id`'s expiry: its stored one, or later when an entry counted a packet since.
    pub fn expires(&self, id: SessionId) -> Nanos {
        let s = &self.sessions[id.0 as usize];
        let timeout = self.cfg.timeout(s.class);
        [&s.orig, &s.reply]
            .into_iter()
            .map(|t| self.index[self.slot_of(t)].last + timeout)
            .fold(s.expires, Nanos::max)
    }

    /// Packets of session `id`, both directions.
    pub fn packets(&self, id: SessionId) -> u64 {
        let s = &self.sessions[id.0 as usize];
        [&s.orig, &s.reply]
            .into_iter()
            .map(|t| u64::from(self.index[self.slot_of(t)].packets))
            .fold(s.packets, u64::wrapping_add)
    }

    /// Sets session `id`'s marks (the owner's flags), in its entries too.
    pub fn set_marks(&mut self, id: SessionId, marks: u8) {
        let s = &mut self.sessions[id.0 as usize];
        s.marks = marks;
        let (o, r) = (s.orig, s.reply);
        for t in [o, r] {
            let at = self.slot_of(&t);
            self.index[at].marks = marks;
        }
    }

    /// After session `id`'s state moved: its entries learn whether it is plain now (and visit
    /// the session line with their next packet).
    pub(super) fn entries_follow(&mut self, id: u32) {
        let s = self.sessions[id as usize];
        let p = plain(&s);
        for t in [s.orig, s.reply] {
            let at = self.slot_of(&t);
            let e = &mut self.index[at];
            e.plain = p;
            e.due = Nanos::ZERO;
        }
    }

    /// Indexes key `t` of session `s` (id and direction in `v`) with its translation.
    pub(super) fn index_insert(&mut self, t: &Tuple, v: u32, s: &Session) {
        let h = self.hash_of(t);
        let mut i = h as usize & self.mask;
        while self.index[i].val != 0 {
            i = (i + 1) & self.mask;
        }
        let (to, deltas) = if v & 1 == 0 {
            (s.reply.reverse(), s.deltas)
        } else {
            (
                s.orig.reverse(),
                crate::nat::packet::reverse_deltas(s.deltas),
            )
        };
        self.index[i] = Entry {
            key: *t,
            to_src: to.src,
            to_dst: to.dst,
            to_sport: to.sport,
            to_dport: to.dport,
            deltas,
            tag: h,
            val: v + 1,
            marks: s.marks,
            plain: plain(s),
            ..Entry::EMPTY
        };
    }

    /// Removes `t`'s entry and shifts the rest of its probe run back (Knuth's algorithm R), so
    /// lookups never meet a tombstone.
    pub(super) fn index_remove(&mut self, t: &Tuple) {
        let Some(i) = self.find(t, self.hash_of(t)) else {
            return;
        };
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let tag = self.index[j].tag;
            if self.index[j].val == 0 {
                break;
            }
            let home = tag as usize & self.mask;
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let between = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !between {
                self.index[hole] = self.index[j];
                hole = j;
            }
        }
        self.index[hole] = Entry::EMPTY;
    }
}
