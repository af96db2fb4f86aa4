//! Compact TIME-WAIT records (Linux's `tcp_timewait_sock`): once a connection the application
//! has released reaches TIME-WAIT with its last ACK sent, the stack keeps a 64-byte record of
//! what TIME-WAIT still needs (sequence numbers, window, timestamps, expiry) instead of the
//! engine's whole [`Connection`](crate::Connection), and frees the connection's slot.
//!
//! A record answers segments exactly as the connection would have in TIME-WAIT (RFC 9293
//! §3.10.7.4 with RFC 5961, RFC 7323 PAWS and RFC 1337): a retransmitted FIN is ACKed and
//! restarts the 2×MSL wait, old duplicates and unacceptable segments draw an ACK (with a
//! D-SACK block when SACK is on), resets are ignored, SYNs draw a rate-limited challenge ACK
//! unless `time_wait_reuse` lets a new one take the 4-tuple over (RFC 6191). Its ACKs go out
//! through the stateless reply queue.
//!
//! Records live in a table of `max_time_wait` entries reserved at construction (its pages are
//! touched only as records are first used) and, in the 4-tuple table, under their index with
//! [`TW_BIT`] set, so a segment still costs one lookup. Every record has the same lifetime, so
//! the records form one list in expiry order: entering or restarting TIME-WAIT appends at the
//! tail, the timer looks at the head only, a takeover unlinks in place. When the table is full
//! the connection stays whole in its slot for its TIME-WAIT, as before records existed
//! (counted in `time_wait_overflow`).

use core::net::SocketAddrV4;

use burst_port::Nanos;
use burst_wire::tcp::{Flags, Options, Repr, SackBlocks, SeqNumber};

use super::{Phase, State, TcpStack, Tuple};
use crate::conn::{time_wait_successor, ts_at, TimeWaitState};

/// Set in a 4-tuple table value that is a TIME-WAIT record's index, not a slab index.
pub(super) const TW_BIT: u32 = 1 << 31;
/// End of a record list.
const NIL: u32 = u32::MAX;
/// Idle time after which PAWS no longer trusts TS.Recent (RFC 7323 §5.5: 24 days), seconds.
const PAWS_IDLE_SECS: u32 = 24 * 24 * 3600;
/// Challenge ACKs per record per second (the engine's limit, RFC 5961 §7).
const CHALLENGE_ACKS_PER_SEC: u8 = 100;
/// Records a late entry (a connection the application released long after it reached
/// TIME-WAIT) is walked back past to keep the list in expiry order; beyond that its wait is
/// lengthened to the expiry of the record it lands behind.
const MAX_WALK: usize = 32;

const F_TS: u8 = 1;
const F_SACK: u8 = 2;

/// One TIME-WAIT 4-tuple (64 bytes).
#[derive(Debug, Clone, Copy)]
pub(super) struct TwRecord {
    pub(super) tuple: Tuple,
    snd_nxt: SeqNumber,
    rcv_nxt: SeqNumber,
    ts_recent: u32,
    ts_offset: u32,
    /// The receive window segments are checked against.
    rcv_wnd: u32,
    max_snd_wnd: u32,
    /// Seconds (of the stack clock) of the last acceptable segment.
    last_rx_s: u32,
    /// Milliseconds at the start of the challenge-ACK second.
    challenge_ms: u32,
    expires: Nanos,
    /// Neighbours in the expiry list; `next` links the free list of unused records.
    prev: u32,
    next: u32,
    window: u16,
    flags: u8,
    challenge_count: u8,
}

/// The records of a stack.
#[derive(Debug)]
pub(super) struct TwTable {
    /// Records used so far (live or on the free list); never grows past `cap`.
    recs: Vec<TwRecord>,
    cap: usize,
    free: u32,
    head: u32,
    tail: u32,
    live: usize,
    peak: usize,
}

impl TwTable {
    pub(super) fn new(cap: usize) -> TwTable {
        TwTable {
            recs: Vec::with_capacity(cap),
            cap,
            free: NIL,
            head: NIL,
            tail: NIL,
            live: 0,
            peak: 0,
        }
    }

