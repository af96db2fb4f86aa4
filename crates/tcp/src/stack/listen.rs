//! Listeners: listen, accept and their queues.

use core::net::Ipv4Addr;
use std::collections::VecDeque;

use super::*;

impl TcpStack {
    // ------------------------------------------------------------------------------------
    // Listeners
    // ------------------------------------------------------------------------------------

    /// Listens on `port` of `local` (or of every address with `None`), with an accept queue of
    /// `backlog` connections (clamped to 1..=`max_backlog`) and a SYN queue of `syn_backlog`.
    pub fn listen(
        &mut self,
        local: Option<Ipv4Addr>,
        port: u16,
        backlog: usize,
    ) -> Result<ListenerHandle, TcpError> {
        let key = (local.unwrap_or(Ipv4Addr::UNSPECIFIED), port);
        if self.listen_map.contains_key(&key) {
            return Err(TcpError::AddrInUse);
        }
        let Some(index) = self.listeners.iter().position(|l| l.listener.is_none()) else {
            return Err(TcpError::ListenerTableFull);
        };
        let backlog = backlog.clamp(1, self.cfg.max_backlog);
        let slot = &mut self.listeners[index];
        slot.listener = Some(Listener {
            local,
            port,
            backlog,
            syn_count: 0,
            accept: VecDeque::with_capacity(backlog),
        });
        self.listen_map.insert(key, index as u32);
        tracing::debug!(?local, port, backlog, "tcp: listening");
        Ok(ListenerHandle {
            index: index as u32,
            gen: slot.gen,
        })
    }

    /// Takes the next established connection from a listener's accept queue; its events so
    /// far (at least CONNECTED) are then on the ready list.
    pub fn accept(&mut self, l: ListenerHandle) -> Option<SocketHandle> {
        let idx = self.listener_mut(l)?.accept.pop_front()?;
        let e = self.slots[idx as usize].entry.as_mut()?;
        e.phase = Phase::User;
        e.listener = None;
        self.queue_ready(idx);
        Some(self.handle_of(idx))
    }

    /// Connections waiting in a listener's accept queue.
    pub fn accept_queue_len(&self, l: ListenerHandle) -> usize {
        self.listener_ref(l).map_or(0, |l| l.accept.len())
    }

    /// Half-open connections in a listener's SYN queue.
    pub fn syn_queue_len(&self, l: ListenerHandle) -> usize {
        self.listener_ref(l).map_or(0, |l| l.syn_count)
    }

    /// Closes a listener: its half-open and unaccepted connections are reset.
    pub fn unlisten(&mut self, l: ListenerHandle) -> Result<(), TcpError> {
        let listener = self
            .listeners
            .get_mut(l.index as usize)
            .filter(|s| s.gen == l.gen)
            .and_then(|s| s.listener.take())
            .ok_or(TcpError::InvalidHandle)?;
        let slot = &mut self.listeners[l.index as usize];
        slot.gen = slot.gen.wrapping_add(1);
        self.listen_map.remove(&(
            listener.local.unwrap_or(Ipv4Addr::UNSPECIFIED),
            listener.port,
        ));
        // Rare and operator-driven: a walk of the slab finds the listener's connections.
        for idx in 0..self.slots.len() as u32 {
            let Some(e) = self.slots[idx as usize].entry.as_mut() else {
                continue;
            };
            if e.listener == Some(l) {
                e.listener = None;
                e.phase = Phase::Released;
                e.conn.abort();
                self.touch(idx);
            }
        }
        Ok(())
    }

    pub(super) fn listener_ref(&self, l: ListenerHandle) -> Option<&Listener> {
        self.listeners
            .get(l.index as usize)
            .filter(|s| s.gen == l.gen)?
            .listener
            .as_ref()
    }

    pub(super) fn listener_mut(&mut self, l: ListenerHandle) -> Option<&mut Listener> {
        self.listeners
            .get_mut(l.index as usize)
            .filter(|s| s.gen == l.gen)?
            .listener
            .as_mut()
    }
}
