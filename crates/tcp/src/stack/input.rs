//! Segment and ICMP arrival: demultiplexing by 4-tuple, listeners (SYN queue, SYN cookies)
//! and resets for segments of no connection (RFC 9293 §3.10.7.1).

use core::net::{Ipv4Addr, SocketAddrV4};

use burst_port::Nanos;
use burst_wire::tcp::{Flags, Options, Repr, SeqNumber};

use super::time_wait::TW_BIT;
use super::{IcmpKind, ListenerHandle, Phase, Reply, TcpStack, Tuple};
use crate::conn::Connection;

impl TcpStack {
    /// Processes one TCP segment from `src` to `dst` (one of our addresses); the checksum was
    /// verified and `seg.payload_len == payload.len()`. Replies come out of `poll_transmit`.
    pub fn on_segment(
        &mut self,
        now: Nanos,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        seg: &Repr,
        payload: &[u8],
    ) {
        self.now = self.now.max(now);
        self.stats.segs_in += 1;
        if seg.flags.contains(Flags::RST) {
            self.stats.in_rsts += 1;
        }
        let tuple = Tuple {
            local: SocketAddrV4::new(dst, seg.dst_port),
            remote: SocketAddrV4::new(src, seg.src_port),
        };
        let mut iss = None;
        if let Some(v) = self.lookup(&tuple) {
            let took_over = if v & TW_BIT != 0 {
                let r = v & !TW_BIT;
                let t = self.record_takeover(r, seg);
                if t.is_none() {
                    return self.record_segment(r, seg, payload);
                }
                t
            } else {
                self.time_wait_takeover(v, seg)
            };
            match took_over {
                Some(s) => iss = Some(s),
                None => return self.deliver(now, v, seg, payload),
            }
        }
        let listener = self
            .listen_map
            .get(&(dst, seg.dst_port))
            .or_else(|| self.listen_map.get(&(Ipv4Addr::UNSPECIFIED, seg.dst_port)))
            .map(|&i| ListenerHandle {
                index: i,
                gen: self.listeners[i as usize].gen,
            });
        if seg.flags.contains(Flags::RST) {
            // RFC 9293 §3.10.7.1 / .2: an incoming reset for no connection is dropped.
            self.stats.no_port_rst += 1;
            return;
        }
        let Some(l) = listener else {
            tracing::debug!(%tuple.local, %tuple.remote, "tcp: no connection, reset");
            self.stats.no_port += 1;
            self.reply_rst(tuple, seg);
            return;
        };
        let syn = seg.flags.contains(Flags::SYN);
        match seg.ack() {
            // RFC 9293 §3.10.7.2: a SYN without ACK opens a connection.
            None if syn => self.on_syn(now, l, tuple, seg, iss),
            Some(ack) if !syn && self.cfg.syn_cookies => {
                self.on_cookie_ack(now, l, tuple, seg, ack, payload)
            }
            // An ACK (or a SYN-ACK) for a listener: reset (§3.10.7.2 second check); anything
            // else without ACK is dropped there, but a reset tells the peer sooner.
            _ => {
                self.stats.listen_bad_segment += 1;
                self.reply_rst(tuple, seg);
            }
        }
    }

    /// A segment for the connection at `idx`.
    fn deliver(&mut self, now: Nanos, idx: u32, seg: &Repr, payload: &[u8]) {
        let e = self.slots[idx as usize]
            .entry
            .as_ref()
            .expect("table entry");
        if e.phase == Phase::HalfOpen
            && seg.ack().is_some()
            && !seg.flags.contains(Flags::RST)
            && self.accept_queue_full(e.listener)
        {
            // Like Linux (tcp_abort_on_overflow off): ignore the handshake's ACK while the
            // accept queue is full; our SYN-ACK retransmission makes the peer ACK again.
            self.stats.listen_overflows += 1;
            return;
        }
        let e = self.slots[idx as usize]
            .entry
            .as_mut()
            .expect("table entry");
        e.conn.on_segment(now, seg, payload);
        self.touch(idx);
    }

