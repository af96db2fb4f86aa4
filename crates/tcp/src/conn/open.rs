//! Opening a connection: construction on reused or fresh storage, the active and passive
//! opens (and the SYN-cookie one), buffer hand-back, and negotiation of the peer's SYN options.

use burst_wire::tcp::{Options, TcpOption};

use super::*;

/// The options of a SYN that negotiation looks at, from one walk over them (the first of
/// each kind counts, as with `Options`' own look-ups).
#[derive(Debug, Clone, Copy, Default)]
struct SynOptions {
    mss: Option<u16>,
    window_scale: Option<u8>,
    sack_permitted: bool,
    timestamp: Option<(u32, u32)>,
}

impl SynOptions {
    fn parse(opts: &Options) -> SynOptions {
        let mut o = SynOptions::default();
        // `Options` are validated when built: the walk yields no errors (and would stop at
        // one, like the look-ups).
        for opt in opts.iter().map_while(Result::ok) {
            match opt {
                TcpOption::MaxSegmentSize(v) => {
                    o.mss.get_or_insert(v);
                }
                TcpOption::WindowScale(v) => {
                    o.window_scale.get_or_insert(v);
                }
                TcpOption::SackPermitted => o.sack_permitted = true,
                TcpOption::Timestamp { tsval, tsecr } => {
                    o.timestamp.get_or_insert((tsval, tsecr));
                }
                _ => {}
            }
        }
        o
    }
}

impl Connection {
    /// A connection in `state` on `bufs` (fresh storage when `None` or not sized for `cfg`).
    fn new(cfg: &TcpConfig, p: ConnParams, state: State, bufs: Option<Buffers>) -> Connection {
        let cfg = cfg.sanitized();
        let bufs = match bufs {
            Some(b) if b.fits(&cfg) => b,
            _ => Buffers::new(&cfg),
        };
        let mtu = p.mtu.max(MIN_MTU);
        let path_mss = mtu - 40;
        let adv_mss = cfg.mss.min(path_mss);
        let iw = initial_window(cfg.initial_window, usize::from(adv_mss));
        Connection {
            state,
            local_port: p.local_port,
            remote_port: p.remote_port,
            mtu,
            local_destination: p.local_destination,
            iss: p.iss,
            snd_una: p.iss,
            snd_nxt: p.iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: p.iss,
            snd_wscale: 0,
            send_buf: Ring::from_storage(bufs.send),
            snd_data: p.iss + 1,
            fin_queued: false,
            fin_seq: p.iss,
            syn_pending: true,
            nodelay: !cfg.nagle,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            rcv_wscale: 0,
            recv_buf: Ring::from_storage(bufs.recv),
            asm: Assembler::new(),
            rcv_fin: None,
            read_closed: false,
            last_ack_sent: SeqNumber(0),
            segs_unacked: 0,
            ack_now: false,
            dsack: None,
            rcv_win: cfg.recv_buffer_rounded(),
            rcv_rtt: Nanos::ZERO,
            rcv_rtt_mark: None,
            rcv_space_mark: None,
            ws_ok: false,
            sack_ok: false,
            ts_ok: false,
            ts_recent: 0,
            ts_offset: p.ts_offset,
            adv_mss,
            snd_mss: DEFAULT_MSS.min(path_mss),
            rto_at: None,
            delack_at: None,
            persist_at: None,
            keepalive_at: None,
            timewait_at: None,
            retries: 0,
            persist_backoff: 0,
            persist_unanswered: 0,
            ka_probes: 0,
            probe: None,
            force_send: false,
            rtt: RttEstimator::new(cfg.initial_rto, cfg.min_rto, cfg.max_rto),
            rtt_probe: None,
            rtt_ts_floor: None,
            keepalive: cfg.keepalive,
            last_rx: Nanos::ZERO,
            challenge_start: Nanos::ZERO,
            challenge_count: 0,
            cc: Congestion::new(cfg.congestion, iw),
            sb: Scoreboard::new(),
            in_recovery: false,
            rto_recovery: false,
            recovery_point: p.iss,
            high_rxt: p.iss,
            forced_lost: p.iss,
            dupacks: 0,
            rec_cwnd: None,
            rexmit_now: false,
            log: SendLog::from_storage(bufs.log),
            log_gap: None,
            rack: Rack::new(p.iss),
            reo_at: None,
            tlp_at: None,
            tlp_due: false,
            tlp_end: None,
            prr_delivered: 0,
            prr_out: 0,
            recover_fs: 0,
            undo: None,
            recovery_reported: RecoveryCounts::default(),
            pending_rst: None,
            events: Events::empty(),
            error: None,
            soft_error: None,
            counters: Counters::default(),
            cfg,
        }
    }

