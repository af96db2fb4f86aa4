//! `ctl conntrack`, `ctl nat` and `ctl firewall`: the control thread's side of the
//! firewall-hook. Sessions and mappings live on the workers; a listing asks each worker for its
//! rows through its [`SessionSlot`] (like `netstat -a`) and answers once all came or 200 ms
//! passed. The exceptions list is a filter table of `permit` rules the control thread owns and
//! publishes like the packet filters.

use std::net::SocketAddrV4;
use std::sync::Arc;

use burst_port::{Nanos, Port};
use burst_stack::filter::{Action, Direction, FilterError, FilterTable, Rule};

use super::{Control, Reply};
use crate::ctl::{CtSession, FilterRule, NatMapping, PoolUse, Response};
use crate::node::NodeFirewall;
use crate::worker::{SessionList, SessionSlot};

/// Which listing a request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listing {
    Conntrack,
    Nat,
}

/// Rows one worker answered with.
type Rows = (Vec<CtSession>, Vec<NatMapping>, bool);

/// A `ctl conntrack` / `ctl nat` waiting for the workers.
pub(super) struct FwRequest {
    kind: Listing,
    workers: Vec<(u64, Option<Rows>)>,
    deadline: Nanos,
    reply: Reply,
}

/// The control thread's firewall-hook state.
pub(super) struct FwControl {
    pub(super) exceptions: FilterTable,
    slots: Vec<Arc<SessionSlot>>,
    cfg: NodeFirewall,
    pub(super) req: Option<FwRequest>,
}

impl FwControl {
    pub(super) fn new(exceptions: FilterTable) -> FwControl {
        FwControl {
            exceptions,
            slots: Vec::new(),
            cfg: NodeFirewall::default(),
            req: None,
        }
    }
}

fn rows(list: &SessionList, core: u16) -> Rows {
    let sa = |t: (std::net::Ipv4Addr, u16)| SocketAddrV4::new(t.0, t.1);
    let sessions = list
        .sessions
        .iter()
        .map(|r| CtSession {
            proto: r.orig.proto,
            src: sa((r.orig.src, r.orig.sport)),
            dst: sa((r.orig.dst, r.orig.dport)),
            reply_src: sa((r.reply.src, r.reply.sport)),
            reply_dst: sa((r.reply.dst, r.reply.dport)),
            state: r.state.to_string(),
            age_s: r.age,
            expires_s: r.expires_in,
            packets: r.packets,
            nat: r.marks & burst_stack::nat::marks::NAT != 0,
            inbound: r.marks & burst_stack::nat::marks::INBOUND != 0,
            core,
        })
        .collect();
    let mappings = list
        .mappings
        .iter()
        .map(|m| NatMapping {
            proto: m.proto,
            inside: sa(m.inside),
            public: sa(m.public),
            sessions: m.sessions,
            core,
        })
        .collect();
    (sessions, mappings, list.cut)
}

impl<P: Port> Control<P> {
    /// Takes the node's firewall-hook: the exceptions table, every worker's session slot and
    /// the configuration (for `ctl nat` and `ctl firewall list`).
    pub fn set_firewall(
        &mut self,
        exceptions: FilterTable,
        slots: Vec<Arc<SessionSlot>>,
        cfg: NodeFirewall,
    ) {
        self.fw.exceptions = exceptions;
        self.fw.slots = slots;
        self.fw.cfg = cfg;
    }

    /// The exceptions table (tests).
    pub fn exceptions(&self) -> &FilterTable {
        &self.fw.exceptions
    }

    /// `ctl conntrack [flush]` and `ctl nat`: asks the workers (answered from the poll loop).
    pub(super) fn fw_listing(
        &mut self,
        kind: Listing,
        flush: bool,
        reply: Reply,
        now: Nanos,
    ) -> Option<Response> {
        if self.fw.slots.is_empty() {
            return Some(Response::Error {
                message: "neither NAT nor the firewall is configured (no [nat] or [firewall] \
                          section): nothing is tracked"
                    .into(),
            });
        }
        if flush {
            for s in &self.fw.slots {
                s.flush();
            }
            return Some(Response::Ok);
        }
        if self.fw.req.is_some() {
            return Some(Response::Error {
                message: "a conntrack or nat listing is already running".into(),
            });
        }
        self.fw.req = Some(FwRequest {
            kind,
            workers: self.fw.slots.iter().map(|s| (s.request(), None)).collect(),
            deadline: now + Nanos::from_millis(200),
            reply,
        });
        None
    }

