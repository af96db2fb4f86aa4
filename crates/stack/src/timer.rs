//! Per-core timers: a hierarchical timing wheel.
//!
//! Every protocol timer of a worker (retransmission, delayed ACK, persist, keep-alive,
//! TIME-WAIT, ARP retries and ageing, reassembly) lives in one [`TimerWheel`] owned by that
//! worker. Arming and cancelling are O(1) and nothing allocates after construction: timers live
//! in a slab of `capacity` slots, chained into intrusive doubly-linked lists, one list per wheel
//! slot. A [`TimerId`] carries the slot's generation, so cancelling through a handle whose timer
//! already fired (and whose slot was reused) does nothing.
//!
//! # Geometry
//!
//! Time is cut into ticks of a configurable length (1 ms is the intended default). The wheel
//! has [`LEVELS`] = 4 levels of [`SLOTS`] = 256 slots; a slot of level `k` spans `256^k` ticks,
//! so the levels together span `2^32` ticks: 256 ms, 65.5 s, 4.66 h and 49.7 days at 1 ms.
//! A timer is filed by the most significant base-256 digit in which its expiry tick differs
//! from the wheel's current tick; when the current tick enters a higher-level slot, that slot's
//! timers cascade to lower levels. A timer therefore moves at most [`LEVELS`] times in its life
//! and RTO-sized timers (200 ms .. 60 s at 1 ms ticks) at most once. 8 KiB of list heads; the
//! occupancy of each level is a 256-bit map, so finding the next non-empty slot is four
//! `trailing_zeros` at most per level.
//!
//! Timers beyond the range (their expiry differs from the current tick above bit 32) are
//! clamped to the last level: they wait in one overflow list after level 3, which is examined
//! again when the wheel reaches the `2^32`-tick block of its earliest member. They still fire at
//! their own tick.
//!
//! # Firing semantics
//!
//! A deadline `d` expires at tick `ceil(d / tick)`; [`TimerWheel::advance`]`(now)` fires every
//! timer whose expiry tick is `<= floor(now / tick)`. So a timer never fires early and fires at
//! most one tick late. Timers fire in expiry-tick order and, within a tick, in the order they
//! were armed ([`TimerWheel::reset`] counts as arming again). A deadline at or before the last
//! tick already processed (e.g. in the past) fires at the next tick.
//!
//! The driver calls, per loop: `advance(now, ..)` with the callback queueing the fired events
//! (the callback cannot touch the wheel), then handles them (re-arming as needed), and may use
//! [`TimerWheel::next_deadline`] to decide how long it may sleep.

use burst_port::Nanos;

/// Bits of one level's slot index.
const SLOT_BITS: u32 = 8;
/// Slots per level.
pub const SLOTS: usize = 1 << SLOT_BITS;
/// Levels of the wheel.
pub const LEVELS: usize = 4;
/// Ticks the levels span; later timers wait in the overflow list.
pub const RANGE_TICKS: u64 = 1 << (SLOT_BITS as usize * LEVELS);

const SLOT_MASK: u64 = SLOTS as u64 - 1;
const WORDS: usize = SLOTS / 64;
/// List index of the overflow list (after the `LEVELS * SLOTS` slot lists).
const OVERFLOW: u16 = (LEVELS * SLOTS) as u16;
const LISTS: usize = LEVELS * SLOTS + 1;
/// End of a list / of the free list.
const NIL: u32 = u32::MAX;
/// `Node::list` of a free slab slot.
const FREE: u16 = u16::MAX;

/// A handle to an armed timer. Stale handles (fired or cancelled timers) are harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    gen: u32,
}

/// One slab slot: list links, the expiry tick and the payload.
#[derive(Debug)]
struct Node<T> {
    prev: u32,
    /// Next in its wheel list, or next free slot.
    next: u32,
    /// Bumped each time the slot is freed, so old handles stop matching.
    gen: u32,
    /// The list the node is on, or `FREE`.
    list: u16,
    /// Expiry tick.
    expires: u64,
    payload: Option<T>,
}