    /// A SYN for the connection at `idx`: if that is a TIME-WAIT connection the application
    /// has let go of, `time_wait_reuse` is on and the SYN is new (not an old duplicate, see
    /// [`Connection::time_wait_successor`]), the old connection ends here, leaves the table,
    /// and the SYN goes on to the listener with the returned ISS.
    fn time_wait_takeover(&mut self, idx: u32, seg: &Repr) -> Option<SeqNumber> {
        if !self.cfg.time_wait_reuse || !seg.flags.contains(Flags::SYN) {
            return None;
        }
        let e = self.slots[idx as usize].entry.as_ref()?;
        if e.phase != Phase::Released || !self.has_listener(e.tuple.local) {
            return None;
        }
        let e = self.slots[idx as usize].entry.as_mut()?;
        let iss = e.conn.time_wait_successor(seg)?;
        e.conn.end_time_wait();
        e.in_table = false;
        self.table.remove(&e.tuple);
        self.last_lookup = None;
        self.stats.time_wait_reused += 1;
        // Freed now, or by `poll_transmit` if a segment of it is still waiting to go out.
        self.settle(idx);
        Some(iss)
    }

    fn accept_queue_full(&self, l: Option<ListenerHandle>) -> bool {
        l.and_then(|l| self.listener_ref(l))
            .is_some_and(|l| l.accept.len() >= l.backlog)
    }

    /// A SYN for listener `l`: a half-open connection in its SYN queue, or a cookie SYN-ACK when
    /// the queue (or the table) is full, or a drop.
    /// `iss`: the ISS to use instead of the generator's (a SYN that took over a TIME-WAIT
    /// connection's 4-tuple).
    fn on_syn(
        &mut self,
        now: Nanos,
        l: ListenerHandle,
        tuple: Tuple,
        seg: &Repr,
        iss: Option<SeqNumber>,
    ) {
        let Some(lst) = self.listener_ref(l) else {
            return;
        };
        if lst.accept.len() >= lst.backlog {
            // Like Linux: nobody is accepting, so a new handshake could not complete anyway.
            self.stats.listen_drops += 1;
            return;
        }
        let queue_full = lst.syn_count >= self.cfg.syn_backlog;
        if queue_full || self.free.is_empty() {
            if self.cfg.syn_cookies {
                self.reply_cookie(now, tuple, seg);
            } else if queue_full {
                tracing::debug!(%tuple.remote, "tcp: SYN queue full, dropping SYN");
                self.stats.listen_drops += 1;
            } else {
                self.stats.table_full += 1;
            }
            return;
        }
        let mut params = self.params(now, tuple, false);
        if let Some(s) = iss {
            params.iss = s;
        }
        let bufs = self.buffers();
        let mut conn = Connection::accept_in(&self.cfg.tcp, params, now, seg, Some(bufs));
        if conn.timestamps_on() {
            // Negotiated from the SYN: only now is the offset's hash worth computing (the
            // SYN-ACK, the first segment to carry it, is not built yet).
            conn.set_ts_offset(self.isn.ts_offset(tuple.local, tuple.remote));
        }
        let idx = self.insert(conn, tuple, Phase::HalfOpen, Some(l));
        self.listener_mut(l).expect("listener").syn_count += 1;
        self.touch(idx);
    }

    /// An ACK for a listener with cookies on: the third segment of a cookie handshake if the
    /// cookie checks (RFC 4987 §3.6), else a reset.
    fn on_cookie_ack(
        &mut self,
        now: Nanos,
        l: ListenerHandle,
        tuple: Tuple,
        seg: &Repr,
        ack: SeqNumber,
        payload: &[u8],
    ) {
        let Some(mss) = self
            .cookies
            .check(now, tuple.local, tuple.remote, seg.seq, ack)
        else {
            self.stats.syn_cookies_failed += 1;
            self.reply_rst(tuple, seg);
            return;
        };
        let Some(lst) = self.listener_ref(l) else {
            return;
        };
        if lst.accept.len() >= lst.backlog {
            self.stats.listen_overflows += 1;
            return;
        }
        if self.free.is_empty() {
            self.stats.table_full += 1;
            return;
        }
        // A cookie connection has no timestamps.
        let mut params = self.params(now, tuple, false);
        params.iss = ack - 1usize;
        let bufs = self.buffers();
        let mut conn = Connection::from_cookie_in(&self.cfg.tcp, params, now, seg, mss, Some(bufs));
        if !payload.is_empty() || seg.flags.contains(Flags::FIN) {
            // Data (or a FIN) riding on the completing ACK.
            conn.on_segment(now, seg, payload);
        }
        self.stats.syn_cookies_validated += 1;
        // Through the SYN queue bookkeeping: `sync` moves it to the accept queue at once.
        let idx = self.insert(conn, tuple, Phase::HalfOpen, Some(l));
        self.listener_mut(l).expect("listener").syn_count += 1;
        self.touch(idx);
    }

