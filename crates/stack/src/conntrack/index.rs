//! The index of a table's keys: open addressing with linear probing, two keys (`orig`,
//! `reply`) per session in four slots, deletion by backward shift; and the staged lookup the
//! fast path uses for a burst (hash and prefetch every slot, prefetch every session, then look
//! up).

use super::*;

/// What [`Conntrack::prefetch_session`] returns when the key is not in the table (an index
/// entry is never 0: it is `(session << 1 | direction) + 1`).
pub const STAGED_NONE: u32 = 0;

/// An open-addressing index slot: `tag` = the key's hash (its low bits are the home slot),
/// `val` = (session << 1 | direction) + 1, 0 when empty.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot {
    tag: u32,
    val: u32,
}

impl Conntrack {
    /// `t`'s hash in this table (for [`prefetch`](Self::prefetch) and
    /// [`lookup_hashed`](Self::lookup_hashed), so a burst can hash every packet, prefetch
    /// every index slot, then look them up while the first slots arrive).
    #[inline]
    pub fn hash_of(&self, t: &Tuple) -> u32 {
        t.hash(self.seed) as u32
    }

    /// Starts loading the index slot where a key of hash `h` is probed first.
    #[inline]
    pub fn prefetch(&self, h: u32) {
        burst_port::prefetch(&self.index[h as usize & self.mask]);
    }

    /// Starts loading the session a key of hash `h` most likely belongs to: the first slot of
    /// its probe run whose tag is `h` (after [`prefetch`](Self::prefetch) of the same hash had
    /// time to land). Not the home slot's session blindly: with two keys in four slots about
    /// a quarter of the keys sit further along their run, and the home slot's session is then
    /// another key's, so the lookup would miss the cache on the right one unhidden.
    ///
    /// Returns what it found for [`lookup_staged`](Self::lookup_staged): that slot's entry, or
    /// [`STAGED_NONE`] when the run holds no key of hash `h` (then the key is not in the
    /// table). The lookup then does not walk the index a second time.
    #[inline]
    pub fn prefetch_session(&self, h: u32) -> u32 {
        let mut i = h as usize & self.mask;
        loop {
            let s = self.index[i];
            if s.val == 0 {
                return STAGED_NONE;
            }
            if s.tag == h {
                burst_port::prefetch(&self.sessions[((s.val - 1) >> 1) as usize]);
                return s.val;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// [`lookup_hashed`](Self::lookup_hashed) after [`prefetch_session`](Self::prefetch_session)
    /// of the same hash returned `staged`, with no insertion or removal in between: only the
    /// staged session's key is compared (a different key with the same 32-bit hash, rare,
    /// takes the whole walk).
    #[inline(always)]
    pub fn lookup_staged(&self, t: &Tuple, h: u32, staged: u32) -> Option<(SessionId, Dir)> {
        if staged == STAGED_NONE {
            return None;
        }
        let (id, dir, key) = self.entry(staged);
        if key.same(t) {
            return Some((id, dir));
        }
        self.lookup_hashed(t, h)
    }

    /// The session, direction and that direction's key an index value (`1 + 2 × id + dir`)
    /// names.
    #[inline(always)]
    fn entry(&self, val: u32) -> (SessionId, Dir, &Tuple) {
        let v = val - 1;
        let id = v >> 1;
        let sess = &self.sessions[id as usize];
        if v & 1 == 0 {
            (SessionId(id), Dir::Orig, &sess.orig)
        } else {
            (SessionId(id), Dir::Reply, &sess.reply)
        }
    }

    /// [`lookup`](Self::lookup) with the hash already computed by [`hash_of`](Self::hash_of).
    /// Always inlined: the fast path calls it once per frame, and a call spills and restores
    /// six registers around a probe of one or two slots.
    #[inline(always)]
    pub fn lookup_hashed(&self, t: &Tuple, h: u32) -> Option<(SessionId, Dir)> {
        let mut i = h as usize & self.mask;
        loop {
            let s = self.index[i];
            if s.val == 0 {
                return None;
            }
            if s.tag == h {
                let (id, dir, key) = self.entry(s.val);
                if key.same(t) {
                    return Some((id, dir));
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    pub(super) fn index_insert(&mut self, t: &Tuple, v: u32) {
        let h = t.hash(self.seed) as u32;
        let mut i = h as usize & self.mask;
        while self.index[i].val != 0 {
            i = (i + 1) & self.mask;
        }
        self.index[i] = Slot { tag: h, val: v + 1 };
    }

    /// Removes `t`'s slot and shifts the rest of its probe run back (Knuth's algorithm R), so
    /// lookups never meet a tombstone.
    pub(super) fn index_remove(&mut self, t: &Tuple) {
        let h = t.hash(self.seed) as u32;
        let mut i = h as usize & self.mask;
        loop {
            let s = self.index[i];
            if s.val == 0 {
                return;
            }
            if s.tag == h {
                let v = s.val - 1;
                let sess = &self.sessions[(v >> 1) as usize];
                let key = if v & 1 == 0 { &sess.orig } else { &sess.reply };
                if key == t {
                    break;
                }
            }
            i = (i + 1) & self.mask;
        }
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let s = self.index[j];
            if s.val == 0 {
                break;
            }
            let home = s.tag as usize & self.mask;
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let between = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !between {
                self.index[hole] = s;
                hole = j;
            }
        }
        self.index[hole] = Slot::default();
    }
}