    /// An active open (RFC 9293 CONNECT): the connection starts in SYN-SENT and its first
    /// `poll_transmit` returns the SYN.
    pub fn connect(cfg: &TcpConfig, params: ConnParams, now: Nanos) -> Connection {
        Connection::connect_in(cfg, params, now, None)
    }

    /// [`Connection::connect`] on recycled ring storage (allocated when `None` or not sized
    /// for `cfg`).
    pub fn connect_in(
        cfg: &TcpConfig,
        params: ConnParams,
        now: Nanos,
        bufs: Option<Buffers>,
    ) -> Connection {
        let mut c = Connection::new(cfg, params, State::SynSent, bufs);
        c.last_rx = now;
        c.challenge_start = now;
        c
    }

    /// A passive open from a listener: `syn` is the peer's SYN (its payload, if any, is not
    /// taken: the peer sends it again). Starts in SYN-RECEIVED; the first `poll_transmit`
    /// returns the SYN-ACK.
    pub fn accept(cfg: &TcpConfig, params: ConnParams, now: Nanos, syn: &Repr) -> Connection {
        Connection::accept_in(cfg, params, now, syn, None)
    }

    /// [`Connection::accept`] on recycled ring storage (allocated when `None` or not sized
    /// for `cfg`).
    pub fn accept_in(
        cfg: &TcpConfig,
        params: ConnParams,
        now: Nanos,
        syn: &Repr,
        bufs: Option<Buffers>,
    ) -> Connection {
        let mut c = Connection::new(cfg, params, State::SynReceived, bufs);
        c.irs = syn.seq;
        c.rcv_nxt = syn.seq + 1;
        c.rcv_adv = c.rcv_nxt;
        c.last_ack_sent = c.rcv_nxt;
        c.negotiate(syn, false);
        c.snd_wnd = usize::from(syn.window);
        c.max_snd_wnd = c.snd_wnd;
        c.snd_wl1 = syn.seq;
        c.last_rx = now;
        c.challenge_start = now;
        c.touch_keepalive(now);
        c
    }

    /// A connection rebuilt from the ACK that completes a SYN-cookie handshake
    /// ([`crate::SynCookies::check`] gave `mss`): ESTABLISHED at once, without window scaling,
    /// SACK or timestamps (a cookie does not carry them). `params.iss` is the cookie.
    pub fn from_cookie(
        cfg: &TcpConfig,
        params: ConnParams,
        now: Nanos,
        ack: &Repr,
        mss: u16,
    ) -> Connection {
        Connection::from_cookie_in(cfg, params, now, ack, mss, None)
    }

    /// [`Connection::from_cookie`] on recycled ring storage (allocated when `None` or not
    /// sized for `cfg`).
    pub fn from_cookie_in(
        cfg: &TcpConfig,
        params: ConnParams,
        now: Nanos,
        ack: &Repr,
        mss: u16,
        bufs: Option<Buffers>,
    ) -> Connection {
        let mut c = Connection::new(cfg, params, State::Established, bufs);
        c.syn_pending = false;
        c.irs = ack.seq - 1usize;
        c.rcv_nxt = ack.seq;
        c.rcv_adv = c.rcv_nxt;
        c.last_ack_sent = c.rcv_nxt;
        c.snd_una = params.iss + 1;
        c.snd_nxt = c.snd_una;
        c.high_rxt = c.snd_una;
        c.forced_lost = c.snd_una;
        c.recovery_point = c.snd_una;
        c.snd_mss = mss.min(c.mtu - 40);
        c.snd_wnd = usize::from(ack.window);
        c.max_snd_wnd = c.snd_wnd;
        c.snd_wl1 = ack.seq;
        c.snd_wl2 = c.snd_una;
        c.events |= Events::CONNECTED | Events::WRITABLE;
        c.touch_keepalive(now);
        c
    }

