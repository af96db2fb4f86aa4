//! TIME-WAIT: takeover by a new SYN (RFC 6191) and the state handed to the compact record.

use super::*;

/// A TIME-WAIT connection's state as [`Connection::time_wait_state`] hands it to the stack's
/// compact record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeWaitState {
    /// SND.NXT (everything we sent, our FIN included, is acknowledged).
    pub snd_nxt: SeqNumber,
    /// RCV.NXT (past the peer's FIN).
    pub rcv_nxt: SeqNumber,
    /// The window field of our ACKs.
    pub window: u16,
    /// The receive window segments are checked against (RCV.ADV − RCV.NXT).
    pub rcv_wnd: u32,
    /// The largest window the peer offered (RFC 5961 §5.2's check of old ACKs).
    pub max_snd_wnd: u32,
    /// (TS.Recent, our timestamp offset) when timestamps are on.
    pub ts: Option<(u32, u32)>,
    /// Whether SACK is on (duplicates are reported with D-SACK).
    pub sack_ok: bool,
    /// When the last acceptable segment arrived (RFC 7323 §5.5's idle rule).
    pub last_rx: Nanos,
    /// The challenge-ACK budget (RFC 5961 §7): start of the second and ACKs sent in it.
    pub challenge_start: Nanos,
    /// Challenge ACKs sent since `challenge_start`.
    pub challenge_count: u32,
    /// When TIME-WAIT ends.
    pub expires: Nanos,
}

/// RFC 6191 and RFC 1122 §4.2.2.13 for a TIME-WAIT connection with `snd_nxt`, `rcv_nxt` and
/// TS.Recent (`None`: no timestamps): the ISS of the connection `seg` opens on its 4-tuple,
/// or `None` when `seg` is not a SYN that may take it over (see
/// [`Connection::time_wait_successor`]).
pub(crate) fn time_wait_successor(
    seg: &Repr,
    snd_nxt: SeqNumber,
    rcv_nxt: SeqNumber,
    ts_recent: Option<u32>,
) -> Option<SeqNumber> {
    if !seg.flags.contains(Flags::SYN) || seg.flags.contains(Flags::RST) || seg.ack().is_some() {
        return None;
    }
    // Against TS.Recent: above 0 newer, below 0 older (PAWS, RFC 7323 §5.3).
    let age = match (seg.options.timestamp(), ts_recent) {
        (Some((tsval, _)), Some(recent)) => Some(tsval.wrapping_sub(recent) as i32),
        _ => None,
    };
    if age.is_some_and(|a| a < 0) || !(seg.seq > rcv_nxt || age.is_some_and(|a| a > 0)) {
        return None;
    }
    let iss = snd_nxt + 65537usize;
    Some(if iss == SeqNumber(0) {
        iss + 1usize
    } else {
        iss
    })
}

impl Connection {
    /// RFC 6191 and RFC 1122 §4.2.2.13, as Linux's `tcp_timewait_state_process` does: whether
    /// `seg`, a SYN without ACK, may take over this TIME-WAIT connection's 4-tuple. It must
    /// start above everything the old connection received (SEG.SEQ > RCV.NXT) or carry a newer
    /// timestamp, and must not fail PAWS; an old duplicate SYN does neither. Returns the ISS of
    /// the new connection: past all the old one sent (Linux: SND.NXT + 65537), so a stray
    /// segment of the old connection cannot be taken for one of the new.
    pub fn time_wait_successor(&self, seg: &Repr) -> Option<SeqNumber> {
        if self.state != State::TimeWait
            || !seg.flags.contains(Flags::SYN)
            || seg.flags.contains(Flags::RST)
            || seg.ack().is_some()
        {
            return None;
        }
        time_wait_successor(
            seg,
            self.snd_nxt,
            self.rcv_nxt,
            self.ts_ok.then_some(self.ts_recent),
        )
    }

    /// What a TIME-WAIT connection needs to go on answering segments once the stack replaces
    /// it by a compact record (Linux's `tcp_timewait_sock`): `None` unless it is in TIME-WAIT
    /// with nothing left to send (its last ACK out) and its rings already given back.
    pub(crate) fn time_wait_state(&self) -> Option<TimeWaitState> {
        if self.state != State::TimeWait
            || self.ack_now
            || self.pending_rst.is_some()
            || self.has_buffers()
            || self.last_ack_sent != self.rcv_nxt
        {
            return None;
        }
        let expires = self.timewait_at?;
        // Without rings the field no longer changes: the ACKs the record sends carry what
        // this connection's next ACK would, and the right edge is final.
        let (window, right) = self.window_field(false);
        Some(TimeWaitState {
            snd_nxt: self.snd_nxt,
            rcv_nxt: self.rcv_nxt,
            window,
            rcv_wnd: dist(self.rcv_adv.max(right), self.rcv_nxt) as u32,
            max_snd_wnd: self.max_snd_wnd.min(u32::MAX as usize) as u32,
            ts: self.ts_ok.then_some((self.ts_recent, self.ts_offset)),
            sack_ok: self.sack_ok,
            last_rx: self.last_rx,
            challenge_start: self.challenge_start,
            challenge_count: self.challenge_count,
            expires,
        })
    }

    /// Leaves TIME-WAIT for CLOSED at once, without a segment or an event: a new connection
    /// took over the 4-tuple ([`Connection::time_wait_successor`]).
    pub fn end_time_wait(&mut self) {
        debug_assert_eq!(self.state, State::TimeWait);
        self.state = State::Closed;
        self.timewait_at = None;
        self.ack_now = false;
    }

    /// Enters TIME-WAIT (RFC 9293: 2×MSL, the seed's `TcpTimedWaitDelay`).
    pub(super) fn enter_time_wait(&mut self, now: Nanos) {
        self.state = State::TimeWait;
        self.timewait_at = Some(now + self.cfg.time_wait);
        self.rto_at = None;
        self.persist_at = None;
        self.keepalive_at = None;
        self.delack_at = None;
        self.probe = None;
        self.reo_at = None;
        self.tlp_cancel();
    }
}
