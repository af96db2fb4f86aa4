//! `ctl trace`: arms the workers' trace budget, collects the packets they trace and answers once
//! enough came or the time is up. Kept apart because, like netstat, it is answered from the poll
//! loop.

use std::sync::mpsc;

use burst_port::{Nanos, Port};

use super::Control;
use crate::ctl::Response;

/// A `ctl trace` waiting for its packets.
pub(super) struct TraceRequest {
    pub(super) want: usize,
    pub(super) got: Vec<crate::ctl::TracedPacket>,
    pub(super) deadline: Nanos,
    pub(super) reply: mpsc::Sender<Response>,
}

impl<P: Port> Control<P> {
    /// The budget workers read for `ctl trace`.
    pub fn set_trace_gate(&mut self, gate: crate::trace::TraceGate) {
        self.trace_gate = gate;
    }

    pub(super) fn trace_record(&mut self, r: &crate::trace::TraceRecord) {
        let Some(t) = self.trace_req.as_mut() else {
            return;
        };
        let ports: Vec<String> = self.meta.iter().map(|m| m.name.clone()).collect();
        let mut steps: Vec<String> = r
            .steps()
            .map(|s| {
                crate::trace::StepDisplay {
                    step: s,
                    ports: &ports,
                }
                .to_string()
            })
            .collect();
        if r.lost > 0 {
            steps.push(format!("... {} more steps", r.lost));
        }
        t.got.push(crate::ctl::TracedPacket {
            core: r.core,
            steps,
        });
    }

    /// Answers a `ctl trace` once its packets are in or its time is up.
    pub(super) fn finish_trace(&mut self, now: Nanos) -> usize {
        let done = self
            .trace_req
            .as_ref()
            .is_some_and(|t| t.got.len() >= t.want || now >= t.deadline);
        if !done {
            return 0;
        }
        self.trace_gate.arm(0);
        if let Some(t) = self.trace_req.take() {
            let _ = t.reply.send(Response::Trace { packets: t.got });
        }
        1
    }
}
