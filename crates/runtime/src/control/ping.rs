//! The stack's own ping and tracert sessions (`ctl ping`, `ctl tracert`): probes go out through
//! the workers in turn, and the workers' echo events come back here to be matched, timed out and
//! answered line by line. Kept apart because it is the only part of the control thread with its
//! own per-request state machine.

use burst_port::map::HashMap;
use std::net::Ipv4Addr;

use burst_port::{Nanos, Port};

use super::{Control, Reply};
use crate::ctl::{EchoOutcome, Response};
use crate::msg::{EchoError, SessionDown, SessionUp, ToWorker, CTL_IDENTS, CTL_IDENT_BASE};

#[derive(Debug)]
struct Probe {
    sent_at: Option<Nanos>,
    deadline: Nanos,
}

#[derive(Debug)]
pub(super) struct Session {
    dst: Ipv4Addr,
    count: u32,
    size: u16,
    dont_frag: bool,
    ttl: u8,
    timeout: Nanos,
    interval: Nanos,
    next_seq: u16,
    next_send: Nanos,
    outstanding: HashMap<u16, Probe>,
    received: u32,
    /// Tracert: one probe at a time, TTL = seq.
    trace: bool,
    done: bool,
    reply: Reply,
}

impl<P: Port> Control<P> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_session(
        &mut self,
        dst: Ipv4Addr,
        count: u32,
        size: u16,
        dont_frag: bool,
        ttl: u8,
        timeout_ms: u32,
        interval_ms: u32,
        trace: bool,
        reply: Reply,
        now: Nanos,
    ) {
        let Some(ident) = (0..CTL_IDENTS)
            .map(|i| CTL_IDENT_BASE + (self.next_ident + i) % CTL_IDENTS)
            .find(|id| !self.sessions.contains_key(id))
        else {
            let _ = reply.send(Response::Error {
                message: "too many ping sessions".into(),
            });
            return;
        };
        self.next_ident = (ident - CTL_IDENT_BASE + 1) % CTL_IDENTS;
        self.sessions.insert(
            ident,
            Session {
                dst,
                count: count.min(u32::from(u16::MAX)),
                size,
                dont_frag,
                ttl,
                timeout: Nanos::from_millis(u64::from(timeout_ms.max(1))),
                interval: Nanos::from_millis(u64::from(interval_ms)),
                next_seq: 1,
                next_send: now,
                outstanding: HashMap::default(),
                received: 0,
                trace,
                done: false,
                reply,
            },
        );
    }

    pub(super) fn echo_event(&mut self, m: SessionUp) {
        let (ident, seq) = match m {
            SessionUp::EchoSent { ident, seq, .. }
            | SessionUp::EchoFailed { ident, seq, .. }
            | SessionUp::EchoReply { ident, seq, .. }
            | SessionUp::EchoError { ident, seq, .. } => (ident, seq),
        };
        let Some(s) = self.sessions.get_mut(&ident) else {
            return;
        };
        if let SessionUp::EchoSent { at, .. } = m {
            if let Some(p) = s.outstanding.get_mut(&seq) {
                p.sent_at = Some(at);
            }
            return;
        }
        let Some(probe) = s.outstanding.remove(&seq) else {
            return;
        };
        let rtt = |at: Nanos| probe.sent_at.map(|t| at.saturating_sub(t).0 / 1000);
        let line = match m {
            SessionUp::EchoReply {
                from,
                ttl,
                bytes,
                at,
                ..
            } => {
                s.received += 1;
                if s.trace {
                    s.done = true;
                    Response::Hop {
                        ttl: seq as u8,
                        from: Some(from),
                        rtt_us: rtt(at),
                        reached: true,
                    }
                } else {
                    Response::Echo {
                        seq,
                        outcome: EchoOutcome::Reply {
                            from,
                            bytes,
                            ttl,
                            rtt_us: rtt(at).unwrap_or(0),
                        },
                    }
                }
            }
            SessionUp::EchoError {
                from, error, at, ..
            } => {
                if s.trace {
                    if !matches!(error, EchoError::TimeExceeded) {
                        s.done = true;
                    }
                    Response::Hop {
                        ttl: seq as u8,
                        from: Some(from),
                        rtt_us: rtt(at),
                        reached: false,
                    }
                } else {
                    let (message, mtu) = match error {
                        EchoError::TimeExceeded => ("Time to live exceeded".to_string(), None),
                        EchoError::Unreachable(4, mtu) => (
                            "Packet needs to be fragmented but DF set.".to_string(),
                            Some(mtu),
                        ),
                        EchoError::Unreachable(0, _) => {
                            ("Destination net unreachable".to_string(), None)
                        }
                        EchoError::Unreachable(1, _) => {
                            ("Destination host unreachable".to_string(), None)
                        }
                        EchoError::Unreachable(c, _) => {
                            (format!("Destination unreachable (code {c})"), None)
                        }
                    };
                    Response::Echo {
                        seq,
                        outcome: EchoOutcome::IcmpError { from, message, mtu },
                    }
                }
            }
            SessionUp::EchoFailed { reason, .. } => {
                if s.trace {
                    s.done = true;
                }
                Response::Echo {
                    seq,
                    outcome: EchoOutcome::Failed {
                        message: reason.into(),
                    },
                }
            }
            _ => return,
        };
        let _ = s.reply.send(line);
    }

    pub(super) fn run_sessions(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        let mut finished = Vec::new();
        let nworkers = self.workers.len();
        for (&ident, s) in self.sessions.iter_mut() {
            // Timeouts.
            let expired: Vec<u16> = s
                .outstanding
                .iter()
                .filter(|(_, p)| now >= p.deadline)
                .map(|(&q, _)| q)
                .collect();
            for q in expired {
                s.outstanding.remove(&q);
                let line = if s.trace {
                    Response::Hop {
                        ttl: q as u8,
                        from: None,
                        rtt_us: None,
                        reached: false,
                    }
                } else {
                    Response::Echo {
                        seq: q,
                        outcome: EchoOutcome::Timeout,
                    }
                };
                let _ = s.reply.send(line);
                work += 1;
            }
            let sent_all = u32::from(s.next_seq) > s.count;
            let can_send = !s.done
                && !sent_all
                && now >= s.next_send
                && (!s.trace || s.outstanding.is_empty());
            if can_send {
                let seq = s.next_seq;
                let ttl = if s.trace { seq.min(255) as u8 } else { s.ttl };
                let w = self.next_worker % nworkers;
                self.next_worker += 1;
                let m = ToWorker::Session(SessionDown::Ping {
                    dst: s.dst,
                    ident,
                    seq,
                    size: s.size,
                    ttl,
                    dont_frag: s.dont_frag,
                });
                if self.workers[w].to_worker(m).is_ok() {
                    s.outstanding.insert(
                        seq,
                        Probe {
                            sent_at: None,
                            deadline: now + s.timeout,
                        },
                    );
                    s.next_seq += 1;
                    s.next_send = now + s.interval;
                    work += 1;
                }
            }
            if (s.done || u32::from(s.next_seq) > s.count) && s.outstanding.is_empty() {
                let last = if s.trace {
                    Response::TraceDone
                } else {
                    Response::PingDone {
                        sent: s.count,
                        received: s.received,
                    }
                };
                let _ = s.reply.send(last);
                finished.push(ident);
            }
        }
        for i in finished {
            self.sessions.remove(&i);
        }
        work
    }
}
