//! `ctl trace`: arms the workers' trace budget, collects the packets they trace and answers once
//! enough came or the time is up. Kept apart because, like netstat, it is answered from the poll
//! loop.

use burst_port::{Nanos, Port};

use super::{Control, Reply};
use crate::ctl::Response;

/// A `ctl trace` waiting for its packets.
pub(super) struct TraceRequest {
    pub(super) want: usize,
    pub(super) got: Vec<crate::ctl::TracedPacket>,
    pub(super) deadline: Nanos,
    pub(super) reply: Reply,
    /// Per packet of `got`: the core its trace goes on at (it was handed off there), until that
    /// core's record came.
    pub(super) awaiting: Vec<Option<u16>>,
    /// Continuations that came before the record that handed them off (workers' rings are read
    /// one after the other): their core, steps, and the core they were handed on to.
    pub(super) early: Vec<(u16, Vec<String>, Option<u16>)>,
}

impl TraceRequest {
    /// A request for `want` packets until `deadline`.
    pub(super) fn new(want: usize, deadline: Nanos, reply: Reply) -> Self {
        TraceRequest {
            want,
            got: Vec::new(),
            deadline,
            reply,
            awaiting: Vec::new(),
            early: Vec::new(),
        }
    }
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
                    core: r.core,
                }
                .to_string()
            })
            .collect();
        if r.lost > 0 {
            steps.push(format!("... {} more steps", r.lost));
        }
        // Handed off to another core: the packet's trace goes on in that core's record.
        let mut handed_to = r.steps().find_map(|s| match s {
            crate::trace::Step::HandedOff { core, .. } => Some(*core),
            _ => None,
        });
        if matches!(r.steps().next(), Some(crate::trace::Step::HandedIn { .. })) {
            // A continuation: joined to the oldest packet waiting for this core (hand-offs
            // from one core to another keep their order).
            match t.awaiting.iter().position(|&a| a == Some(r.core)) {
                Some(i) => {
                    t.got[i].steps.extend(steps);
                    t.awaiting[i] = handed_to;
                }
                None => t.early.push((r.core, steps, handed_to)),
            }
            return;
        }
        if let Some(core) = handed_to {
            if let Some(i) = t.early.iter().position(|e| e.0 == core) {
                let (_, more, next) = t.early.remove(i);
                steps.extend(more);
                handed_to = next;
            }
        }
        t.got.push(crate::ctl::TracedPacket {
            core: r.core,
            steps,
        });
        t.awaiting.push(handed_to);
    }

    /// Answers a `ctl trace` once its packets are in or its time is up.
    pub(super) fn finish_trace(&mut self, now: Nanos) -> usize {
        let done = self.trace_req.as_ref().is_some_and(|t| {
            (t.got.len() >= t.want && t.awaiting.iter().all(Option::is_none)) || now >= t.deadline
        });
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
