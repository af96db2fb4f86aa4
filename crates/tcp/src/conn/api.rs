//! The socket side of a connection: queueing, reading, closing, options and state queries.

use super::*;

impl Connection {
    /// Queues bytes for sending; returns how many fit in the send buffer (0 once the write side
    /// is shut down or the connection is not open).
    pub fn send(&mut self, data: &[u8]) -> usize {
        let open = matches!(
            self.state,
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
        );
        if !open || self.fin_queued {
            return 0;
        }
        self.send_buf.push(data)
    }

    /// Free space in the send buffer.
    pub fn send_capacity(&self) -> usize {
        self.send_buf.free()
    }

    /// Copies received bytes into `out`; returns how many (0 when none are queued; see
    /// [`Connection::is_read_closed`] for end of stream).
    pub fn recv(&mut self, out: &mut [u8]) -> usize {
        let n = self.recv_buf.read_at(0, out);
        self.consume(n);
        n
    }

    /// The received bytes at the head of the queue, without copying (a contiguous part of
    /// them; call again after [`Connection::consume`] for the rest).
    pub fn peek(&self) -> &[u8] {
        self.recv_buf.peek()
    }

    /// Drops `n` received bytes (after [`Connection::peek`]); may open the window.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = self.recv_buf.consume(n);
        if n > 0 {
            self.maybe_window_update();
        }
        n
    }

    /// Bytes waiting to be read.
    pub fn recv_queue(&self) -> usize {
        self.recv_buf.len()
    }

    /// Whether the peer's FIN arrived and every byte before it has been read.
    pub fn is_read_closed(&self) -> bool {
        self.read_closed && self.recv_buf.is_empty()
    }

    /// Ends our direction (RFC 9293 CLOSE with reads still allowed): a FIN follows the queued
    /// data.
    pub fn shutdown_write(&mut self) {
        if self.fin_queued {
            return;
        }
        match self.state {
            State::SynSent => {
                // RFC 9293 §3.10.4: nothing was synchronized, just forget the connection.
                self.enter_closed(None);
                return;
            }
            State::SynReceived => {}
            State::Established => self.state = State::FinWait1,
            State::CloseWait => self.state = State::LastAck,
            _ => return,
        }
        self.fin_queued = true;
        self.fin_seq = self.snd_data + self.send_buf.len();
    }

    /// Closes the connection: like [`Connection::shutdown_write`], but if received data was
    /// left unread the peer is reset instead (RFC 1122 §4.2.2.13).
    pub fn close(&mut self) {
        if !self.recv_buf.is_empty() {
            self.abort();
        } else {
            self.shutdown_write();
        }
    }

    /// Aborts at once (RFC 9293 ABORT): a reset goes out if the peer knows the connection,
    /// and the connection is CLOSED.
    pub fn abort(&mut self) {
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.pending_rst = Some((self.snd_nxt, None));
        }
        if self.state != State::Closed {
            self.enter_closed(None);
        }
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.nodelay = nodelay;
    }

    /// Turns keep-alives on with the given timing, or off.
    pub fn set_keepalive(&mut self, now: Nanos, keepalive: Option<KeepAlive>) {
        self.keepalive = keepalive;
        self.ka_probes = 0;
        self.keepalive_at = None;
        self.touch_keepalive(now);
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The error that closed the connection, if any.
    pub fn error(&self) -> Option<ConnError> {
        self.error
    }

    /// Our port.
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// The peer's port.
    pub fn remote_port(&self) -> u16 {
        self.remote_port
    }

    /// Returns and clears the events gathered since the last call.
    pub fn take_events(&mut self) -> Events {
        core::mem::take(&mut self.events)
    }

    /// Whether events are waiting (cheap check for a driver's ready list).
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The counters alone (cheap, unlike [`Connection::stats`]).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The loss-recovery counters that changed since the last call, as increments (a stack
    /// sums them over its connections); `None` when nothing changed.
    #[inline]
    pub fn take_recovery(&mut self) -> Option<RecoveryCounts> {
        // Called by the stack after every input and output: the counters only grow, so equal
        // sums mean nothing changed, and the sums are cheaper than building and comparing
        // the snapshot.
        if RecoveryCounts::of(&self.counters).sum() == self.recovery_reported.sum() {
            return None;
        }
        self.take_recovery_changed()
    }

    #[cold]
    fn take_recovery_changed(&mut self) -> Option<RecoveryCounts> {
        let now = RecoveryCounts::of(&self.counters);
        let d = now.minus(self.recovery_reported);
        self.recovery_reported = now;
        Some(d)
    }

    /// A snapshot for netstat.
    pub fn stats(&self) -> ConnStats {
        ConnStats {
            state: self.state,
            cwnd: self.cwnd(),
            ssthresh: self.cc.ssthresh(),
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            rto: self.rtt.rto(),
            snd_mss: self.snd_mss,
            adv_mss: self.adv_mss,
            bytes_in_flight: dist(self.snd_nxt, self.snd_una),
            pipe: self.pipe(),
            send_queue: self.send_buf.len(),
            recv_queue: self.recv_buf.len(),
            snd_wnd: self.snd_wnd,
            rcv_wnd: dist(self.rcv_adv, self.rcv_nxt),
            window_scale: self.ws_ok.then_some((self.snd_wscale, self.rcv_wscale)),
            timestamps: self.ts_ok,
            sack: self.sack_ok,
            counters: self.counters,
        }
    }
}
