//! `ctl netstat -a`: the request waiting for every worker's connection rows, answered once all
//! came or its deadline passed. Kept apart because it is answered from the poll loop, not when the
//! request arrives.

use burst_port::{Nanos, Port};

use super::{Control, Reply};
use crate::ctl::Response;

/// A `ctl netstat -a` waiting for the workers' rows.
pub(super) struct NetstatRequest {
    /// Per worker: the generation asked for, and the rows once they came.
    pub(super) workers: Vec<(u64, Option<Vec<crate::ctl::TcpConnection>>)>,
    pub(super) deadline: Nanos,
    pub(super) reply: Reply,
}

impl<P: Port> Control<P> {
    /// Collects the workers' netstat rows; answers once all came or the 200 ms deadline passed.
    pub(super) fn finish_netstat(&mut self, now: Nanos) -> usize {
        let Some(req) = self.netstat_req.as_mut() else {
            return 0;
        };
        for (i, (gen, rows)) in req.workers.iter_mut().enumerate() {
            if rows.is_none() {
                let core = i as u16;
                *rows = self.worker_stats[i].netstat.take(*gen, |r, cut| {
                    if cut {
                        tracing::warn!(core, "netstat: more connections than rows; list cut");
                    }
                    r.iter()
                        .map(|r| crate::ctl::TcpConnection {
                            local: r.local,
                            remote: r.remote,
                            state: r.state.to_string(),
                            send_q: r.send_q,
                            recv_q: r.recv_q,
                            cwnd: r.cwnd,
                            srtt_us: r.srtt_us,
                            retransmits: r.retransmits,
                            core,
                        })
                        .collect()
                });
            }
        }
        let all = req.workers.iter().all(|(_, r)| r.is_some());
        if !all && now < req.deadline {
            return 0;
        }
        let Some(req) = self.netstat_req.take() else {
            return 0;
        };
        let mut connections = Vec::new();
        let mut missing_cores = Vec::new();
        for (i, (_, rows)) in req.workers.into_iter().enumerate() {
            match rows {
                Some(r) => connections.extend(r),
                None => missing_cores.push(i as u16),
            }
        }
        let _ = req.reply.send(Response::Netstat {
            connections,
            missing_cores,
        });
        1
    }
}