    /// Records in use.
    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// The earliest expiry.
    pub(super) fn next_deadline(&self) -> Option<Nanos> {
        (self.head != NIL).then(|| self.recs[self.head as usize].expires)
    }

    /// Live records, for netstat.
    pub(super) fn iter(&self) -> impl Iterator<Item = &TwRecord> + '_ {
        let mut at = self.head;
        core::iter::from_fn(move || {
            let r = self.recs.get(at as usize)?;
            at = r.next;
            Some(r)
        })
    }

    fn alloc(&mut self, rec: TwRecord) -> Option<u32> {
        let r = if self.free != NIL {
            let r = self.free;
            self.free = self.recs[r as usize].next;
            self.recs[r as usize] = rec;
            r
        } else if self.recs.len() < self.cap {
            // Within the reserved capacity: never reallocates.
            self.recs.push(rec);
            (self.recs.len() - 1) as u32
        } else {
            return None;
        };
        self.live += 1;
        self.peak = self.peak.max(self.live);
        Some(r)
    }

    fn unlink(&mut self, r: u32) {
        let (prev, next) = {
            let x = &self.recs[r as usize];
            (x.prev, x.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.recs[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.recs[n as usize].prev = prev,
        }
    }

    /// Links `r` in expiry order, walking back from the tail (the common case stops at once:
    /// a record enters or restarts with the latest expiry).
    fn link(&mut self, r: u32) {
        let mut after = self.tail;
        let exp = self.recs[r as usize].expires;
        let mut walked = 0;
        while after != NIL && self.recs[after as usize].expires > exp {
            if walked == MAX_WALK {
                let later = self.recs[after as usize].expires;
                self.recs[r as usize].expires = later;
                break;
            }
            after = self.recs[after as usize].prev;
            walked += 1;
        }
        let next = match after {
            NIL => self.head,
            a => self.recs[a as usize].next,
        };
        {
            let x = &mut self.recs[r as usize];
            x.prev = after;
            x.next = next;
        }
        match after {
            NIL => self.head = r,
            a => self.recs[a as usize].next = r,
        }
        match next {
            NIL => self.tail = r,
            n => self.recs[n as usize].prev = r,
        }
    }

    /// Unlinks and frees `r`.
    fn release(&mut self, r: u32) {
        self.unlink(r);
        self.recs[r as usize].next = self.free;
        self.free = r;
        self.live -= 1;
    }
}

impl TwRecord {
    fn new(tuple: Tuple, s: &TimeWaitState) -> TwRecord {
        let (ts_recent, ts_offset) = s.ts.unwrap_or((0, 0));
        TwRecord {
            tuple,
            snd_nxt: s.snd_nxt,
            rcv_nxt: s.rcv_nxt,
            ts_recent,
            ts_offset,
            rcv_wnd: s.rcv_wnd,
            max_snd_wnd: s.max_snd_wnd,
            last_rx_s: secs(s.last_rx),
            challenge_ms: millis(s.challenge_start),
            expires: s.expires,
            prev: NIL,
            next: NIL,
            window: s.window,
            flags: if s.ts.is_some() { F_TS } else { 0 } | if s.sack_ok { F_SACK } else { 0 },
            challenge_count: s.challenge_count.min(u32::from(CHALLENGE_ACKS_PER_SEC)) as u8,
        }
    }

    fn ts_ok(&self) -> bool {
        self.flags & F_TS != 0
    }

    /// The ACK the connection would send now (`dsack`: a duplicate to report).
    fn ack(&self, now: Nanos, dsack: Option<(SeqNumber, SeqNumber)>) -> Repr {
        let ts = self
            .ts_ok()
            .then(|| (ts_at(now, self.ts_offset), self.ts_recent));
        let sack = dsack
            .filter(|_| self.flags & F_SACK != 0)
            .and_then(|(l, r)| SackBlocks::new(&[(l.0, r.0)]));
        let options = if ts.is_none() && sack.is_none() {
            Options::EMPTY
        } else {
            Options::ack(ts, sack)
        };
        let mut r = Repr {
            src_port: self.tuple.local.port(),
            dst_port: self.tuple.remote.port(),
            seq: self.snd_nxt,
            flags: Flags::ACK,
            window: self.window,
            options,
            ..Repr::default()
        };
        r.set_ack(Some(self.rcv_nxt));
        r
    }
}

fn secs(t: Nanos) -> u32 {
    (t.0 / 1_000_000_000) as u32
}

fn millis(t: Nanos) -> u32 {
    (t.0 / 1_000_000) as u32
}

/// What a segment to a record calls for.
enum Answer {
    Nothing,
    Ack(Option<(SeqNumber, SeqNumber)>),
    Challenge,
}

impl TcpStack {
    /// Replaces the released TIME-WAIT connection at `idx` by a record if one is free (and the
    /// connection has nothing left to send); returns whether it did. The slot is freed; the
    /// connection counts as freed when its record ends.
    pub(super) fn make_time_wait_record(&mut self, idx: u32) -> bool {
        let e = self.slots[idx as usize].entry.as_mut().expect("entry");
        debug_assert!(e.phase == Phase::Released && e.in_table && !e.in_dirty);
        let Some(s) = e.conn.time_wait_state() else {
            return false;
        };
        let tuple = e.tuple;
        let Some(r) = self.tw.alloc(TwRecord::new(tuple, &s)) else {
            if !e.tw_refused {
                e.tw_refused = true;
                self.stats.time_wait_overflow += 1;
            }
            return false;
        };
        self.tw.link(r);
        if let Some(v) = self.table.get_mut(&tuple) {
            *v = TW_BIT | r;
        }
        self.last_lookup = None;
        debug_assert_eq!(
            self.slots[idx as usize]
                .entry
                .as_ref()
                .map(|e| e.conn.state()),
            Some(State::TimeWait)
        );
        self.take_slot(idx);
        self.stats.time_wait_records += 1;
        true
    }

    /// Ends record `r`: out of the table and the list.
    fn end_record(&mut self, r: u32) {
        let tuple = self.tw.recs[r as usize].tuple;
        self.table.remove(&tuple);
        self.last_lookup = None;
        self.tw.release(r);
        self.stats.conns_freed += 1;
    }

    /// Ends every record whose TIME-WAIT is over by `now`.
    pub(super) fn expire_records(&mut self, now: Nanos) {
        while self.tw.head != NIL && self.tw.recs[self.tw.head as usize].expires <= now {
            self.end_record(self.tw.head);
        }
    }

    /// A SYN for record `r`: with `time_wait_reuse`, a listener on the port and a SYN that is
    /// new (RFC 6191), the record ends and the SYN goes on to the listener with the returned
    /// ISS (as [`TcpStack::time_wait_takeover`] for a whole connection).
    pub(super) fn record_takeover(&mut self, r: u32, seg: &Repr) -> Option<SeqNumber> {
        if !self.cfg.time_wait_reuse || !seg.flags.contains(Flags::SYN) {
            return None;
        }
        let rec = &self.tw.recs[r as usize];
        if !self.has_listener(rec.tuple.local) {
            return None;
        }
        let ts = rec.ts_ok().then_some(rec.ts_recent);
        let iss = time_wait_successor(seg, rec.snd_nxt, rec.rcv_nxt, ts)?;
        self.stats.time_wait_reused += 1;
        self.end_record(r);
        Some(iss)
    }

    /// A segment for record `r`: RFC 9293 §3.10.7.4 in TIME-WAIT, as the engine does it.
    pub(super) fn record_segment(&mut self, r: u32, seg: &Repr, payload: &[u8]) {
        let now = self.now;
        let tw = self.cfg.tcp.time_wait;
        let rec = &mut self.tw.recs[r as usize];
        let before = rec.expires;
        let answer = record_input(rec, now, tw, seg, payload);
        let restarted = rec.expires != before;
        let reply = match answer {
            Answer::Nothing => None,
            Answer::Ack(dsack) => Some(rec.ack(now, dsack)),
            Answer::Challenge => {
                let ms = millis(now);
                if ms.wrapping_sub(rec.challenge_ms) >= 1000 {
                    rec.challenge_ms = ms;
                    rec.challenge_count = 0;
                }
                if rec.challenge_count >= CHALLENGE_ACKS_PER_SEC {
                    None
                } else {
                    rec.challenge_count += 1;
                    Some(rec.ack(now, None))
                }
            }
        };
        let tuple = rec.tuple;
        if restarted {
            // To the tail, where the latest expiry goes.
            self.tw.unlink(r);
            self.tw.link(r);
        }
        if let Some(repr) = reply {
            self.push_reply(tuple, repr);
        }
    }

    /// Records in use (TIME-WAIT 4-tuples held without a connection).
    pub fn time_wait_records(&self) -> usize {
        self.tw.len()
    }

    /// Most records in use at once so far.
    pub fn peak_time_wait_records(&self) -> usize {
        self.tw.peak
    }

    pub(super) fn record_rows(&self) -> impl Iterator<Item = (SocketAddrV4, SocketAddrV4)> + '_ {
        self.tw.iter().map(|r| (r.tuple.local, r.tuple.remote))
    }
}