    /// A SYN-ACK carrying a cookie as our ISN; MSS only (a cookie cannot remember window scale,
    /// SACK or timestamps).
    fn reply_cookie(&mut self, now: Nanos, tuple: Tuple, syn: &Repr) {
        let peer_mss = syn.options.mss().unwrap_or(crate::config::DEFAULT_MSS);
        let cookie = self
            .cookies
            .encode(now, tuple.local, tuple.remote, syn.seq, peer_mss);
        let adv_mss = self.cfg.tcp.mss.min((self.room - 20) as u16);
        let window = self.cfg.tcp.recv_buffer_rounded().min(65535) as u16;
        let mut repr = Repr {
            src_port: tuple.local.port(),
            dst_port: tuple.remote.port(),
            seq: cookie,
            flags: Flags::SYN,
            window,
            options: Options::syn(adv_mss, None, false, None),
            ..Repr::default()
        };
        repr.set_ack(Some(syn.seq + 1usize));
        if self.push_reply(tuple, repr) {
            self.stats.syn_cookies_sent += 1;
        }
    }

    /// The reset RFC 9293 §3.10.7.1 prescribes for a segment of no connection: `<SEQ=SEG.ACK>
    /// <CTL=RST>` if it had an ACK, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. Never for
    /// a reset.
    pub(crate) fn reply_rst(&mut self, tuple: Tuple, seg: &Repr) {
        if seg.flags.contains(Flags::RST) {
            return;
        }
        let mut repr = Repr {
            src_port: tuple.local.port(),
            dst_port: tuple.remote.port(),
            flags: Flags::RST,
            ..Repr::default()
        };
        match seg.ack() {
            Some(a) => repr.seq = a,
            None => {
                repr.seq = SeqNumber(0);
                repr.set_ack(Some(seg.seq + seg.segment_len()));
            }
        }
        self.push_reply(tuple, repr);
    }

    pub(super) fn push_reply(&mut self, tuple: Tuple, repr: Repr) -> bool {
        if self.replies.len() >= self.cfg.reply_queue {
            self.stats.reply_queue_full += 1;
            return false;
        }
        self.replies.push_back(Reply {
            src: *tuple.local.ip(),
            dst: *tuple.remote.ip(),
            repr,
        });
        true
    }

    /// An ICMP error quoting a segment we sent: `quoted` is the quoted IPv4 header and at least
    /// the first 8 bytes of TCP (RFC 792). Finds the connection and passes the error on (the
    /// connection checks the quoted sequence number, RFC 5927 §4.1). Returns whether a
    /// connection took it.
    pub fn on_icmp(&mut self, now: Nanos, quoted: &[u8], kind: IcmpKind) -> bool {
        self.now = self.now.max(now);
        let Some((tuple, seq)) = quoted_tuple(quoted) else {
            self.stats.icmp_no_conn += 1;
            return false;
        };
        let Some(idx) = self.lookup(&tuple) else {
            self.stats.icmp_no_conn += 1;
            return false;
        };
        if idx & TW_BIT != 0 {
            // A TIME-WAIT record has nothing in flight for the error to be about (the
            // engine ignores it the same way).
            self.stats.icmp_delivered += 1;
            return true;
        }
        let e = self.slots[idx as usize]
            .entry
            .as_mut()
            .expect("table entry");
        match kind {
            IcmpKind::FragNeeded { mtu } => {
                e.conn.on_frag_needed(now, mtu, seq);
            }
            IcmpKind::Unreachable(err) => e.conn.on_icmp_error(now, err, seq),
        }
        self.stats.icmp_delivered += 1;
        self.touch(idx);
        true
    }
}

/// The 4-tuple (from our side) and sequence number of a quoted IPv4 + TCP header.
fn quoted_tuple(q: &[u8]) -> Option<(Tuple, SeqNumber)> {
    if q.len() < 20 || q[0] >> 4 != 4 || q[9] != 6 {
        return None;
    }
    let ihl = usize::from(q[0] & 0x0f) * 4;
    let tcp = q.get(ihl..ihl + 8).filter(|_| ihl >= 20)?;
    let ip = |o: usize| Ipv4Addr::new(q[o], q[o + 1], q[o + 2], q[o + 3]);
    let port = |o: usize| u16::from_be_bytes([tcp[o], tcp[o + 1]]);
    let seq = SeqNumber(u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]));
    // The quoted segment went from us (source) to the peer.
    Some((
        Tuple {
            local: SocketAddrV4::new(ip(12), port(0)),
            remote: SocketAddrV4::new(ip(16), port(2)),
        },
        seq,
    ))
}
