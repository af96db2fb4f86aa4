//! One TCP connection: the RFC 9293 state machine with its send and receive queues, loss
//! recovery and timers, as a sans-IO value.
//!
//! # Driving a connection
//!
//! A driver (the stack's TCP layer, or a test) owns the connection and calls, in any order:
//!
//! - [`Connection::on_segment`] for every segment of this 4-tuple (checksum already verified);
//! - [`Connection::on_timeout`] once [`Connection::next_deadline`] has passed;
//! - the socket calls ([`Connection::send`], [`Connection::recv`], [`Connection::peek`] /
//!   [`Connection::consume`], [`Connection::shutdown_write`], [`Connection::close`],
//!   [`Connection::abort`]);
//!
//! and after any of them [`Connection::poll_transmit`] until it returns `None`, handing each
//! segment to IP; then re-arms its timer for [`Connection::next_deadline`] and collects
//! [`Connection::take_events`]. Nothing allocates after construction.
//!
//! The module is split by mechanism: `input` (segment arrival, RFC 9293 §3.10.7), `output`
//! (what to send next), `timers` (RTO, delayed ACK, persist, keep-alive, TIME-WAIT), `recovery`
//! (RACK-TLP, proportional rate reduction, undo of spurious retransmissions), `open`
//! (construction, the opens, SYN option negotiation), `api` (the socket calls), `icmp` (ICMP
//! errors), `time_wait` (takeover by a new SYN, the compact record's state), `stats` (counters
//! and snapshots), `buffers` (ring storage reused across connections), `autotune` (the receive window's
//! growth).

mod api;
mod autotune;
mod buffers;
mod icmp;
mod input;
mod open;
mod output;
mod recovery;
mod stats;
mod time_wait;
mod timers;

pub use buffers::Buffers;
pub use stats::{ConnStats, Counters, RecoveryCounts};
pub(crate) use time_wait::{time_wait_successor, TimeWaitState};

use burst_port::Nanos;
use burst_wire::tcp::{Flags, Repr, SeqNumber};

use crate::assembler::Assembler;
use crate::cc::{initial_window, Congestion, CongestionControl};
use crate::config::{KeepAlive, LossDetection, Negotiate, TcpConfig, DEFAULT_MSS, MIN_MTU};
use crate::rack::Rack;
use crate::ring::Ring;
use crate::rtt::RttEstimator;
use crate::scoreboard::Scoreboard;
use crate::txlog::{self, Seg, SendLog};

/// Connection states (RFC 9293 §3.3.2). LISTEN belongs to the listener, not to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection (never opened, or finished).
    Closed,
    /// Our SYN is sent; waiting for the peer's SYN.
    SynSent,
    /// SYN received and SYN-ACK sent; waiting for its ACK.
    SynReceived,
    /// Open in both directions.
    Established,
    /// We closed; our FIN is not yet acknowledged.
    FinWait1,
    /// We closed and our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer closed; we may still send.
    CloseWait,
    /// Both closed at once; waiting for the ACK of our FIN.
    Closing,
    /// The peer closed, then we did; waiting for the ACK of our FIN.
    LastAck,
    /// Both FINs acknowledged; waiting 2×MSL for stray segments.
    TimeWait,
}

impl State {
    /// Whether both sequence spaces are synchronized (every state after the handshake).
    pub fn is_synchronized(self) -> bool {
        !matches!(self, State::Closed | State::SynSent | State::SynReceived)
    }
}

/// Why a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnError {
    /// The peer answered our SYN with a reset.
    Refused,
    /// The peer reset an established connection.
    Reset,
    /// Retransmissions or keep-alive probes went unanswered.
    TimedOut,
    /// ICMP reported the destination unreachable (RFC 1122 §4.2.3.9, RFC 5927).
    Unreachable,
}

/// ICMP destination-unreachable causes relevant to TCP (RFC 1122 §4.2.3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpError {
    /// Network unreachable (soft).
    NetUnreachable,
    /// Host unreachable (soft).
    HostUnreachable,
    /// Protocol unreachable (hard).
    ProtocolUnreachable,
    /// Port unreachable (hard).
    PortUnreachable,
    /// Communication administratively prohibited (soft).
    AdminProhibited,
}

