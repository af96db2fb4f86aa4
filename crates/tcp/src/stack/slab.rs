//! Slab and bookkeeping: slots, the 4-tuple table, timers, the ready and dirty lists.

use core::net::{Ipv4Addr, SocketAddrV4};

use burst_stack::timer::TimerWheel;

use crate::conn::{Connection, Events, State};

use super::*;

impl TcpStack {
    // ------------------------------------------------------------------------------------
    // Slab and bookkeeping
    // ------------------------------------------------------------------------------------

    pub(super) fn handle_of(&self, idx: u32) -> SocketHandle {
        SocketHandle {
            index: idx,
            gen: self.slots[idx as usize].gen,
        }
    }

    /// Puts a new connection in a free slot (the caller checked one is free) and the table.
    pub(super) fn insert(
        &mut self,
        conn: Connection,
        tuple: Tuple,
        phase: Phase,
        listener: Option<ListenerHandle>,
    ) -> u32 {
        let idx = self.free.pop().expect("caller checked for a free slot");
        self.slots[idx as usize].entry = Some(Entry {
            conn,
            tuple,
            phase,
            listener,
            timer: None,
            armed_for: None,
            orphan_at: None,
            pending: Events::empty(),
            in_ready: false,
            in_dirty: false,
            in_table: true,
            tw_refused: false,
            burst: 0,
            // So the first sync counts the initial state (a cookie connection starts
            // ESTABLISHED).
            last_state: State::Closed,
        });
        self.table.insert(tuple, idx);
        self.live += 1;
        self.peak = self.peak.max(self.len());
        idx
    }

    /// After any input to a connection: [`TcpStack::sync`], and onto the dirty list (it may
    /// have something to send).
    pub(super) fn touch(&mut self, idx: u32) {
        self.sync(idx);
        let e = self.slots[idx as usize]
            .entry
            .as_mut()
            .expect("touched entry exists");
        if !e.in_dirty {
            e.in_dirty = true;
            self.dirty.push_back(idx);
        }
    }

    /// Collects a connection's events and state changes: counters, SYN/accept queue moves,
    /// ready list, table removal once CLOSED, timer re-arm.
    pub(super) fn sync(&mut self, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        let gen = slot.gen;
        let Some(e) = slot.entry.as_mut() else {
            return;
        };
        let state = e.conn.state();
        let old = e.last_state;
        if state != old {
            e.last_state = state;
            let estab = |s: State| matches!(s, State::Established | State::CloseWait);
            if estab(state) && !estab(old) {
                self.stats.curr_estab += 1;
            } else if estab(old) && !estab(state) {
                self.stats.curr_estab -= 1;
            }
            if state == State::Closed {
                if matches!(old, State::SynSent | State::SynReceived) {
                    self.stats.attempt_fails += 1;
                } else if estab(old) {
                    self.stats.estab_resets += 1;
                }
            }
        }
        e.pending |= e.conn.take_events();
        if let Some(r) = e.conn.take_recovery() {
            let st = &mut self.stats;
            st.rto_timeouts += r.timeouts;
            st.fast_recoveries += r.fast_recoveries;
            st.rack_losses += r.rack_losses;
            st.lost_retransmits += r.lost_retransmits;
            st.tlp_probes += r.tlp_probes;
            st.tlp_recoveries += r.tlp_recoveries;
            st.spurious_rtos_undone += r.spurious_rtos;
            st.spurious_recoveries_undone += r.spurious_recoveries;
            st.dsacks_received += r.dsacks_received;
            st.rack_log_overflows += r.log_overflows;
        }
        if matches!(state, State::TimeWait | State::Closed) {
            if state == State::Closed && e.in_table {
                e.in_table = false;
                self.table.remove(&e.tuple);
                self.last_lookup = None;
            }
            // TIME-WAIT keeps only the state it needs: the rings go back to the pool once
            // nothing is left in them to send or read.
            if let Some(b) = e.conn.take_buffers() {
                self.pool.push(b);
            }
        }
        match e.phase {
            Phase::HalfOpen => {
                if state.is_synchronized() || state == State::Closed {
                    let l = e.listener.expect("half-open has a listener");
                    let established = state != State::Closed;
                    self.leave_syn_queue(idx, l, established);
                }
                let e = self.slots[idx as usize].entry.as_mut().expect("entry");
                rearm(&mut self.timers, e, idx, gen);
                return;
            }
            Phase::Queued => {}
            Phase::User => {
                if !e.in_ready && !e.pending.is_empty() {
                    e.in_ready = true;
                    self.ready.push_back(idx);
                }
            }
            Phase::Released => {
                e.pending = Events::empty();
                if state == State::FinWait2 && e.orphan_at.is_none() {
                    e.orphan_at = Some(self.now + self.cfg.fin_wait2_timeout);
                }
            }
        }
        rearm(&mut self.timers, e, idx, gen);
    }