/// A hierarchical timing wheel of at most `capacity` timers carrying a `T` each.
#[derive(Debug)]
pub struct TimerWheel<T> {
    nodes: Vec<Node<T>>,
    heads: Vec<u32>,
    tails: Vec<u32>,
    /// One bit per non-empty slot list, per level.
    occupied: [[u64; WORDS]; LEVELS],
    /// Head of the free-slot list.
    free: u32,
    len: usize,
    tick_ns: u64,
    /// The next tick to process: every timer expiring before it has fired.
    next: u64,
    /// Lower bound of the overflow list's expiry ticks (stays low after a cancel; that only
    /// costs an early re-examination).
    overflow_min: u64,
    /// [`TimerWheel::scan`]'s answer, kept up to date by every change: drivers ask for the
    /// next deadline after each loop round, far more often than the occupancy changes in a
    /// way that moves it (an arm can only bring it forward; only emptying the list of the
    /// earliest event or moving `next` calls for a new scan).
    earliest: Option<(u64, usize)>,
}

impl<T> TimerWheel<T> {
    /// Bytes the wheel holds per timer of its capacity (its slab node).
    pub const fn bytes_per_timer() -> usize {
        core::mem::size_of::<Node<T>>()
    }

    /// A wheel for up to `capacity` timers, with ticks of `tick`, whose clock reads `now`.
    ///
    /// # Panics
    /// If `tick` is zero or `capacity` does not fit in `u32` (minus one).
    pub fn new(capacity: usize, tick: Nanos, now: Nanos) -> Self {
        assert!(tick.0 > 0, "timer tick must be positive");
        assert!(
            capacity < NIL as usize,
            "timer capacity {capacity} too large"
        );
        let nodes = (0..capacity)
            .map(|i| Node {
                prev: NIL,
                next: if i + 1 < capacity { i as u32 + 1 } else { NIL },
                gen: 0,
                list: FREE,
                expires: 0,
                payload: None,
            })
            .collect();
        TimerWheel {
            nodes,
            heads: vec![NIL; LISTS],
            tails: vec![NIL; LISTS],
            occupied: [[0; WORDS]; LEVELS],
            free: if capacity > 0 { 0 } else { NIL },
            len: 0,
            tick_ns: tick.0,
            next: now.0 / tick.0,
            overflow_min: u64::MAX,
            earliest: None,
        }
    }

    /// Arms a timer for `deadline`; gives the payload back if all `capacity` slots are in use.
    pub fn arm(&mut self, deadline: Nanos, payload: T) -> Result<TimerId, T> {
        if self.free == NIL {
            return Err(payload);
        }
        let index = self.free;
        let expires = self.expiry_tick(deadline);
        let node = &mut self.nodes[index as usize];
        self.free = node.next;
        node.payload = Some(payload);
        node.expires = expires;
        let gen = node.gen;
        self.place(index);
        self.len += 1;
        Ok(TimerId { index, gen })
    }