impl IcmpError {
    /// Whether RFC 1122 calls it a hard error.
    pub fn is_hard(self) -> bool {
        matches!(
            self,
            IcmpError::ProtocolUnreachable | IcmpError::PortUnreachable
        )
    }
}

/// Things that happened since the last [`Connection::take_events`], as a small bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Events(u8);

impl Events {
    /// The handshake completed.
    pub const CONNECTED: Events = Events(1);
    /// New bytes can be read.
    pub const READABLE: Events = Events(2);
    /// Send-queue space was freed.
    pub const WRITABLE: Events = Events(4);
    /// The peer's FIN arrived: reads end once the queue is drained.
    pub const READ_CLOSED: Events = Events(8);
    /// The connection reached CLOSED.
    pub const CLOSED: Events = Events(16);
    /// It failed; see [`Connection::error`].
    pub const ERROR: Events = Events(32);
    /// Half of the data retransmissions went unanswered: the route may be dead (seed: dead
    /// gateway detection switches the destination to the next default gateway at this point,
    /// `TcpMaxDataRetransmissions / 2`, i.e. after the third retransmission of five).
    pub const ROUTE_SUSPECT: Events = Events(64);

    /// No events.
    pub const fn empty() -> Events {
        Events(0)
    }

    /// Whether no event is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every event of `other` is set.
    pub const fn contains(self, other: Events) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl core::ops::BitOr for Events {
    type Output = Events;
    fn bitor(self, rhs: Events) -> Events {
        Events(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Events {
    fn bitor_assign(&mut self, rhs: Events) {
        self.0 |= rhs.0;
    }
}

/// What the driver knows about the path when it creates a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnParams {
    /// Our port.
    pub local_port: u16,
    /// The peer's port.
    pub remote_port: u16,
    /// Our initial sequence number (from [`crate::IsnGenerator`], or a SYN cookie).
    pub iss: SeqNumber,
    /// Offset added to our millisecond timestamp clock ([`crate::IsnGenerator::ts_offset`]).
    pub ts_offset: u32,
    /// IP MTU towards the peer (route / interface / PMTU cache).
    pub mtu: u16,
    /// Whether the peer is on a directly connected subnet (with PMTU discovery off, others
    /// get a 536-byte MSS).
    pub local_destination: bool,
}

/// A segment to send that is not part of the data flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// Zero-window probe (persist timer).
    Window,
    /// Keep-alive probe.
    KeepAlive,
}

/// One TCP connection (see the module docs for the calling order).
#[derive(Debug, Clone)]
pub struct Connection {
    cfg: TcpConfig,
    state: State,
    local_port: u16,
    remote_port: u16,
    mtu: u16,
    local_destination: bool,

    // --- send sequence space (RFC 9293 §3.3.1) ---
    iss: SeqNumber,
    snd_una: SeqNumber,
    /// Highest sequence number sent + 1 (SND.MAX in BSD terms: never moves back;
    /// retransmissions are tracked by `high_rxt`).
    snd_nxt: SeqNumber,
    snd_wnd: usize,
    max_snd_wnd: usize,
    snd_wl1: SeqNumber,
    snd_wl2: SeqNumber,
    snd_wscale: u8,
    send_buf: Ring,
    /// Sequence number of the first byte in `send_buf`.
    snd_data: SeqNumber,
    fin_queued: bool,
    /// Sequence number our FIN occupies (valid when `fin_queued`).
    fin_seq: SeqNumber,
    /// Our SYN (SYN-ACK) must be (re)sent.
    syn_pending: bool,
    nodelay: bool,

    // --- receive sequence space ---
    irs: SeqNumber,
    rcv_nxt: SeqNumber,
    /// Right edge of the window we advertised (never moves left, RFC 9293 §3.8.6.2.2).
    rcv_adv: SeqNumber,
    rcv_wscale: u8,
    recv_buf: Ring,
    asm: Assembler,
    /// The peer's FIN, once seen (possibly out of order).
    rcv_fin: Option<SeqNumber>,
    read_closed: bool,
    last_ack_sent: SeqNumber,
    segs_unacked: u8,
    ack_now: bool,
    dsack: Option<(SeqNumber, SeqNumber)>,
    /// The most the receive window covers, unread bytes included: `recv_buffer` at first,
    /// grown by auto-tuning up to the ring's capacity (never shrinks).
    rcv_win: usize,
    /// The receiver's RTT estimate from the window (zero until measured).
    rcv_rtt: Nanos,
    /// The RTT measurement under way: done when RCV.NXT reaches the sequence number.
    rcv_rtt_mark: Option<(SeqNumber, Nanos)>,
    /// The application's read position and the time when the current round of auto-tuning
    /// began.
    rcv_space_mark: Option<(SeqNumber, Nanos)>,

    // --- options ---
    ws_ok: bool,
    sack_ok: bool,
    ts_ok: bool,
    ts_recent: u32,
    ts_offset: u32,
    adv_mss: u16,
    snd_mss: u16,

    // --- timers ---
    rto_at: Option<Nanos>,
    delack_at: Option<Nanos>,
    persist_at: Option<Nanos>,
    keepalive_at: Option<Nanos>,
    timewait_at: Option<Nanos>,
    retries: u8,
    persist_backoff: u32,
    /// Zero-window probes sent since the peer last answered: a silent peer is given up on
    /// after `data_retries` of them, an answering one never (RFC 1122 §4.2.2.17).
    persist_unanswered: u8,
    ka_probes: u8,
    probe: Option<Probe>,
    /// Send even if Nagle / SWS avoidance would wait (the persist timer's override).
    force_send: bool,
    rtt: RttEstimator,
    /// The one timed segment when timestamps are off: (sequence number to be acked, sent at).
    rtt_probe: Option<(SeqNumber, Nanos)>,
    /// Our timestamp clock at the last retransmission timeout: echoes older than this
    /// measure the outage, not the path, and are not RTT samples.
    rtt_ts_floor: Option<u32>,
    keepalive: Option<KeepAlive>,
    /// When the last acceptable segment arrived (a zero-window peer that still answers is not
    /// timed out).
    last_rx: Nanos,
    /// Start of the current one-second challenge-ACK budget, and ACKs sent in it.
    challenge_start: Nanos,
    challenge_count: u32,

    // --- congestion control and loss recovery ---
    cc: Congestion,
    sb: Scoreboard,
    in_recovery: bool,
    rto_recovery: bool,
    /// RFC 6582 `recover` / RFC 6675 `RecoveryPoint`.
    recovery_point: SeqNumber,
    /// RFC 6675 `HighRxt`: retransmissions have covered everything below this.
    high_rxt: SeqNumber,
    /// Everything un-SACKed below this is lost regardless of SACK (the first segment at fast
    /// retransmit, all outstanding data after a timeout or an MTU drop).
    forced_lost: SeqNumber,
    dupacks: u32,
    /// NewReno's inflated window during non-SACK fast recovery (RFC 6582 §3.2).
    rec_cwnd: Option<usize>,
    /// The fast retransmission is due regardless of the window (RFC 5681 §3.2 step 2).
    rexmit_now: bool,
    /// When each byte in flight was sent, and which are SACKed or lost (RACK's per-segment
    /// state; kept when SACK is on and loss detection is RACK).
    log: SendLog,
    /// The log overflowed and does not describe the flight below this: duplicate-ACK loss
    /// detection until it is acknowledged.
    log_gap: Option<SeqNumber>,
    rack: Rack,
    /// RACK's reordering timer (RFC 8985 §6.2 step 5).
    reo_at: Option<Nanos>,
    /// The tail loss probe timer (PTO, RFC 8985 §7.2).
    tlp_at: Option<Nanos>,
    /// A tail loss probe is due: the next `poll_transmit` sends it.
    tlp_due: bool,
    /// RFC 8985 TLP.end_seq and TLP.is_retrans of the probe in flight.
    tlp_end: Option<(SeqNumber, bool)>,
    /// RFC 6937: bytes delivered and sent since recovery began, and the flight then.
    prr_delivered: usize,
    prr_out: usize,
    recover_fs: usize,
    /// What a spurious retransmission would undo.
    undo: Option<Undo>,
    /// The recovery counters as the stack last collected them ([`Connection::take_recovery`]).
    recovery_reported: RecoveryCounts,

    // --- reporting ---
    /// A reset answering an unacceptable segment: (sequence number, acknowledgment).
    pending_rst: Option<(SeqNumber, Option<SeqNumber>)>,
    events: Events,
    error: Option<ConnError>,
    soft_error: Option<ConnError>,
    counters: Counters,
}

/// The state before a loss response, to restore if the retransmissions prove spurious
/// (RFC 3522 / 4015 with timestamps, RFC 3708 with D-SACK; Linux's `undo_marker`).
#[derive(Debug, Clone)]
struct Undo {
    /// The congestion controller before the reduction.
    cc: Congestion,
    /// SND.UNA and SND.NXT when the episode began: what its retransmissions cover.
    marker: SeqNumber,
    high: SeqNumber,
    /// Our timestamp on the episode's first retransmission (RFC 3522 `RetransmitTS`).
    rexmit_ts: Option<u32>,
    /// The first ACK beyond `marker` was checked (Eifel looks at that one only).
    eifel_done: bool,
    /// Retransmissions in the episode, and how many the peer reported duplicate (D-SACK).
    rexmits: u32,
    dsacked: u32,
    /// The episode began with a retransmission timeout.
    rto: bool,
}

/// The timestamp a connection with `offset` puts on a segment sent at `t` (1 ms ticks).
#[inline]
pub(crate) fn ts_at(t: Nanos, offset: u32) -> u32 {
    ((t.0 / 1_000_000) as u32).wrapping_add(offset)
}

/// Signed distance `a − b` as a byte count, zero when `a` is not ahead of `b`.
#[inline]
pub(crate) fn dist(a: SeqNumber, b: SeqNumber) -> usize {
    (a - b).max(0) as usize
}

impl Connection {
    // ------------------------------------------------------------------------------------
    // Shared helpers
    // ------------------------------------------------------------------------------------

    /// The window we may fill: NewReno's inflated window in non-SACK recovery, else the
    /// algorithm's.
    fn cwnd(&self) -> usize {
        self.rec_cwnd.unwrap_or_else(|| self.cc.cwnd())
    }

    /// Bytes of TCP options on every synchronized segment (the timestamps).
    fn ts_len(&self) -> usize {
        if self.ts_ok {
            12
        } else {
            0
        }
    }

    /// Payload of a full-sized segment we send.
    fn seg_size(&self) -> usize {
        (usize::from(self.snd_mss) - self.ts_len()).max(1)
    }

    /// Payload of a full-sized segment the peer sends us (for window rounding and ACK
    /// pacing).
    fn rcv_seg_size(&self) -> usize {
        (usize::from(self.adv_mss) - self.ts_len()).max(1)
    }

    /// Our timestamp clock (RFC 7323 §5.4: 1 ms ticks, with a per-connection offset).
    fn ts_now(&self, now: Nanos) -> u32 {
        ts_at(now, self.ts_offset)
    }

    /// Whether RACK detects losses now: SACK is on, RACK is configured and the transmission
    /// log describes the whole flight.
    #[inline]
    fn rack_on(&self) -> bool {
        self.sack_ok && self.cfg.loss_detection == LossDetection::Rack && self.log_gap.is_none()
    }

    /// Whether the transmission log is kept (it may still be catching up after an overflow).
    #[inline]
    fn log_kept(&self) -> bool {
        self.sack_ok && self.cfg.loss_detection == LossDetection::Rack
    }

    /// SACKed bytes above SND.UNA, from the log under RACK, else from the scoreboard.
    fn sacked_bytes(&self) -> usize {
        if self.rack_on() {
            self.log.sacked_bytes()
        } else {
            self.sb.sacked_bytes()
        }
    }

    /// Everything un-SACKed below this is lost (RFC 6675 `IsLost` as a boundary).
    fn lost_end(&self) -> SeqNumber {
        if !(self.in_recovery || self.rto_recovery) {
            return self.snd_una;
        }
        let mut e = self.forced_lost;
        if self.sack_ok {
            if let Some(b) = self
                .sb
                .lost_boundary(usize::from(self.cfg.dup_ack_threshold), self.seg_size())
            {
                e = e.max(b);
            }
        }
        e.min(self.snd_nxt).max(self.snd_una)
    }

    /// RFC 6675 `pipe`: outstanding bytes, less the SACKed ones and the lost ones not yet
    /// retransmitted.
    fn pipe(&self) -> usize {
        let out = dist(self.snd_nxt, self.snd_una);
        if self.rack_on() {
            // Lost bytes not yet retransmitted have left the network; retransmitted ones are
            // in it again (their records are no longer marked lost).
            return out
                .saturating_sub(self.log.sacked_bytes())
                .saturating_sub(self.log.lost_bytes());
        }
        if !(self.in_recovery || self.rto_recovery) && self.sb.is_empty() {
            // Nothing SACKed and nothing lost (`lost_end` is SND.UNA outside recovery).
            return out;
        }
        let sacked = self.sb.sacked_bytes();
        let start = self.high_rxt.max(self.snd_una);
        let le = self.lost_end();
        let lost = dist(le, start).saturating_sub(self.sb.sacked_in(start, le));
        out.saturating_sub(sacked).saturating_sub(lost)
    }

    /// The window to advertise: `(field value, right edge)`. Free buffer space rounded down
    /// to whole segments (receiver SWS avoidance, RFC 1122 §4.2.3.3; the seed's "even
    /// increments of the MSS"), never moving the right edge left (RFC 9293 §3.8.6.2.2).
    fn window_field(&self, syn: bool) -> (u16, SeqNumber) {
        let shift = if self.ws_ok && !syn {
            self.rcv_wscale
        } else {
            0
        };
        let seg = self.rcv_seg_size();
        let free = self
            .recv_buf
            .free()
            .min(self.rcv_win.saturating_sub(self.recv_buf.len()));
        let wnd = free.min(65535usize << shift) / seg * seg;
        let cur = dist(self.rcv_adv, self.rcv_nxt);
        let mut field = wnd >> shift;
        if (field << shift) < cur {
            field = cur.div_ceil(1 << shift);
        }
        let field = field.min(65535);
        (field as u16, self.rcv_nxt + (field << shift))
    }

    /// After the application read: send a window update if the window grew enough to matter
    /// (at least two segments, or half the buffer).
    fn maybe_window_update(&mut self) {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        let (_, right) = self.window_field(false);
        let grow = dist(right, self.rcv_adv);
        let threshold =
            (2 * self.rcv_seg_size()).min(self.rcv_win.min(self.recv_buf.capacity()) / 2);
        if grow >= threshold.max(1) {
            self.ack_now = true;
        }
    }

    /// (Re)arms the keep-alive timer after activity.
    fn touch_keepalive(&mut self, now: Nanos) {
        self.ka_probes = 0;
        self.keepalive_at = match self.keepalive {
            Some(k) if !matches!(self.state, State::Closed | State::TimeWait) => Some(now + k.time),
            _ => None,
        };
    }

    /// Enters CLOSED, reporting `err`.
    fn enter_closed(&mut self, err: Option<ConnError>) {
        if let Some(e) = err {
            tracing::debug!(port = self.local_port, ?e, "tcp: connection failed");
            self.error = Some(e);
            self.events |= Events::ERROR;
        }
        self.state = State::Closed;
        self.events |= Events::CLOSED;
        self.rto_at = None;
        self.delack_at = None;
        self.persist_at = None;
        self.keepalive_at = None;
        self.timewait_at = None;
        self.ack_now = false;
        self.syn_pending = false;
        self.probe = None;
        self.reo_at = None;
        self.tlp_cancel();
    }
}
