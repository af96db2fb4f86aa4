//! `ctl ipsec`: the control thread's side of the IPsec hook. Policies and SAs live on the
//! workers (each its own SAD and SPDs, docs/ipsec.md); a listing asks each worker for its SAs'
//! counters and its rules' hits through its [`IpsecSlot`] (like `ctl conntrack`), sums them
//! and answers once all came or 200 ms passed. What the rules and SAs are comes from the
//! configuration as last published; the packets sent with an outbound SA from the node's
//! shared sequence counter.
//!
//! `ctl ipsec sa add/delete` changes the SAs at run time: the control thread checks the new
//! set, then publishes it as a new immutable version (`SadPublisher`, an epoch-published value
//! like the route and neighbour tables) and bumps a generation counter; each worker notices
//! the generation once per poll and builds its new SAD from that version off the packet path,
//! moving the SAs that did not change over with their replay windows and counters. Nothing
//! locks; the policies stay as the file has them (a `secure` rule naming a deleted SA drops
//! what it covers, counted, until an SA with that SPI is added again).

use std::sync::Arc;

use burst_ipsec::config::{ActionName, Direction, SaConfig};
use burst_ipsec::{DropReason, EspStats, IpsecProtocol};
use burst_port::{Nanos, Port};

use super::{Control, Reply};
use crate::ctl::{IpsecPolicyRow, IpsecSaRow, Response};
use crate::worker::{IpsecSlot, SaCounters, SadPublisher};

/// A worker's answer: its SAs' counters, its inbound and outbound rules' hits.
type Rows = (Vec<SaCounters>, Vec<u64>, Vec<u64>);

/// A `ctl ipsec` waiting for the workers.
pub(super) struct IpsecRequest {
    workers: Vec<(u64, Option<Rows>)>,
    deadline: Nanos,
    reply: Reply,
}

/// The control thread's IPsec state.
#[derive(Default)]
pub(super) struct IpsecControl {
    publisher: Option<SadPublisher>,
    slots: Vec<Arc<IpsecSlot>>,
    req: Option<IpsecRequest>,
}

fn dir_name(d: Direction) -> &'static str {
    match d {
        Direction::In => "in",
        Direction::Out => "out",
    }
}

fn sa_row(c: &SaConfig, stats: &EspStats, seq_out: Option<u64>) -> IpsecSaRow {
    let inbound = c.direction == Direction::In;
    let (packets, bytes) = if inbound {
        (stats.in_packets, stats.in_bytes)
    } else {
        (stats.out_packets, stats.out_bytes)
    };
    IpsecSaRow {
        spi: c.spi,
        direction: dir_name(c.direction).into(),
        protocol: match c.protocol {
            IpsecProtocol::Esp => "esp".into(),
            IpsecProtocol::Ah => "ah".into(),
        },
        mode: match c.mode {
            burst_ipsec::config::ModeName::Transport => "transport".into(),
            burst_ipsec::config::ModeName::Tunnel => format!(
                "tunnel {} -> {}",
                c.tunnel_src.map_or("?".into(), |a| a.to_string()),
                c.tunnel_dst.map_or("?".into(), |a| a.to_string())
            ),
        },
        algorithm: match (c.protocol, c.algorithm) {
            (IpsecProtocol::Ah, _) => "hmac-sha256-128".into(),
            (_, Some(a)) => a.name().into(),
            (_, None) => "?".into(),
        },
        esn: c.esn,
        packets,
        bytes,
        replay_drops: stats.drops(DropReason::Replay),
        icv_failures: stats.drops(DropReason::Icv),
        drops: stats.total_drops(),
        lifetime_used: if inbound {
            packets
        } else {
            seq_out.unwrap_or(packets)
        },
        lifetime_limit: if inbound { 0 } else { c.max_packets },
    }
}