    /// Cancels a timer and returns its payload; `None` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        if !self.is_armed(id) {
            return None;
        }
        self.unlink(id.index);
        self.release(id.index)
    }

    /// Moves an armed timer to `new_deadline` (keeping its handle); false if it is not armed.
    /// Within a tick, the timer now fires after those armed before this call.
    pub fn reset(&mut self, id: TimerId, new_deadline: Nanos) -> bool {
        if !self.is_armed(id) {
            return false;
        }
        self.unlink(id.index);
        self.nodes[id.index as usize].expires = self.expiry_tick(new_deadline);
        self.place(id.index);
        true
    }

    /// Whether `id` names a timer that has neither fired nor been cancelled.
    pub fn is_armed(&self, id: TimerId) -> bool {
        self.nodes
            .get(id.index as usize)
            .is_some_and(|n| n.gen == id.gen && n.list != FREE)
    }

    /// Fires, in order, every timer that has expired at `now` (see the module docs), handing
    /// each handle and payload to `f`. Time going backwards is ignored.
    pub fn advance(&mut self, now: Nanos, mut f: impl FnMut(TimerId, T)) {
        let target = now.0 / self.tick_ns;
        while let Some((t, level)) = self.scan() {
            // Fire up to `target`; cascade one tick further, so a slot that `next` has just
            // entered is emptied before new timers are armed into the slots below it (that keeps
            // arm order within a tick).
            if t > target.saturating_add(1) || (level == 0 && t > target) {
                break;
            }
            self.next = t;
            let list = self.take_list(level, t);
            let mut cur = self.heads[list];
            self.heads[list] = NIL;
            self.tails[list] = NIL;
            if level == 0 {
                while cur != NIL {
                    let node = &self.nodes[cur as usize];
                    debug_assert_eq!(node.expires, t);
                    let (after, id) = (
                        node.next,
                        TimerId {
                            index: cur,
                            gen: node.gen,
                        },
                    );
                    if let Some(payload) = self.release(cur) {
                        f(id, payload);
                    }
                    cur = after;
                }
                self.next = t.saturating_add(1);
            } else {
                while cur != NIL {
                    let after = self.nodes[cur as usize].next;
                    self.place(cur);
                    cur = after;
                }
            }
        }
        self.next = self.next.max(target.saturating_add(1));
        self.earliest = self.scan();
    }

    /// When `advance` should next be called: no timer fires before this time. Conservative
    /// (it may be the start of a higher-level slot that only cascades); `None` if no timer is
    /// armed.
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.next_event()
            .map(|(t, _)| Nanos(t.saturating_mul(self.tick_ns)))
    }

    /// Armed timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most timers that can be armed at once.
    pub fn capacity(&self) -> usize {
        self.nodes.len()
    }

    /// The tick length.
    pub fn tick(&self) -> Nanos {
        Nanos(self.tick_ns)
    }

    /// Expiry tick of a deadline: rounded up, never before the next unprocessed tick.
    fn expiry_tick(&self, deadline: Nanos) -> u64 {
        deadline.0.div_ceil(self.tick_ns).max(self.next)
    }

    /// The earliest pending event as (tick, level), `LEVELS` meaning the overflow list. Ties go
    /// to the higher level: cascade before firing.
    #[inline]
    fn next_event(&self) -> Option<(u64, usize)> {
        debug_assert_eq!(self.earliest, self.scan());
        self.earliest
    }

    /// The event of a non-empty list: its slot's first tick (not before `next`), or for the
    /// overflow list the start of its earliest member's block.
    #[inline]
    fn event_of(&self, level: usize, slot: usize) -> u64 {
        if level == LEVELS {
            let bits = SLOT_BITS * LEVELS as u32;
            return ((self.overflow_min >> bits) << bits).max(self.next);
        }
        let shift = level as u32 * SLOT_BITS;
        let hi = shift + SLOT_BITS;
        let base = (self.next >> hi) << hi;
        (base | ((slot as u64) << shift)).max(self.next)
    }

    /// [`TimerWheel::next_event`] computed from the occupancy maps.
    fn scan(&self) -> Option<(u64, usize)> {
        let mut best: Option<(u64, usize)> = None;
        for (level, bits) in self.occupied.iter().enumerate() {
            let shift = level as u32 * SLOT_BITS;
            let digit = ((self.next >> shift) & SLOT_MASK) as usize;
            // Slots below the current digit are empty: the wheel already passed them.
            let Some(slot) = first_set(bits, digit) else {
                continue;
            };
            let t = self.event_of(level, slot);
            if best.is_none_or(|(b, _)| t <= b) {
                best = Some((t, level));
            }
        }
        if self.heads[OVERFLOW as usize] != NIL {
            let t = self.event_of(LEVELS, 0);
            if best.is_none_or(|(b, _)| t <= b) {
                best = Some((t, LEVELS));
            }
        }
        best
    }

    /// The list index of the event `(level, t)`, marked empty (its nodes are about to move).
    fn take_list(&mut self, level: usize, t: u64) -> usize {
        if level == LEVELS {
            self.overflow_min = u64::MAX;
            return OVERFLOW as usize;
        }
        let slot = ((t >> (level as u32 * SLOT_BITS)) & SLOT_MASK) as usize;
        self.occupied[level][slot / 64] &= !(1 << (slot % 64));
        level * SLOTS + slot
    }

    /// Files node `index` by its expiry tick relative to `self.next` (which it must not precede).
    fn place(&mut self, index: u32) {
        let e = self.nodes[index as usize].expires;
        debug_assert!(e >= self.next);
        let differ = e ^ self.next;
        let level = if differ == 0 {
            0
        } else {
            ((63 - differ.leading_zeros()) / SLOT_BITS) as usize
        };
        let (list, level, slot) = if level >= LEVELS {
            self.overflow_min = self.overflow_min.min(e);
            (OVERFLOW, LEVELS, 0)
        } else {
            let slot = ((e >> (level as u32 * SLOT_BITS)) & SLOT_MASK) as usize;
            self.occupied[level][slot / 64] |= 1 << (slot % 64);
            ((level * SLOTS + slot) as u16, level, slot)
        };
        // The new list's event replaces the earliest when it is sooner, or as soon and of a
        // level at least as high (the scan's tie rule).
        let t = self.event_of(level, slot);
        if self
            .earliest
            .is_none_or(|(b, bl)| t < b || (t == b && level >= bl))
        {
            self.earliest = Some((t, level));
        }
        let tail = self.tails[list as usize];
        let node = &mut self.nodes[index as usize];
        node.list = list;
        node.prev = tail;
        node.next = NIL;
        if tail == NIL {
            self.heads[list as usize] = index;
        } else {
            self.nodes[tail as usize].next = index;
        }
        self.tails[list as usize] = index;
    }

    /// Takes node `index` off its list.
    fn unlink(&mut self, index: u32) {
        let (prev, next, list) = {
            let n = &self.nodes[index as usize];
            (n.prev, n.next, n.list)
        };
        if prev == NIL {
            self.heads[list as usize] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tails[list as usize] = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        if self.heads[list as usize] == NIL {
            if list != OVERFLOW {
                let (level, slot) = (list as usize / SLOTS, list as usize % SLOTS);
                self.occupied[level][slot / 64] &= !(1 << (slot % 64));
            }
            // Only the earliest event's own list going empty moves it; when this node was the
            // only timer (`len` still counts it) nothing is left to scan for.
            if self
                .earliest
                .is_some_and(|e| self.list_of(e) == list as usize)
            {
                self.earliest = if self.len == 1 { None } else { self.scan() };
            }
        }
    }

    /// The list an event `(tick, level)` of [`TimerWheel::scan`] stands for.
    fn list_of(&self, (t, level): (u64, usize)) -> usize {
        if level == LEVELS {
            OVERFLOW as usize
        } else {
            level * SLOTS + ((t >> (level as u32 * SLOT_BITS)) & SLOT_MASK) as usize
        }
    }

    /// Returns slot `index` (already off its list) to the free list, with a new generation.
    fn release(&mut self, index: u32) -> Option<T> {
        let node = &mut self.nodes[index as usize];
        node.gen = node.gen.wrapping_add(1);
        node.list = FREE;
        node.prev = NIL;
        node.next = self.free;
        self.free = index;
        self.len -= 1;
        node.payload.take()
    }
}