    /// Hands the ring storage back once the connection no longer needs it: in TIME-WAIT or
    /// CLOSED with both queues empty (nothing left to send or to read). The connection goes
    /// on as before (a TIME-WAIT connection still answers with the same window); it just
    /// holds no buffers. `None` if it still needs them or gave them back already.
    pub fn take_buffers(&mut self) -> Option<Buffers> {
        if !matches!(self.state, State::TimeWait | State::Closed)
            || !self.send_buf.is_empty()
            || !self.recv_buf.is_empty()
            || !self.has_buffers()
        {
            return None;
        }
        let send = self.send_buf.take_storage()?;
        let recv = self.recv_buf.take_storage()?;
        let log = self.log.take_storage();
        Some(Buffers { send, recv, log })
    }

    /// Whether the connection still holds its ring storage.
    pub fn has_buffers(&self) -> bool {
        self.send_buf.has_storage() && self.recv_buf.has_storage() && self.log.has_storage()
    }

    /// The ring storage of a connection that is being dropped, whatever it held (`None` if
    /// it was handed back already).
    pub fn into_buffers(mut self) -> Option<Buffers> {
        self.take_buffers_any()
    }

    /// [`Connection::into_buffers`] in place: the connection is left without rings.
    pub(crate) fn take_buffers_any(&mut self) -> Option<Buffers> {
        if !self.has_buffers() {
            return None;
        }
        // Whatever is queued is dropped with the connection.
        self.send_buf.consume(usize::MAX);
        self.recv_buf.consume(usize::MAX);
        let send = self.send_buf.take_storage()?;
        let recv = self.recv_buf.take_storage()?;
        let log = self.log.take_storage();
        Some(Buffers { send, recv, log })
    }

    /// Sets the timestamp clock's offset (a stack computes it only once it knows the
    /// connection uses timestamps; nothing reads it before the first segment is sent).
    pub(crate) fn set_ts_offset(&mut self, offset: u32) {
        self.ts_offset = offset;
    }

    /// Whether timestamps are in use (negotiated, or offered in our SYN).
    pub(crate) fn timestamps_on(&self) -> bool {
        self.ts_ok
    }

    /// Applies the options of the peer's SYN (RFC 7323 §1.3, RFC 2018 §2, RFC 9293 §3.7.1).
    /// `active`: we sent a SYN first, so only what we offered can be on.
    pub(super) fn negotiate(&mut self, syn: &Repr, active: bool) {
        let o = SynOptions::parse(&syn.options);
        let shift = self.cfg.window_shift();
        let ws_offered = !active || (self.cfg.window_scaling == Negotiate::Offer && shift > 0);
        let ts_offered = !active || self.cfg.timestamps == Negotiate::Offer;
        match o.window_scale {
            Some(ws) if self.cfg.window_scaling != Negotiate::Off && ws_offered => {
                self.ws_ok = true;
                // RFC 7323 §2.3: a shift above 14 is treated as 14.
                self.snd_wscale = ws.min(14);
                self.rcv_wscale = shift;
            }
            _ => {
                self.ws_ok = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        match o.timestamp {
            Some((tsval, _)) if self.cfg.timestamps != Negotiate::Off && ts_offered => {
                self.ts_ok = true;
                self.ts_recent = tsval;
            }
            _ => self.ts_ok = false,
        }
        self.sack_ok = self.cfg.sack && o.sack_permitted;
        let peer_mss = o.mss.unwrap_or(DEFAULT_MSS).max(MIN_MTU - 40);
        self.snd_mss = peer_mss.min(self.mtu - 40);
        if !self.cfg.pmtu_discovery && !self.local_destination {
            self.snd_mss = self.snd_mss.min(DEFAULT_MSS);
        }
    }
}