    /// A half-open connection completed its handshake (to the accept queue, or reset when it
    /// is full) or died.
    pub(super) fn leave_syn_queue(&mut self, idx: u32, l: ListenerHandle, established: bool) {
        let room = match self.listener_mut(l) {
            Some(lst) => {
                lst.syn_count = lst.syn_count.saturating_sub(1);
                established && lst.accept.len() < lst.backlog
            }
            None => false,
        };
        let e = self.slots[idx as usize].entry.as_mut().expect("entry");
        if room {
            e.phase = Phase::Queued;
            self.stats.passive_opens += 1;
            self.listener_mut(l)
                .expect("listener checked")
                .accept
                .push_back(idx);
        } else {
            if established {
                tracing::debug!(remote = %e.tuple.remote, "tcp: accept queue full, resetting");
                self.stats.listen_overflows += 1;
                e.conn.abort();
                // The abort's state change and events are collected by the caller's rearm and
                // the next sync.
            }
            e.phase = Phase::Released;
            e.listener = None;
            e.pending = Events::empty();
        }
    }

    pub(super) fn queue_ready(&mut self, idx: u32) {
        let e = self.slots[idx as usize].entry.as_mut().expect("entry");
        if !e.in_ready && !e.pending.is_empty() {
            e.in_ready = true;
            self.ready.push_back(idx);
        }
    }

    /// After the connection's output was drained: sync, and free it if it is finished and
    /// nobody holds it.
    pub(super) fn settle(&mut self, idx: u32) {
        self.sync(idx);
        let e = self.slots[idx as usize].entry.as_ref().expect("entry");
        if e.phase == Phase::Released && !e.in_dirty {
            match e.conn.state() {
                State::Closed => self.free_slot(idx),
                State::TimeWait if e.in_table && !e.tw_refused => {
                    self.make_time_wait_record(idx);
                }
                _ => {}
            }
        }
    }

    pub(super) fn free_slot(&mut self, idx: u32) {
        let (tuple, in_table) = self.take_slot(idx);
        if in_table {
            self.table.remove(&tuple);
            self.last_lookup = None;
        }
        self.stats.conns_freed += 1;
    }

    /// Empties slot `idx` (timer, rings, lists) and returns its 4-tuple and whether it is in
    /// the 4-tuple table (which is the caller's). The entry is dropped where it lies: moving
    /// it out (a `Connection` is over a kilobyte) cost two copies per connection.
    pub(super) fn take_slot(&mut self, idx: u32) -> (Tuple, bool) {
        let slot = &mut self.slots[idx as usize];
        let e = slot.entry.as_mut().expect("entry");
        slot.gen = slot.gen.wrapping_add(1);
        if let Some(id) = e.timer.take() {
            self.timers.cancel(id);
        }
        if let Some(b) = e.conn.take_buffers_any() {
            self.pool.push(b);
        }
        let (tuple, in_table, in_ready) = (e.tuple, e.in_table, e.in_ready);
        slot.entry = None;
        if in_ready {
            // Rare (closed with undelivered events); keeps the list bounded by the slab.
            self.ready.retain(|&i| i != idx);
        }
        self.free.push(idx);
        self.live -= 1;
        (tuple, in_table)
    }

    /// Whether a listener owns `local` (its address or every address).
    pub(super) fn has_listener(&self, local: SocketAddrV4) -> bool {
        self.listen_map.contains_key(&(*local.ip(), local.port()))
            || self
                .listen_map
                .contains_key(&(Ipv4Addr::UNSPECIFIED, local.port()))
    }
}

/// Re-arms the wheel for the connection's next deadline if it changed.
#[inline]
pub(super) fn rearm(timers: &mut TimerWheel<(u32, u32)>, e: &mut Entry, idx: u32, gen: u32) {
    // Called after every input and output of every connection: deadlines as integers, the
    // end of time standing for "none", so the common outcomes (nothing changed, or the
    // deadline moved later) are two comparisons.
    const NEVER: u64 = u64::MAX;
    let at = |t: Option<Nanos>| t.map_or(NEVER, |n| n.0);
    let want = at(e.conn.next_deadline()).min(at(e.orphan_at));
    let armed = at(e.armed_for);
    match e.timer {
        Some(id) => {
            if want != NEVER && armed <= want {
                // Unchanged, or moved later (the RTO restarted by an ACK, the keep-alive by
                // any segment): leave the earlier entry. It fires early, `poll` finds nothing
                // due (harmless, see `Connection::on_timeout`) and re-arms for the real
                // deadline, so the wheel is touched once per expiry instead of once per
                // segment.
                return;
            }
            if want == NEVER {
                timers.cancel(id);
                e.timer = None;
                e.armed_for = None;
                return;
            }
            e.armed_for = Some(Nanos(want));
            if !timers.reset(id, Nanos(want)) {
                e.timer = timers.arm(Nanos(want), (idx, gen)).ok();
            }
        }
        None => {
            e.armed_for = (want != NEVER).then_some(Nanos(want));
            if want != NEVER {
                e.timer = timers.arm(Nanos(want), (idx, gen)).ok();
            }
        }
    }
}