/// The first set bit at or after `from` in a 256-bit map.
fn first_set(bits: &[u64; WORDS], from: usize) -> Option<usize> {
    let mut w = from / 64;
    let mut word = bits[w] & (u64::MAX << (from % 64));
    loop {
        if word != 0 {
            return Some(w * 64 + word.trailing_zeros() as usize);
        }
        w += 1;
        if w == WORDS {
            return None;
        }
        word = bits[w];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    const MS: u64 = 1_000_000;

    fn fire_all<T>(w: &mut TimerWheel<T>, now: u64) -> Vec<T> {
        let mut out = Vec::new();
        w.advance(Nanos(now), |_, p| out.push(p));
        out
    }

    /// The naive model: a map ordered by (expiry tick, arm sequence).
    struct Reference {
        tick: u64,
        next: u64,
        seq: u64,
        order: BTreeMap<(u64, u64), TimerId>,
        live: HashMap<TimerId, ((u64, u64), u64, u32)>,
    }

    impl Reference {
        fn key(&mut self, deadline: u64) -> (u64, u64) {
            self.seq += 1;
            (deadline.div_ceil(self.tick).max(self.next), self.seq)
        }
        fn arm(&mut self, id: TimerId, deadline: u64, payload: u32) {
            let k = self.key(deadline);
            self.order.insert(k, id);
            self.live.insert(id, (k, deadline, payload));
        }
        fn cancel(&mut self, id: TimerId) -> Option<u32> {
            let (k, _, p) = self.live.remove(&id)?;
            self.order.remove(&k);
            Some(p)
        }
        fn reset(&mut self, id: TimerId, deadline: u64) -> bool {
            let Some(p) = self.cancel(id) else {
                return false;
            };
            self.arm(id, deadline, p);
            true
        }
        fn advance(&mut self, now: u64) -> Vec<(TimerId, u32, u64)> {
            let target = now / self.tick;
            let mut out = Vec::new();
            while let Some((&k, &id)) = self.order.first_key_value() {
                if k.0 > target {
                    break;
                }
                self.order.remove(&k);
                let (_, d, p) = self.live.remove(&id).unwrap();
                out.push((id, p, d));
            }
            self.next = self.next.max(target + 1);
            out
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Arm(u64),
        ArmPast(u64),
        Cancel(usize),
        Reset(usize, u64),
        Advance(u64),
        /// To the last instant before the next block of `256^k` ticks, where a cascade is due.
        AdvanceToBlockEnd(u32),
    }

    /// Spans from sub-tick to beyond the levels' range at 1 ms ticks.
    fn span() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => 0..3 * MS,
            4 => 0..600 * MS,
            2 => 0..200_000 * MS,
            1 => 0..20_000_000 * MS,
            1 => 0..6_000_000_000 * MS,
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => span().prop_map(Op::Arm),
            1 => span().prop_map(Op::ArmPast),
            2 => any::<usize>().prop_map(Op::Cancel),
            2 => (any::<usize>(), span()).prop_map(|(i, d)| Op::Reset(i, d)),
            4 => span().prop_map(Op::Advance),
            1 => (1..=3u32).prop_map(Op::AdvanceToBlockEnd),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn matches_reference(
            tick in prop_oneof![Just(MS), 1..=3 * MS, Just(1u64)],
            start in 0..(1u64 << 50),
            capacity in 1..48usize,
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let mut w = TimerWheel::new(capacity, Nanos(tick), Nanos(start));
            let mut r = Reference {
                tick, next: start / tick, seq: 0, order: BTreeMap::new(), live: HashMap::new(),
            };
            let mut now = start;
            let mut ids: Vec<TimerId> = Vec::new();
            let mut payload = 0u32;
            for op in ops {
                match op {
                    Op::Arm(d) | Op::ArmPast(d) => {
                        let deadline = match op {
                            Op::Arm(_) => now + d,
                            _ => now.saturating_sub(d),
                        };
                        payload += 1;
                        match w.arm(Nanos(deadline), payload) {
                            Ok(id) => {
                                prop_assert!(r.live.len() < capacity);
                                r.arm(id, deadline, payload);
                                ids.push(id);
                            }
                            Err(p) => {
                                prop_assert_eq!(p, payload);
                                prop_assert_eq!(r.live.len(), capacity);
                            }
                        }
                    }
                    Op::Cancel(i) if !ids.is_empty() => {
                        let id = ids[i % ids.len()];
                        prop_assert_eq!(w.cancel(id), r.cancel(id));
                    }
                    Op::Reset(i, d) if !ids.is_empty() => {
                        let id = ids[i % ids.len()];
                        prop_assert_eq!(w.reset(id, Nanos(now + d)), r.reset(id, now + d));
                    }
                    Op::Advance(_) | Op::AdvanceToBlockEnd(_) => {
                        now = match op {
                            Op::Advance(d) => now + d,
                            Op::AdvanceToBlockEnd(k) => {
                                let block = 1u64 << (8 * k);
                                (now / tick / block + 1) * block * tick - 1
                            }
                            _ => unreachable!(),
                        };
                        let mut got = Vec::new();
                        w.advance(Nanos(now), |id, p| got.push((id, p)));
                        let want = r.advance(now);
                        for &(_, _, deadline) in &want {
                            prop_assert!(deadline <= now, "fired early");
                        }
                        let want: Vec<_> = want.into_iter().map(|(id, p, _)| (id, p)).collect();
                        prop_assert_eq!(got, want);
                    }
                    _ => {}
                }
                prop_assert_eq!(w.len(), r.live.len());
                // The kept earliest event is what a scan of the occupancy maps finds.
                prop_assert_eq!(w.earliest, w.scan());
                let earliest = r.order.first_key_value().map(|(k, _)| k.0 * tick);
                match (w.next_deadline(), earliest) {
                    (None, None) => {}
                    (Some(n), Some(e)) => prop_assert!(n.0 <= e, "next_deadline {n:?} after {e}"),
                    (n, e) => prop_assert!(false, "next_deadline {n:?} vs earliest {e:?}"),
                }
            }
        }
    }

    #[test]
    fn fires_at_tick_not_before() {
        let mut w = TimerWheel::new(8, Nanos::from_millis(1), Nanos::ZERO);
        w.arm(Nanos::from_micros(2_500), 'a').unwrap();
        assert!(fire_all(&mut w, 2_999_999).is_empty());
        assert_eq!(fire_all(&mut w, 3 * MS), vec!['a']);
        // A deadline on a tick boundary fires exactly then.
        w.arm(Nanos(10 * MS), 'b').unwrap();
        assert!(fire_all(&mut w, 10 * MS - 1).is_empty());
        assert_eq!(w.next_deadline(), Some(Nanos(10 * MS)));
        assert_eq!(fire_all(&mut w, 10 * MS), vec!['b']);
        // In the past (or the tick just processed): the next tick.
        w.arm(Nanos(MS), 'c').unwrap();
        assert!(fire_all(&mut w, 10 * MS + 999_999).is_empty());
        assert_eq!(fire_all(&mut w, 11 * MS), vec!['c']);
        assert!(w.is_empty() && w.next_deadline().is_none());
    }

    #[test]
    fn next_deadline_follows_arms_cancels_and_resets() {
        // The earliest event is kept across changes instead of scanned for each call.
        let mut w = TimerWheel::new(8, Nanos::from_millis(1), Nanos::ZERO);
        let late = w.arm(Nanos(200 * MS), 'l').unwrap();
        // 200 ticks: level 0 (the current block of 256).
        assert_eq!(w.next_deadline(), Some(Nanos(200 * MS)));
        let early = w.arm(Nanos(5 * MS), 'e').unwrap();
        assert_eq!(w.next_deadline(), Some(Nanos(5 * MS)));
        // Cancelling a later timer leaves it; cancelling the earliest moves it on.
        let mid = w.arm(Nanos(50 * MS), 'm').unwrap();
        w.cancel(mid);
        assert_eq!(w.next_deadline(), Some(Nanos(5 * MS)));
        w.cancel(early);
        assert_eq!(w.next_deadline(), Some(Nanos(200 * MS)));
        // A reset later across a level boundary: the slot of level 1 holding it (ticks 512..).
        assert!(w.reset(late, Nanos(600 * MS)));
        assert_eq!(w.next_deadline(), Some(Nanos(512 * MS)));
        assert!(fire_all(&mut w, 599 * MS).is_empty());
        assert_eq!(w.next_deadline(), Some(Nanos(600 * MS)));
        assert_eq!(fire_all(&mut w, 600 * MS), vec!['l']);
        assert_eq!(w.next_deadline(), None);
        assert_eq!(w.earliest, w.scan());
    }

    #[test]
    fn cascades_through_every_level() {
        // One timer per level (and one in the overflow list), each checked at its exact tick.
        let deadlines_ms = [
            7,                  // level 0
            1_000,              // level 1 (> 256 ms)
            70_000,             // level 2 (> 65.5 s)
            5 * 3_600_000,      // level 3 (> 4.66 h)
            4_294_967_296 + 17, // overflow: just past 2^32 ticks
            60 * 86_400_000,    // overflow (> 49.7 days)
        ];
        let mut w = TimerWheel::new(16, Nanos::from_millis(1), Nanos::ZERO);
        for (i, d) in deadlines_ms.iter().enumerate() {
            w.arm(Nanos::from_millis(*d), i).unwrap();
        }
        for (i, d) in deadlines_ms.iter().enumerate() {
            // Step in coarse jumps to just before, then to the deadline.
            let before = d * MS - 1;
            assert!(fire_all(&mut w, before).is_empty(), "timer {i} early");
            assert!(w.next_deadline().unwrap().0 <= d * MS);
            assert_eq!(fire_all(&mut w, d * MS), vec![i], "timer {i}");
        }
        assert!(w.is_empty());
    }

    #[test]
    fn cascades_when_stepping_tick_by_tick() {
        let mut w = TimerWheel::new(4, Nanos::from_millis(1), Nanos::ZERO);
        w.arm(Nanos::from_millis(70_123), ()).unwrap();
        let mut fired_at = None;
        for t in 1..=70_200u64 {
            w.advance(Nanos(t * MS), |_, ()| fired_at = Some(t));
            if fired_at.is_some() {
                break;
            }
        }
        assert_eq!(fired_at, Some(70_123));
    }

    #[test]
    fn far_future_clamps_to_last_level_and_still_fires_on_time() {
        let mut w = TimerWheel::new(4, Nanos::from_millis(1), Nanos::from_millis(5));
        let far = Nanos::from_secs(400 * 86_400); // 400 days: 8 times the levels' range
        let id = w.arm(far, "far").unwrap();
        w.arm(Nanos(u64::MAX / MS * MS), "end").unwrap();
        assert_eq!(w.len(), 2);
        // Conservative but not later than the timer.
        assert!(w.next_deadline().unwrap() <= far);
        assert!(fire_all(&mut w, far.0 - 1).is_empty());
        assert!(w.is_armed(id));
        assert_eq!(fire_all(&mut w, far.0), vec!["far"]);
        assert_eq!(fire_all(&mut w, u64::MAX / MS * MS), vec!["end"]);
        assert!(w.is_empty());
    }

    #[test]
    fn stale_handles_are_harmless_after_reuse() {
        let mut w = TimerWheel::new(1, Nanos::from_millis(1), Nanos::ZERO);
        let a = w.arm(Nanos::from_millis(10), 'a').unwrap();
        assert_eq!(w.cancel(a), Some('a'));
        assert_eq!(w.cancel(a), None);
        let b = w.arm(Nanos::from_millis(20), 'b').unwrap(); // reuses a's slot
        assert_ne!(a, b);
        assert_eq!(w.cancel(a), None);
        assert!(!w.reset(a, Nanos::from_millis(1)));
        assert!(w.is_armed(b) && !w.is_armed(a));
        let mut fired = Vec::new();
        w.advance(Nanos::from_millis(20), |id, p| fired.push((id, p)));
        assert_eq!(fired, vec![(b, 'b')]);
        // After firing, b's handle is stale too, even once the slot is reused.
        let c = w.arm(Nanos::from_millis(30), 'c').unwrap();
        assert_eq!(w.cancel(b), None);
        assert_eq!(w.cancel(c), Some('c'));
    }

    #[test]
    fn full_wheel_gives_the_payload_back() {
        let mut w = TimerWheel::new(3, Nanos::from_millis(1), Nanos::ZERO);
        let ids: Vec<_> = (0..3)
            .map(|i| w.arm(Nanos::from_millis(5), i).unwrap())
            .collect();
        assert_eq!(w.arm(Nanos::from_millis(5), 99), Err(99));
        assert_eq!(w.len(), 3);
        w.cancel(ids[1]).unwrap();
        assert!(w.arm(Nanos::from_millis(6), 3).is_ok());
        assert_eq!(w.arm(Nanos::from_millis(5), 100), Err(100));
        let mut empty = TimerWheel::new(0, Nanos::from_millis(1), Nanos::ZERO);
        assert_eq!(empty.arm(Nanos::ZERO, 1), Err(1));
    }

    #[test]
    fn fires_in_deadline_order_then_arm_order() {
        let mut w = TimerWheel::new(16, Nanos::from_millis(1), Nanos::ZERO);
        // Tick 300 is in level 1 when armed at 0; 299 ms + 1 ns rounds up to tick 300.
        w.arm(Nanos::from_millis(300), "300-a").unwrap();
        w.arm(Nanos::from_millis(299) + Nanos(1), "300-b").unwrap();
        w.arm(Nanos::from_secs(70), "70s").unwrap();
        w.arm(Nanos::from_millis(255), "255").unwrap();
        w.arm(Nanos::from_millis(100), "100").unwrap();
        let moved = w.arm(Nanos::from_millis(50), "moved").unwrap();
        assert!(w.reset(moved, Nanos::from_millis(300))); // re-armed: after 300-a and 300-b
        assert!(fire_all(&mut w, 40 * MS).is_empty());
        assert_eq!(fire_all(&mut w, 255 * MS), vec!["100", "255"]);
        // The wheel now stands at the start of the level-1 slot holding tick 300; a timer armed
        // for tick 300 now still fires after the earlier ones, and one for 299 before them.
        w.arm(Nanos::from_millis(300), "300-late").unwrap();
        w.arm(Nanos::from_millis(299), "299").unwrap();
        assert_eq!(
            fire_all(&mut w, 300 * MS),
            vec!["299", "300-a", "300-b", "moved", "300-late"]
        );
        assert_eq!(fire_all(&mut w, 70_000 * MS), vec!["70s"]);
    }
}
