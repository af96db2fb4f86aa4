//! Ephemeral port choice for active opens.
//!
//! The range is configurable: RFC 6335 §6's dynamic ports 49152–65535 by default, or the
//! seed's 1024–`MaxUserPort` (5000). A port is taken only if the connection's 4-tuple would
//! land on this core (the worker's RSS predicate), no connection of this stack uses that
//! 4-tuple (one in TIME-WAIT included: the seed's "Smart TCP Port Allocation" of later versions,
//! which avoids reusing a port still in TIME-WAIT towards the same peer) and no listener owns the
//! port. The search starts after the last port handed out (RFC 6056 §3.3.2's simple
//! sequential selection) and gives up after one pass over the range, so exhaustion is reported
//! at once.

use core::net::{Ipv4Addr, SocketAddrV4};

use super::{TcpStack, Tuple};

impl TcpStack {
    /// A free ephemeral port from `local` to `remote` that lands on this core.
    pub(super) fn pick_port(&mut self, local: Ipv4Addr, remote: SocketAddrV4) -> Option<u16> {
        let (lo, hi) = self.cfg.ephemeral_ports;
        let span = u32::from(hi - lo) + 1;
        let start = self.next_port.clamp(lo, hi);
        for i in 0..span {
            let port = (u32::from(start - lo) + i) % span + u32::from(lo);
            let port = port as u16;
            if !(self.port_filter)(local, port, *remote.ip(), remote.port()) {
                continue;
            }
            let tuple = Tuple {
                local: SocketAddrV4::new(local, port),
                remote,
            };
            if self.table.contains_key(&tuple)
                || self.listen_map.contains_key(&(local, port))
                || self.listen_map.contains_key(&(Ipv4Addr::UNSPECIFIED, port))
            {
                continue;
            }
            self.next_port = if port == hi { lo } else { port + 1 };
            return Some(port);
        }
        tracing::debug!(%local, %remote, "tcp: no ephemeral port");
        None
    }
}