    /// Collects the workers' rows; answers once all came or the deadline passed.
    pub(super) fn finish_fw_listing(&mut self, now: Nanos) -> usize {
        let Some(req) = self.fw.req.as_mut() else {
            return 0;
        };
        for (i, (gen, r)) in req.workers.iter_mut().enumerate() {
            if r.is_none() {
                *r = self.fw.slots[i].take(*gen, |l| rows(l, i as u16));
            }
        }
        if !req.workers.iter().all(|(_, r)| r.is_some()) && now < req.deadline {
            return 0;
        }
        let Some(req) = self.fw.req.take() else {
            return 0;
        };
        let (mut sessions, mut mappings, mut cut) = (Vec::new(), Vec::new(), false);
        let mut missing_cores = Vec::new();
        for (i, (_, r)) in req.workers.into_iter().enumerate() {
            match r {
                Some((s, m, c)) => {
                    sessions.extend(s);
                    mappings.extend(m);
                    cut |= c;
                }
                None => missing_cores.push(i as u16),
            }
        }
        let resp = match req.kind {
            Listing::Conntrack => Response::Conntrack {
                sessions,
                missing_cores,
                cut,
            },
            Listing::Nat => {
                let (pool, statics) = match &self.fw.cfg.nat {
                    Some((_, n)) => (
                        n.pool
                            .iter()
                            .map(|&a| PoolUse {
                                address: a,
                                mappings: mappings.iter().filter(|m| *m.public.ip() == a).count()
                                    as u64,
                                ports: u64::from(n.ports.1 - n.ports.0) + 1,
                            })
                            .collect(),
                        n.statics
                            .iter()
                            .map(|s| format!("static {} <-> {}", s.inside, s.outside))
                            .chain(n.forwards.iter().map(|f| {
                                format!(
                                    "forward {} {}:{} -> {}:{}",
                                    match f.proto {
                                        6 => "tcp",
                                        _ => "udp",
                                    },
                                    f.outside.0,
                                    f.outside.1,
                                    f.inside.0,
                                    f.inside.1
                                )
                            }))
                            .collect(),
                    ),
                    None => (Vec::new(), Vec::new()),
                };
                sessions.retain(|s| s.nat);
                Response::Nat {
                    mappings,
                    sessions,
                    pool,
                    statics,
                    missing_cores,
                    cut,
                }
            }
        };
        let _ = req.reply.send(resp);
        1
    }

    /// `ctl firewall list`.
    pub(super) fn firewall_list(&self) -> Response {
        Response::Firewall {
            ports: self.fw.cfg.ports.clone(),
            block_icmp: self.fw.cfg.block_icmp.clone(),
            exceptions: self
                .fw
                .exceptions
                .list()
                .into_iter()
                .map(|e| FilterRule {
                    port: self.meta[usize::from(e.port.0)].name.clone(),
                    dir: e.dir.to_string(),
                    index: e.index,
                    rule: e.rule.to_string(),
                    hits: e.hits,
                })
                .collect(),
        }
    }

    /// `ctl firewall add PORT MATCH`: appends an exception to the port's list.
    pub(super) fn firewall_add(&mut self, port: &str, rule: &str) -> Response {
        let Some(p) = self.port_by_name(port) else {
            return Response::Error {
                message: format!("no port named {port}"),
            };
        };
        // The action is optional (an exception permits); any other action is refused.
        let mut text = rule.trim().to_string();
        let last = text.split_whitespace().last().unwrap_or("");
        if !matches!(last, "permit" | "deny" | "count") {
            text.push_str(" permit");
        }
        let r = match text.parse::<Rule>() {
            Ok(r) if r.action == Action::Permit => r,
            Ok(r) => {
                return Response::Error {
                    message: format!(
                        "an exception lets traffic in: its action is permit, not {}",
                        r.action
                    ),
                }
            }
            Err(e) => {
                return Response::Error {
                    message: e.to_string(),
                }
            }
        };
        match self.fw.exceptions.add(p, Direction::In, None, r) {
            Ok(index) => Response::FilterAdded {
                index,
                rule: r.to_string(),
            },
            Err(e) => Self::exception_error(port, e),
        }
    }

    /// `ctl firewall delete PORT INDEX`.
    pub(super) fn firewall_delete(&mut self, port: &str, index: usize) -> Response {
        let Some(p) = self.port_by_name(port) else {
            return Response::Error {
                message: format!("no port named {port}"),
            };
        };
        match self.fw.exceptions.delete(p, Direction::In, index) {
            Ok(rule) => Response::FilterDeleted {
                rule: rule.to_string(),
            },
            Err(e) => Self::exception_error(port, e),
        }
    }

    fn exception_error(port: &str, e: FilterError) -> Response {
        let message = match e {
            FilterError::NoSuchIndex { index, len } => {
                format!("port {port} has no exception at index {index} (it has {len})")
            }
            e => format!("port {port}: {e}"),
        };
        Response::Error { message }
    }
}
