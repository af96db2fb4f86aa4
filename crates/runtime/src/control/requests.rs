//! The ctl request dispatcher: one `burst ctl` request in, its response lines out. Each arm hands
//! the work to the feature's own file; requests answered later (ping, tracert, trace, netstat)
//! keep their reply channel and return early.

use burst_port::{Nanos, Port};
use burst_wire::ipv4::Cidr;

use super::netstat::NetstatRequest;
use super::trace::TraceRequest;
use super::{Command, Control};
use crate::ctl::{Request, Response};

impl<P: Port> Control<P> {
    pub(super) fn command(&mut self, c: Command, now: Nanos) {
        let reply = c.reply.clone();
        let r = match c.req {
            Request::ArpShow => Response::Arp {
                entries: self.arp_entries(),
            },
            Request::ArpAdd { ip, mac, port } => self.arp_add(ip, &mac, port.as_deref(), now),
            Request::ArpDelete { ip } => {
                if self.arp.delete(ip) == 0 {
                    Response::Error {
                        message: format!("The specified entry was not found: {ip}"),
                    }
                } else {
                    Response::Ok
                }
            }
            Request::RoutePrint => Response::Routes {
                routes: self.route_entries(),
            },
            Request::RouteAdd {
                prefix,
                via,
                metric,
            } => self.route_add(&prefix, via, metric.unwrap_or(1)),
            Request::RouteDelete { prefix } => match prefix.parse::<Cidr>() {
                Err(e) => Response::Error {
                    message: format!("{prefix}: {e}"),
                },
                Ok(p) => match self.routes.delete(p.network(), None) {
                    Ok(0) | Err(_) => Response::Error {
                        message: format!("route {prefix} not found"),
                    },
                    Ok(_) => Response::Ok,
                },
            },
            Request::Ping {
                dst,
                count,
                size,
                dont_frag,
                ttl,
                timeout_ms,
                interval_ms,
            } => {
                self.start_session(
                    dst,
                    count,
                    size,
                    dont_frag,
                    ttl.unwrap_or(self.default_ttl),
                    timeout_ms,
                    interval_ms,
                    false,
                    reply,
                    now,
                );
                return;
            }
            Request::Tracert {
                dst,
                max_hops,
                timeout_ms,
            } => {
                self.start_session(
                    dst,
                    u32::from(max_hops),
                    32,
                    false,
                    1,
                    timeout_ms,
                    0,
                    true,
                    reply,
                    now,
                );
                return;
            }
            Request::Trace { count, timeout_ms } => {
                if self.trace_req.is_some() {
                    Response::Error {
                        message: "a trace is already running".into(),
                    }
                } else if count == 0 {
                    Response::Trace {
                        packets: Vec::new(),
                    }
                } else {
                    self.trace_req = Some(TraceRequest::new(
                        count as usize,
                        now + Nanos::from_millis(u64::from(timeout_ms)),
                        reply,
                    ));
                    self.trace_gate.arm(count);
                    return;
                }
            }
            Request::Stats => Response::Stats {
                groups: self.stats_groups(),
            },
            Request::Igmp => Response::Igmp {
                ports: self
                    .igmp_groups()
                    .into_iter()
                    .map(|(port, groups)| crate::ctl::IgmpPort { port, groups })
                    .collect(),
            },
            Request::Rdisc => Response::Rdisc(self.rdisc_status(now)),
            Request::Capture {
                port,
                dir,
                count,
                snaplen,
                timeout_ms,
                max_bytes,
                max_rate,
                filter,
            } => {
                let ask = super::capture::CaptureAsk {
                    port: &port,
                    dir: &dir,
                    count,
                    snaplen,
                    timeout_ms,
                    max_bytes,
                    max_rate,
                    filter,
                };
                match self.capture_start(ask, reply.clone(), now) {
                    // Frames and the final line follow from `capture_poll`.
                    Ok(()) => return,
                    Err(message) => Response::Error { message },
                }
            }
            Request::FilterList => Response::Filters {
                rules: self.filter_rules(),
            },
            Request::FilterAdd {
                port,
                dir,
                rule,
                index,
            } => self.filter_add(&port, &dir, &rule, index),
            Request::FilterDelete { port, dir, index } => self.filter_delete(&port, &dir, index),
            Request::Conntrack { flush } => {
                match self.fw_listing(
                    super::firewall::Listing::Conntrack,
                    flush,
                    reply.clone(),
                    now,
                ) {
                    Some(r) => r,
                    None => return,
                }
            }
            Request::Nat => {
                match self.fw_listing(super::firewall::Listing::Nat, false, reply.clone(), now) {
                    Some(r) => r,
                    None => return,
                }
            }
            Request::IpsecSaAdd { sa } => self.ipsec_sa_add(&sa),
            Request::IpsecSaDelete { spi, direction } => {
                self.ipsec_sa_delete(spi, direction.as_deref())
            }
            Request::Ipsec => match self.ipsec_listing(reply.clone(), now) {
                Some(r) => r,
                None => return,
            },
            Request::FirewallList => self.firewall_list(),
            Request::FirewallAdd { port, rule } => self.firewall_add(&port, &rule),
            Request::FirewallDelete { port, index } => self.firewall_delete(&port, index),
            Request::Netstat => {
                if self.netstat_req.is_some() {
                    Response::Error {
                        message: "a netstat is already running".into(),
                    }
                } else {
                    self.netstat_req = Some(NetstatRequest {
                        workers: self
                            .worker_stats
                            .iter()
                            .map(|w| (w.netstat.request(), None))
                            .collect(),
                        deadline: now + Nanos::from_millis(200),
                        reply,
                    });
                    return;
                }
            }
        };
        let _ = reply.send(r);
    }
}