/// The engine's TIME-WAIT input (`Connection::on_segment_synchronized` with `process_ack` and
/// `process_text`, every branch that TIME-WAIT can reach), on a record.
fn record_input(rec: &mut TwRecord, now: Nanos, tw: Nanos, seg: &Repr, payload: &[u8]) -> Answer {
    let is_rst = seg.flags.contains(Flags::RST);
    let ts = if seg.options.is_empty() {
        None
    } else {
        seg.options.timestamp()
    };
    if rec.ts_ok() && !is_rst {
        if secs(now).wrapping_sub(rec.last_rx_s) > PAWS_IDLE_SECS {
            if let Some((tsval, _)) = ts {
                rec.ts_recent = tsval;
            }
        }
        match ts {
            Some((tsval, _)) if (tsval.wrapping_sub(rec.ts_recent) as i32) < 0 => {
                return Answer::Ack(None);
            }
            Some(_) => {}
            // RFC 7323 §3.2: a non-RST segment without timestamps is dropped.
            None => return Answer::Nothing,
        }
    }
    let fin = seg.flags.contains(Flags::FIN);
    let syn = seg.flags.contains(Flags::SYN);
    let seq = seg.seq;
    let seg_len = payload.len() + usize::from(syn) + usize::from(fin);
    let wnd = rec.rcv_wnd as usize;
    let nxt = rec.rcv_nxt;
    let in_window = |s: SeqNumber| nxt <= s && s < nxt + wnd;
    let acceptable = match (seg_len, wnd) {
        (0, 0) => seq == nxt,
        (0, _) => in_window(seq),
        (_, 0) => seq == nxt,
        (n, _) => in_window(seq) || in_window(seq + (n - 1)),
    };
    if is_rst {
        // RFC 5961 §3.2 (a challenge inside the window), then RFC 1337: a reset at RCV.NXT
        // does not end TIME-WAIT either.
        return if acceptable && seq != nxt {
            Answer::Challenge
        } else {
            Answer::Nothing
        };
    }
    if !acceptable {
        let mut dsack = None;
        if seg_len > 0 && seq + seg_len <= nxt && !payload.is_empty() {
            dsack = Some((seq, seq + payload.len()));
        }
        if fin {
            // A retransmitted FIN: our ACK was lost; restart the 2×MSL wait.
            rec.expires = now + tw;
        }
        return Answer::Ack(dsack);
    }
    if syn {
        return Answer::Challenge;
    }
    let Some(ack) = seg.ack() else {
        return Answer::Nothing;
    };
    rec.last_rx_s = secs(now);
    if let (true, Some((tsval, _))) = (rec.ts_ok(), ts) {
        // RFC 7323 §4.3: the segment covers the ACK we sent (RCV.NXT).
        if seq <= nxt {
            rec.ts_recent = tsval;
        }
    }
    if ack > rec.snd_nxt {
        return Answer::Ack(None);
    }
    let oldest = rec.snd_nxt - (rec.max_snd_wnd as usize).clamp(1, 1 << 30);
    if ack < oldest {
        return Answer::Challenge;
    }
    if fin || !payload.is_empty() {
        rec.expires = now + tw;
        return Answer::Ack(None);
    }
    Answer::Nothing
}
