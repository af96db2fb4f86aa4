//! The seeds' simple TCP/IP services (echo, discard, daytime, quote of the day, chargen; seed
//! 004) over UDP and TCP, and the minimal HTTP/1.1 server, as an [`App`]: what `burst run`
//! runs. The TCP side is `burst_tcp::stack::services::ServiceSet` driven through the app
//! context (it is written against `TcpSockets`, which [`Cx`] implements); the UDP side answers
//! datagrams on the services' sockets.

use burst_port::Queue;
use burst_stack::udp::{self as sudp, Service, SocketId};
use burst_tcp::stack::services::{ServiceConfig, ServiceSet, ServiceStats};
use burst_tcp::Events;

use super::{App, AppError, Cx, Event};

/// The built-in services of one worker.
pub struct Services {
    udp_wanted: Vec<Service>,
    udp: Vec<(SocketId, Service)>,
    qotd: String,
    tcp_cfg: Option<ServiceConfig>,
    tcp: Option<ServiceSet>,
    chargen_line: usize,
    /// Room for a reassembled echo request (65,507 bytes, only with the UDP echo service).
    scratch: Vec<u8>,
    /// UDP datagrams answered (echo, daytime, qotd, chargen) or swallowed (discard).
    udp_answered: u64,
    /// UDP answers the send path refused (no route, no buffer, filtered).
    udp_send_failed: u64,
}

impl Services {
    /// UDP services `udp` (with `qotd` as the quote) and the TCP services of `tcp`, if any.
    pub fn new(udp: Vec<Service>, qotd: String, tcp: Option<ServiceConfig>) -> Services {
        Services {
            udp_wanted: udp,
            udp: Vec::new(),
            qotd,
            tcp_cfg: tcp,
            tcp: None,
            chargen_line: 0,
            scratch: Vec::new(),
            udp_answered: 0,
            udp_send_failed: 0,
        }
    }

    /// No service at all (a node that only forwards, or a test driving sockets itself).
    pub fn none() -> Services {
        Services::new(Vec::new(), String::new(), None)
    }

    /// The TCP services' counters, when they run.
    pub fn tcp_stats(&self) -> Option<ServiceStats> {
        self.tcp.as_ref().map(ServiceSet::stats)
    }

    /// UDP datagrams answered (or discarded by the discard service).
    pub fn udp_answered(&self) -> u64 {
        self.udp_answered
    }

    fn answer<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>, s: SocketId, svc: Service) {
        while let Some(d) = cx.udp_recv(s) {
            self.udp_answered += 1;
            let to = d.from();
            // From the address the request was sent to when it is ours (the send path picks
            // the route's source for a broadcast or group destination).
            let src = Some(d.to());
            let sent = match svc {
                Service::Discard => Ok(()),
                Service::Echo => {
                    // A reassembled request (several buffers) is copied once, into a buffer
                    // allocated at start; most are answered in place.
                    let bytes = d.bytes(&mut self.scratch);
                    cx.udp_send_from(s, src, to, bytes)
                }
                Service::Daytime => {
                    let t = burst_port::clock::unix_now().as_secs();
                    let mut text = [0u8; 64];
                    let n = sudp::daytime(t, &mut text);
                    cx.udp_send_from(s, src, to, &text[..n])
                }
                Service::Qotd => {
                    let q = core::mem::take(&mut self.qotd);
                    let r = cx.udp_send_from(s, src, to, q.as_bytes());
                    self.qotd = q;
                    r
                }
                Service::Chargen => {
                    // RFC 864: a datagram of 0 to 512 characters, whatever the request held.
                    let mut out = [0u8; 512];
                    let lines = 1 + (self.chargen_line % 6);
                    let n = sudp::chargen(self.chargen_line, &mut out[..lines * 74]);
                    self.chargen_line += 1;
                    cx.udp_send_from(s, src, to, &out[..n])
                }
            };
            if sent.is_err() {
                self.udp_send_failed += 1;
            }
        }
    }
}

impl<Q: Queue> App<Q> for Services {
    fn start(&mut self, cx: &mut Cx<'_, Q>) -> Result<(), AppError> {
        for &svc in &self.udp_wanted {
            let s = cx.udp_bind(None, svc.port())?;
            self.udp.push((s, svc));
            if svc == Service::Echo {
                self.scratch = vec![0; 65_507];
            }
        }
        if let Some(cfg) = self.tcp_cfg.take() {
            self.tcp = Some(ServiceSet::new(cx, cfg)?);
        }
        Ok(())
    }

    fn on_event(&mut self, cx: &mut Cx<'_, Q>, ev: Event) {
        let now = cx.now();
        match ev {
            Event::Accepted { listener, conn } => {
                let taken = self
                    .tcp
                    .as_mut()
                    .is_some_and(|t| t.on_accepted(cx, now, listener, conn));
                if !taken {
                    // Not a service listener (none other exists): do not leave it dangling.
                    let _ = cx.abort(conn);
                }
            }
            Event::Connected(h)
            | Event::Readable(h)
            | Event::Writable(h)
            | Event::PeerClosed(h) => {
                if let Some(t) = self.tcp.as_mut() {
                    t.on_event(cx, now, h, Events::READABLE);
                }
            }
            Event::Closed { conn, .. } => {
                if let Some(t) = self.tcp.as_mut() {
                    t.on_event(cx, now, conn, Events::CLOSED);
                }
            }
            Event::Datagram(s) => {
                if let Some(&(_, svc)) = self.udp.iter().find(|(id, _)| *id == s) {
                    self.answer(cx, s, svc);
                }
            }
            Event::Timer { .. } => {}
        }
    }

    fn counters(&self, each: &mut dyn FnMut(&'static str, u64)) {
        let t = self.tcp_stats().unwrap_or_default();
        each("svc.tcp_accepted", t.accepted);
        each("svc.tcp_finished", t.finished);
        each("svc.tcp_no_slot", t.no_slot);
        each("svc.http_requests", t.http_requests);
        each("svc.http_errors", t.http_errors);
        each("svc.echo_bytes", t.echo_bytes);
        each("svc.discard_bytes", t.discard_bytes);
        each("svc.chargen_bytes", t.chargen_bytes);
        each("svc.udp_answered", self.udp_answered);
        each("svc.udp_send_failed", self.udp_send_failed);
    }
}
