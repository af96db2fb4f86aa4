//! A UDP responder: answers every datagram on its port with `prefix` followed by the datagram,
//! from the address it was sent to. The reply is built in a buffer allocated at start; the
//! request is read in place (zero-copy) unless it was reassembled from fragments.

use std::net::SocketAddrV4;

use burst_port::Queue;
use burst_runtime::app::{App, AppError, Cx, Event, UdpSocketId};

/// Largest UDP payload.
const MAX_PAYLOAD: usize = 65_507;

/// Counters of one worker's responder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Datagrams answered.
    pub answered: u64,
    /// Answers the send path refused (no route, no buffer, too large, filtered).
    pub failed: u64,
}

/// The responder of one worker.
pub struct UdpResponder {
    port: u16,
    prefix: Vec<u8>,
    sock: Option<UdpSocketId>,
    /// The request (when it spans buffers) and the reply, allocated once.
    request: Vec<u8>,
    reply: Vec<u8>,
    stats: UdpStats,
}

impl UdpResponder {
    /// A responder on `port` answering with `prefix` + the request.
    pub fn new(port: u16, prefix: &[u8]) -> UdpResponder {
        UdpResponder {
            port,
            prefix: prefix.to_vec(),
            sock: None,
            request: vec![0; MAX_PAYLOAD],
            reply: vec![0; MAX_PAYLOAD],
            stats: UdpStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> UdpStats {
        self.stats
    }
}

impl<Q: Queue> App<Q> for UdpResponder {
    fn start(&mut self, cx: &mut Cx<'_, Q>) -> Result<(), AppError> {
        self.sock = Some(cx.udp_bind(None, self.port)?);
        Ok(())
    }

    fn on_event(&mut self, cx: &mut Cx<'_, Q>, ev: Event) {
        let Event::Datagram(s) = ev else {
            return;
        };
        // Edge-triggered: drain the socket.
        while let Some(d) = cx.udp_recv(s) {
            let from: SocketAddrV4 = d.from();
            let req = d.bytes(&mut self.request);
            let n = (self.prefix.len() + req.len()).min(MAX_PAYLOAD);
            let p = self.prefix.len().min(n);
            self.reply[..p].copy_from_slice(&self.prefix[..p]);
            self.reply[p..n].copy_from_slice(&req[..n - p]);
            let to = d.to();
            drop(d);
            match cx.udp_send_from(s, Some(to), from, &self.reply[..n]) {
                Ok(()) => self.stats.answered += 1,
                Err(e) => {
                    self.stats.failed += 1;
                    tracing::debug!(%from, "udp responder: {e}");
                }
            }
        }
    }

    fn counters(&self, each: &mut dyn FnMut(&'static str, u64)) {
        each("udp_responder.answered", self.stats.answered);
        each("udp_responder.failed", self.stats.failed);
    }
}