impl<P: Port> Control<P> {
    /// Takes the publisher of the node's SAs and every worker's `ctl ipsec` slot.
    pub fn set_ipsec(&mut self, publisher: Option<SadPublisher>, slots: Vec<Arc<IpsecSlot>>) {
        self.ipsec.publisher = publisher;
        self.ipsec.slots = slots;
    }

    /// `ctl ipsec sa add`: `sa` is one `[[ipsec.sa]]` table's keys (TOML lines).
    pub(super) fn ipsec_sa_add(&mut self, sa: &str) -> Response {
        let Some(p) = self.ipsec.publisher.as_mut() else {
            return not_configured();
        };
        let c: SaConfig = match toml::from_str(sa) {
            Ok(c) => c,
            Err(e) => {
                return Response::Error {
                    message: format!("not an [[ipsec.sa]]: {}", e.message()),
                }
            }
        };
        if p.current
            .sa
            .iter()
            .any(|o| o.spi == c.spi && o.direction == c.direction)
        {
            return Response::Error {
                message: format!(
                    "SPI {:#x} is in use in that direction: delete it first",
                    c.spi
                ),
            };
        }
        let mut next = (*p.current).clone();
        next.sa.push(c);
        let i = next.sa.len() - 1;
        if let Err(e) = next.sa[i].params(i).and_then(|params| {
            burst_ipsec::Sa::new(&params).map_err(|e| burst_ipsec::config::ConfigError::Sa(i, e))
        }) {
            return Response::Error {
                message: e.to_string().replace(&format!("ipsec.sa[{i}]: "), ""),
            };
        }
        p.publish(next);
        Response::Ok
    }

    /// `ctl ipsec sa delete SPI [in|out]`.
    pub(super) fn ipsec_sa_delete(&mut self, spi: u32, direction: Option<&str>) -> Response {
        let Some(p) = self.ipsec.publisher.as_mut() else {
            return not_configured();
        };
        let dir = match direction {
            None => None,
            Some("in") => Some(Direction::In),
            Some("out") => Some(Direction::Out),
            Some(d) => {
                return Response::Error {
                    message: format!("direction {d}: in or out"),
                }
            }
        };
        let hits: Vec<usize> = (0..p.current.sa.len())
            .filter(|&i| {
                let s = &p.current.sa[i];
                s.spi == spi && dir.is_none_or(|d| d == s.direction)
            })
            .collect();
        match hits.len() {
            0 => Response::Error {
                message: format!("no SA with SPI {spi:#x}"),
            },
            1 => {
                let mut next = (*p.current).clone();
                next.sa.remove(hits[0]);
                p.publish(next);
                Response::Ok
            }
            _ => Response::Error {
                message: format!("SPI {spi:#x} is used in and out: say which (in or out)"),
            },
        }
    }

    /// `ctl ipsec`: asks the workers (answered from the poll loop).
    pub(super) fn ipsec_listing(&mut self, reply: Reply, now: Nanos) -> Option<Response> {
        if self.ipsec.publisher.is_none() || self.ipsec.slots.is_empty() {
            return Some(not_configured());
        }
        if self.ipsec.req.is_some() {
            return Some(Response::Error {
                message: "an ipsec listing is already running".into(),
            });
        }
        self.ipsec.req = Some(IpsecRequest {
            workers: self
                .ipsec
                .slots
                .iter()
                .map(|s| (s.request(), None))
                .collect(),
            deadline: now + Nanos::from_millis(200),
            reply,
        });
        None
    }

    /// Collects the workers' rows; answers once all came or the deadline passed.
    pub(super) fn finish_ipsec_listing(&mut self, now: Nanos) -> usize {
        let Some(req) = self.ipsec.req.as_mut() else {
            return 0;
        };
        for (i, (gen, r)) in req.workers.iter_mut().enumerate() {
            if r.is_none() {
                *r = self.ipsec.slots[i].take(*gen, |l| {
                    (l.sas.clone(), l.hits_in.clone(), l.hits_out.clone())
                });
            }
        }
        if !req.workers.iter().all(|(_, r)| r.is_some()) && now < req.deadline {
            return 0;
        }
        let (Some(req), Some(p)) = (self.ipsec.req.take(), self.ipsec.publisher.as_ref()) else {
            return 0;
        };
        let c = &*p.current;
        let seq_out = |spi: u32| {
            p.seq_out
                .iter()
                .find(|(s, _)| *s == spi)
                .map(|(_, c)| c.load(std::sync::atomic::Ordering::Relaxed))
        };
        let n_in = c
            .policy
            .iter()
            .filter(|p| p.direction == Direction::In)
            .count();
        let n_out = c.policy.len() - n_in;
        let (mut hits_in, mut hits_out) = (vec![0u64; n_in], vec![0u64; n_out]);
        let mut sa_stats: Vec<EspStats> = vec![EspStats::default(); c.sa.len()];
        let mut missing_cores = Vec::new();
        for (core, (_, r)) in req.workers.into_iter().enumerate() {
            let Some((sas, hi, ho)) = r else {
                missing_cores.push(core as u16);
                continue;
            };
            for (a, b) in hits_in.iter_mut().zip(hi) {
                *a += b;
            }
            for (a, b) in hits_out.iter_mut().zip(ho) {
                *a += b;
            }
            for s in sas {
                let dir = if s.inbound {
                    Direction::In
                } else {
                    Direction::Out
                };
                if let Some(i) =
                    c.sa.iter()
                        .position(|x| x.spi == s.spi && x.direction == dir)
                {
                    sa_stats[i].merge(&s.stats);
                }
            }
        }
        let (mut at_in, mut at_out) = (0, 0);
        let policies = c
            .policy
            .iter()
            .map(|p| {
                let (index, hits) = match p.direction {
                    Direction::In => {
                        at_in += 1;
                        (at_in - 1, hits_in[at_in - 1])
                    }
                    Direction::Out => {
                        at_out += 1;
                        (at_out - 1, hits_out[at_out - 1])
                    }
                };
                let mut sel = Vec::new();
                if let Some(s) = &p.src {
                    sel.push(format!("src {s}"));
                }
                if let Some(d) = &p.dst {
                    sel.push(format!("dst {d}"));
                }
                if let Some(pr) = p.protocol {
                    sel.push(format!("proto {pr}"));
                }
                if let Some(sp) = &p.src_port {
                    sel.push(format!("sport {}", port_text(sp)));
                }
                if let Some(dp) = &p.dst_port {
                    sel.push(format!("dport {}", port_text(dp)));
                }
                IpsecPolicyRow {
                    direction: dir_name(p.direction).into(),
                    index,
                    selector: if sel.is_empty() {
                        "any".into()
                    } else {
                        sel.join(" ")
                    },
                    action: match (p.action, p.sa) {
                        (ActionName::Permit, _) => "permit".into(),
                        (ActionName::Block, _) => "block".into(),
                        (ActionName::Secure, Some(spi)) => format!("secure sa {spi:#x}"),
                        (ActionName::Secure, None) => "secure".into(),
                    },
                    hits,
                }
            })
            .collect();
        let sas =
            c.sa.iter()
                .zip(&sa_stats)
                .map(|(sc, st)| {
                    sa_row(
                        sc,
                        st,
                        seq_out(sc.spi).filter(|_| sc.direction == Direction::Out),
                    )
                })
                .collect();
        let _ = req.reply.send(Response::Ipsec {
            policies,
            sas,
            missing_cores,
            aes_gcm: burst_ipsec::algo::aes_gcm_backend(),
        });
        1
    }
}

fn not_configured() -> Response {
    Response::Error {
        message: "IPsec is not configured (no [ipsec] section)".into(),
    }
}

fn port_text(p: &burst_ipsec::config::PortSpec) -> String {
    match p {
        burst_ipsec::config::PortSpec::One(n) => n.to_string(),
        burst_ipsec::config::PortSpec::Text(t) => t.clone(),
    }
}
