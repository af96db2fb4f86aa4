//! The control thread: owns the master route, neighbour and packet filter tables and publishes
//! them, runs the ARP state machine, answers `burst ctl` requests, and runs the stack's own
//! ping/tracert sessions. It is not on the packet path: it may allocate, and it sleeps when idle.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::sync::Arc;

use burst_port::{Nanos, Port};
use burst_stack::arp::{AddrState, ArpControl, ArpOutput, NeighKind};
use burst_stack::filter::{Direction, FilterError, FilterTable, Rule};
use burst_stack::igmp::{IgmpConfig, IgmpHost, IgmpOutput};
use burst_stack::pmtu::{PmtuCache, PmtuConfig};
use burst_stack::redirect::{RedirectConfig, RedirectPolicy};
use burst_stack::route::{Route, RouteKind, RouteTable};
use burst_stack::PortId;
use burst_wire::arp;
use burst_wire::ethernet::MacAddr;
use burst_wire::icmpv4;
use burst_wire::ipv4::Cidr;
use burst_wire::ChecksumCheck;

use crate::ctl::{
    ArpEntry, Counter, CounterGroup, EchoOutcome, FilterRule, Request, Response, RouteEntry,
};
use crate::msg::{EchoError, Rings, ToControl, ToWorker, CTL_IDENTS, CTL_IDENT_BASE, IGMP_OUT_MAX};
use crate::worker::SharedStats;

/// A ctl request and where its response lines go.
#[derive(Debug)]
pub struct Command {
    /// The request.
    pub req: Request,
    /// Response lines (the last one is final).
    pub reply: mpsc::Sender<Response>,
}

/// A port as the control thread knows it.
#[derive(Debug, Clone)]
pub struct PortMeta {
    /// Configured name.
    pub name: String,
    /// MAC.
    pub mac: MacAddr,
    /// Configured addresses.
    pub addrs: Vec<Cidr>,
}

/// The messages ArpControl wants sent, routed to the workers' rings.
struct Out<'a> {
    workers: &'a [Rings],
    lost: &'a mut u64,
    addr_events: &'a mut Vec<(PortId, Ipv4Addr, AddrState)>,
}

impl Out<'_> {
    fn all(&mut self, m: ToWorker) {
        for w in self.workers {
            if w.to_worker.push(m).is_err() {
                *self.lost += 1;
            }
        }
    }
}

impl ArpOutput for Out<'_> {
    fn send_arp(&mut self, port: PortId, dst: MacAddr, repr: &arp::Repr) {
        // Only workers own transmit queues; worker 0 sends for the control thread.
        if self.workers[0]
            .to_worker
            .push(ToWorker::SendArp {
                port,
                dst,
                repr: *repr,
            })
            .is_err()
        {
            *self.lost += 1;
        }
    }
    fn resolved(&mut self, port: PortId, ip: Ipv4Addr, _mac: MacAddr) {
        self.all(ToWorker::Resolved { port, ip });
    }
    fn resolution_failed(&mut self, port: PortId, ip: Ipv4Addr) {
        self.all(ToWorker::Failed { port, ip });
    }
    fn address_state(&mut self, port: PortId, addr: Ipv4Addr, state: AddrState) {
        self.all(ToWorker::AddrState { port, addr, state });
        self.addr_events.push((port, addr, state));
    }
}

/// IGMP messages the hosts want sent, handed to worker 0 (the transmit owner).
struct IgmpOut<'a> {
    workers: &'a [Rings],
    lost: &'a mut u64,
}

impl IgmpOutput for IgmpOut<'_> {
    fn send(&mut self, port: PortId, dst: Ipv4Addr, msg: &[u8]) {
        let mut m = [0u8; IGMP_OUT_MAX];
        let n = msg.len().min(IGMP_OUT_MAX);
        m[..n].copy_from_slice(&msg[..n]);
        let w = ToWorker::SendIgmp {
            port,
            dst,
            len: n as u16,
            msg: m,
        };
        if self.workers[0].to_worker.push(w).is_err() {
            *self.lost += 1;
        }
    }
}

#[derive(Debug)]
struct Probe {
    sent_at: Option<Nanos>,
    deadline: Nanos,
}

#[derive(Debug)]
struct Session {
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
    reply: mpsc::Sender<Response>,
}

/// Control-thread counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ControlStats {
    /// Messages to workers lost on a full ring.
    pub lost_messages: u64,
    /// Worker messages handled.
    pub messages: u64,
    /// ctl requests handled.
    pub requests: u64,
}

/// The control thread's state.
pub struct Control<P: Port> {
    routes: RouteTable,
    filters: FilterTable,
    arp: ArpControl,
    ports: Vec<P>,
    meta: Vec<PortMeta>,
    workers: Vec<Rings>,
    worker_stats: Vec<Arc<SharedStats>>,
    commands: mpsc::Receiver<Command>,
    sessions: HashMap<u16, Session>,
    next_ident: u16,
    next_worker: usize,
    default_ttl: u8,
    addr_states: HashMap<(PortId, Ipv4Addr), AddrState>,
    igmp: Vec<Option<IgmpHost>>,
    redirects: RedirectPolicy,
    pmtu: PmtuCache,
    /// Counters.
    pub stats: ControlStats,
    trace_gate: crate::trace::TraceGate,
    trace_req: Option<TraceRequest>,
    netstat_req: Option<NetstatRequest>,
    /// Dead gateway detection over the default gateways (built when first needed, rebuilt
    /// when the set of default gateways changes).
    dgd: Option<burst_tcp::DeadGatewayDetector>,
}

/// Destinations dead gateway detection tracks at most.
const DGD_DESTINATIONS: usize = 4096;

/// A `ctl netstat -a` waiting for the workers' rows.
struct NetstatRequest {
    /// Per worker: the generation asked for, and the rows once they came.
    workers: Vec<(u64, Option<Vec<crate::ctl::TcpConnection>>)>,
    deadline: Nanos,
    reply: mpsc::Sender<Response>,
}

/// A `ctl trace` waiting for its packets.
struct TraceRequest {
    want: usize,
    got: Vec<crate::ctl::TracedPacket>,
    deadline: Nanos,
    reply: mpsc::Sender<Response>,
}

impl<P: Port> Control<P> {
    /// Control state over already-built tables.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        routes: RouteTable,
        filters: FilterTable,
        arp: ArpControl,
        ports: Vec<P>,
        meta: Vec<PortMeta>,
        workers: Vec<Rings>,
        worker_stats: Vec<Arc<SharedStats>>,
        commands: mpsc::Receiver<Command>,
        default_ttl: u8,
    ) -> Control<P> {
        Control {
            routes,
            filters,
            arp,
            ports,
            meta,
            workers,
            worker_stats,
            commands,
            sessions: HashMap::new(),
            next_ident: 0,
            next_worker: 0,
            default_ttl,
            addr_states: HashMap::new(),
            igmp: Vec::new(),
            redirects: RedirectPolicy::new(RedirectConfig::default()),
            pmtu: PmtuCache::new(PmtuConfig::default(), 9216),
            stats: ControlStats::default(),
            trace_gate: crate::trace::TraceGate::new(),
            trace_req: None,
            netstat_req: None,
            dgd: None,
        }
    }

    /// The detector over the default gateways, if `dst` is reached through one (rebuilt when
    /// the set of default gateways changes; the preference order is kept from when it was
    /// built, since the detector itself reorders the routes' metrics).
    fn dgd_for(&mut self, dst: Ipv4Addr) -> Option<&mut burst_tcp::DeadGatewayDetector> {
        let r = self.routes.route_for(dst)?;
        let via_default = r.prefix.prefix_len() == 0
            || (r.kind == RouteKind::DeadGateway && r.prefix.prefix_len() == 32);
        if !via_default {
            return None;
        }
        let mut gws: Vec<Ipv4Addr> = self
            .routes
            .defaults()
            .iter()
            .filter_map(|r| r.gateway)
            .collect();
        gws.dedup();
        let same = self.dgd.as_ref().is_some_and(|d| {
            let mut a = d.gateways().to_vec();
            let mut b = gws.clone();
            a.sort();
            b.sort();
            a == b
        });
        if !same {
            self.dgd = Some(burst_tcp::DeadGatewayDetector::new(&gws, DGD_DESTINATIONS));
        }
        self.dgd.as_mut()
    }

    /// A TCP connection to `dst` is up: track it if it goes through the default gateway.
    fn dgd_use(&mut self, dst: Ipv4Addr) {
        if let Some(d) = self.dgd_for(dst) {
            let _ = d.gateway_for(dst);
        }
    }

    /// A TCP connection to `dst` keeps retransmitting: move the destination to the next default
    /// gateway, or the default itself once a quarter of the destinations moved (seed "Dead
    /// Gateway Detection", RFC 816).
    fn dgd_suspect(&mut self, dst: Ipv4Addr) {
        let Some(d) = self.dgd_for(dst) else {
            return;
        };
        let _ = d.gateway_for(dst);
        let change = d.on_route_suspect(dst);
        let default_gw = d.default_gateway();
        match change {
            burst_tcp::GatewayChange::None => {}
            burst_tcp::GatewayChange::Destination(gw) => {
                let host = Cidr::new(dst, 32).expect("a /32 is valid");
                let _ = self.routes.delete(host, None);
                if Some(gw) != default_gw {
                    if let Some(port) = self.port_for(gw) {
                        let r = Route {
                            kind: RouteKind::DeadGateway,
                            ..Route::via(host, gw, port, 1)
                        };
                        if self.routes.add(r).is_ok() {
                            tracing::warn!(%dst, gateway = %gw, "dead gateway detection: destination moved");
                        }
                    }
                }
            }
            burst_tcp::GatewayChange::Default(gw) => {
                // Every destination follows the new default: drop the per-destination moves.
                let moved: Vec<Cidr> = self
                    .routes
                    .routes()
                    .into_iter()
                    .filter(|r| r.kind == RouteKind::DeadGateway)
                    .map(|r| r.prefix)
                    .collect();
                for p in moved {
                    let _ = self.routes.delete(p, None);
                }
                // Make `gw`'s default route the preferred one: the lowest metric.
                let defaults = self.routes.defaults();
                let best = defaults.iter().map(|r| r.metric).min().unwrap_or(1);
                if let Some(r) = defaults.iter().find(|r| r.gateway == Some(gw)).copied() {
                    if best > 0 {
                        let _ = self.routes.delete(Cidr::DEFAULT, Some(gw));
                        let _ = self.routes.add(Route {
                            metric: best - 1,
                            ..r
                        });
                    } else {
                        for o in defaults.iter().filter(|o| o.gateway != Some(gw)) {
                            let _ = self.routes.delete(Cidr::DEFAULT, o.gateway);
                            let _ = self.routes.add(Route {
                                metric: o.metric + 1,
                                ..*o
                            });
                        }
                    }
                }
                tracing::warn!(gateway = %gw, "dead gateway detection: default gateway changed");
            }
        }
    }

    /// The budget workers read for `ctl trace`.
    pub fn set_trace_gate(&mut self, gate: crate::trace::TraceGate) {
        self.trace_gate = gate;
    }

    fn trace_record(&mut self, r: &crate::trace::TraceRecord) {
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
    /// Collects the workers' netstat rows; answers once all came or the 200 ms deadline passed.
    fn finish_netstat(&mut self, now: Nanos) -> usize {
        let Some(req) = self.netstat_req.as_mut() else {
            return 0;
        };
        for (i, (gen, rows)) in req.workers.iter_mut().enumerate() {
            if rows.is_none() {
                *rows = self.worker_stats[i].netstat.take(*gen);
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

    fn finish_trace(&mut self, now: Nanos) -> usize {
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

    /// An ICMP redirect (accepted only per the redirect policy's checks) or fragmentation
    /// needed (into the path MTU cache) that a worker received.
    fn icmp_note(&mut self, port: PortId, from: Ipv4Addr, msg: &[u8], now: Nanos) {
        let Ok(p) = icmpv4::Packet::new_checked(msg) else {
            return;
        };
        let Ok(repr) = icmpv4::Repr::parse(&p, ChecksumCheck::Trust) else {
            return;
        };
        match repr {
            icmpv4::Repr::Redirect { .. } => {
                let ours: Vec<(PortId, Cidr)> = self
                    .meta
                    .iter()
                    .enumerate()
                    .flat_map(|(i, m)| m.addrs.iter().map(move |c| (PortId(i as u16), *c)))
                    .collect();
                match self
                    .redirects
                    .on_redirect(port, from, &repr, &mut self.routes, &ours, now)
                {
                    Ok(()) => tracing::info!(%from, "ICMP redirect accepted: host route installed"),
                    Err(e) => tracing::debug!(%from, "ICMP redirect rejected: {e:?}"),
                }
            }
            icmpv4::Repr::DstUnreachable { .. } => {
                if let Some((dst, mtu)) = self.pmtu.on_icmp(&repr, now) {
                    tracing::info!(%dst, mtu, "path MTU lowered");
                }
            }
            _ => {}
        }
    }

    /// The path MTU learned for `dst`, if any.
    pub fn path_mtu(&self, dst: Ipv4Addr, now: Nanos) -> Option<u16> {
        self.pmtu.get(dst, now)
    }

    /// Starts IGMP on every port with an address and joins `groups[port]` there.
    pub fn start_igmp(&mut self, groups: &[Vec<Ipv4Addr>], now: Nanos) -> Result<(), String> {
        let mut lost = 0;
        for (i, m) in self.meta.iter().enumerate() {
            let port = PortId(i as u16);
            let host = m.addrs.first().map(|c| {
                IgmpHost::new(
                    port,
                    c.address(),
                    IgmpConfig::default(),
                    0x1c3b_5eed ^ i as u64,
                )
            });
            self.igmp.push(host);
            for &g in groups.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                let Some(h) = self.igmp[i].as_mut() else {
                    return Err(format!(
                        "port {}: groups need an address to report from",
                        m.name
                    ));
                };
                let mut out = IgmpOut {
                    workers: &self.workers,
                    lost: &mut lost,
                };
                h.join(g, now, &mut out)
                    .map_err(|e| format!("port {}: join {g}: {e:?}", m.name))?;
                for w in &self.workers {
                    if w.to_worker
                        .push(ToWorker::Group {
                            port,
                            group: g,
                            joined: true,
                        })
                        .is_err()
                    {
                        lost += 1;
                    }
                }
            }
        }
        self.stats.lost_messages += lost;
        Ok(())
    }

    /// Joined groups per port, for `burst ctl igmp`.
    pub fn igmp_groups(&self) -> Vec<(String, Vec<Ipv4Addr>)> {
        self.igmp
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                h.as_ref()
                    .map(|h| (self.meta[i].name.clone(), h.groups().collect()))
            })
            .collect()
    }

    /// Starts duplicate address detection on every configured address and installs static
    /// neighbours; call once before the first `poll`.
    pub fn start(
        &mut self,
        static_arp: &[(PortId, Ipv4Addr, MacAddr)],
        now: Nanos,
    ) -> Result<(), String> {
        let mut events = Vec::new();
        let mut lost = 0;
        for (i, m) in self.meta.clone().iter().enumerate() {
            for c in &m.addrs {
                let mut out = Out {
                    workers: &self.workers,
                    lost: &mut lost,
                    addr_events: &mut events,
                };
                self.arp
                    .add_address(PortId(i as u16), *c, m.mac, now, &mut out)
                    .map_err(|e| format!("port {}: address {c}: {e}", m.name))?;
            }
        }
        for &(port, ip, mac) in static_arp {
            let mut out = Out {
                workers: &self.workers,
                lost: &mut lost,
                addr_events: &mut events,
            };
            self.arp
                .add_static(port, ip, mac, now, &mut out)
                .map_err(|e| format!("static ARP {ip}: {e}"))?;
        }
        self.stats.lost_messages += lost;
        self.note_addr_events(events);
        Ok(())
    }

    fn note_addr_events(&mut self, events: Vec<(PortId, Ipv4Addr, AddrState)>) {
        for (port, addr, state) in events {
            let name = self
                .meta
                .get(usize::from(port.0))
                .map_or("?", |m| m.name.as_str());
            match state {
                AddrState::Conflict { mac } => tracing::warn!(
                    port = name,
                    %addr,
                    other = %mac,
                    "address conflict: {addr} is in use by {mac}; address disabled"
                ),
                AddrState::Preferred => tracing::info!(port = name, %addr, "address ready"),
                AddrState::Tentative => {}
            }
            self.addr_states.insert((port, addr), state);
        }
    }

    /// State of one of our addresses.
    pub fn address_state(&self, port: PortId, addr: Ipv4Addr) -> Option<AddrState> {
        self.arp.address_state(port, addr)
    }

    /// One round: worker messages, ARP timers, route expiry, ctl requests, echo sessions.
    /// Returns how much work was done (0 = idle).
    pub fn poll(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        let mut events = Vec::new();
        let mut lost = 0;
        let mut echo = Vec::new();
        let mut notes = Vec::new();
        for w in 0..self.workers.len() {
            while let Some(m) = self.workers[w].to_control.pop() {
                work += 1;
                self.stats.messages += 1;
                let mut out = Out {
                    workers: &self.workers,
                    lost: &mut lost,
                    addr_events: &mut events,
                };
                match m {
                    ToControl::Arp { port, repr } => self.arp.on_arp(port, &repr, now, &mut out),
                    ToControl::Resolve { port, ip } => self.arp.resolve(port, ip, now, &mut out),
                    ToControl::IcmpNote {
                        port,
                        from,
                        len,
                        msg,
                    } => notes.push((port, from, len, msg)),
                    ToControl::Igmp {
                        port,
                        src,
                        dst,
                        len,
                        msg,
                    } => {
                        if let Some(Some(h)) = self.igmp.get_mut(usize::from(port.0)) {
                            h.on_message(&msg[..usize::from(len)], src, dst, now);
                        }
                    }
                    ToControl::Trace(r) => self.trace_record(&r),
                    ToControl::RouteUse { dst } => self.dgd_use(dst),
                    ToControl::RouteSuspect { dst } => self.dgd_suspect(dst),
                    other => echo.push(other),
                }
            }
        }
        {
            let mut out = Out {
                workers: &self.workers,
                lost: &mut lost,
                addr_events: &mut events,
            };
            self.arp.poll(now, &mut out);
        }
        {
            let mut out = IgmpOut {
                workers: &self.workers,
                lost: &mut lost,
            };
            for h in self.igmp.iter_mut().flatten() {
                h.poll(now, &mut out);
            }
        }
        self.stats.lost_messages += lost;
        self.note_addr_events(events);
        for (port, from, len, msg) in notes {
            self.icmp_note(port, from, &msg[..usize::from(len)], now);
        }
        self.pmtu.expire(now);
        self.routes.expire(now);
        for m in echo {
            self.echo_event(m);
        }
        while let Ok(c) = self.commands.try_recv() {
            work += 1;
            self.stats.requests += 1;
            self.command(c, now);
        }
        work += self.run_sessions(now);
        work += self.finish_trace(now);
        work += self.finish_netstat(now);
        work
    }

    fn port_by_name(&self, name: &str) -> Option<PortId> {
        self.meta
            .iter()
            .position(|m| m.name == name)
            .map(|i| PortId(i as u16))
    }

    /// The port whose connected subnet holds `ip`.
    fn port_for(&self, ip: Ipv4Addr) -> Option<PortId> {
        self.meta
            .iter()
            .position(|m| m.addrs.iter().any(|c| c.contains_addr(ip)))
            .map(|i| PortId(i as u16))
    }

    fn command(&mut self, c: Command, now: Nanos) {
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
                    self.trace_req = Some(TraceRequest {
                        want: count as usize,
                        got: Vec::new(),
                        deadline: now + Nanos::from_millis(u64::from(timeout_ms)),
                        reply,
                    });
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

    fn arp_entries(&self) -> Vec<ArpEntry> {
        let mut v: Vec<ArpEntry> = self
            .arp
            .neighbors()
            .map(|n| {
                let m = &self.meta[usize::from(n.port.0)];
                ArpEntry {
                    port: m.name.clone(),
                    interface: m
                        .addrs
                        .first()
                        .map_or(Ipv4Addr::UNSPECIFIED, |c| c.address()),
                    ip: n.ip,
                    mac: n.mac.to_string(),
                    kind: match n.kind {
                        NeighKind::Static => "static".into(),
                        _ => "dynamic".into(),
                    },
                }
            })
            .collect();
        v.sort_by(|a, b| (&a.port, a.ip).cmp(&(&b.port, b.ip)));
        v
    }

    fn arp_add(&mut self, ip: Ipv4Addr, mac: &str, port: Option<&str>, now: Nanos) -> Response {
        let Ok(mac) = mac.parse::<MacAddr>() else {
            return Response::Error {
                message: format!("{mac}: not a MAC address"),
            };
        };
        let port = match port {
            Some(n) => match self.port_by_name(n) {
                Some(p) => p,
                None => {
                    return Response::Error {
                        message: format!("no port named {n}"),
                    }
                }
            },
            None => match self.port_for(ip) {
                Some(p) => p,
                None => {
                    return Response::Error {
                        message: format!("{ip} is on no port's subnet; name the port"),
                    }
                }
            },
        };
        let mut events = Vec::new();
        let mut lost = 0;
        let mut out = Out {
            workers: &self.workers,
            lost: &mut lost,
            addr_events: &mut events,
        };
        let r = self.arp.add_static(port, ip, mac, now, &mut out);
        self.stats.lost_messages += lost;
        match r {
            Ok(()) => Response::Ok,
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        }
    }

    fn route_entries(&self) -> Vec<RouteEntry> {
        self.routes
            .routes()
            .into_iter()
            .map(|r| {
                let m = &self.meta[usize::from(r.port.0)];
                RouteEntry {
                    network: r.prefix.network().address(),
                    netmask: r.prefix.netmask(),
                    gateway: r.gateway.map_or("On-link".into(), |g| g.to_string()),
                    interface: r
                        .source
                        .or_else(|| m.addrs.first().map(|c| c.address()))
                        .unwrap_or(Ipv4Addr::UNSPECIFIED),
                    port: m.name.clone(),
                    metric: r.metric,
                    kind: match r.kind {
                        RouteKind::Connected => "connected",
                        RouteKind::Static => "static",
                        RouteKind::Redirect => "redirect",
                        RouteKind::RouterDiscovery => "router-discovery",
                        RouteKind::DeadGateway => "dead-gateway",
                    }
                    .into(),
                }
            })
            .collect()
    }

    fn route_add(&mut self, prefix: &str, via: Ipv4Addr, metric: u32) -> Response {
        let p = match prefix.parse::<Cidr>() {
            Ok(p) => p,
            Err(e) => {
                return Response::Error {
                    message: format!("{prefix}: {e}"),
                }
            }
        };
        let Some(port) = self.port_for(via) else {
            return Response::Error {
                message: format!("gateway {via} is on no port's subnet"),
            };
        };
        match self.routes.add(Route::via(p.network(), via, port, metric)) {
            Ok(()) => Response::Ok,
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        }
    }

    fn filter_rules(&self) -> Vec<FilterRule> {
        self.filters
            .list()
            .into_iter()
            .map(|e| FilterRule {
                port: self.meta[usize::from(e.port.0)].name.clone(),
                dir: e.dir.to_string(),
                index: e.index,
                rule: e.rule.to_string(),
                hits: e.hits,
            })
            .collect()
    }

    /// The port and direction a filter request names.
    fn filter_list_of(&self, port: &str, dir: &str) -> Result<(PortId, Direction), Response> {
        let Some(p) = self.port_by_name(port) else {
            return Err(Response::Error {
                message: format!("no port named {port}"),
            });
        };
        let d = dir.parse::<Direction>().map_err(|e| Response::Error {
            message: e.to_string(),
        })?;
        Ok((p, d))
    }

    fn filter_error(port: &str, dir: Direction, e: FilterError) -> Response {
        let message = match e {
            FilterError::NoSuchIndex { index, len } => format!(
                "port {port} {dir} has no rule at index {index} (it has {len} rule{})",
                if len == 1 { "" } else { "s" }
            ),
            e => format!("port {port} {dir}: {e}"),
        };
        Response::Error { message }
    }

    fn filter_add(&mut self, port: &str, dir: &str, rule: &str, index: Option<usize>) -> Response {
        let (p, d) = match self.filter_list_of(port, dir) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let rule = match rule.parse::<Rule>() {
            Ok(r) => r,
            Err(e) => {
                return Response::Error {
                    message: e.to_string(),
                }
            }
        };
        match self.filters.add(p, d, index, rule) {
            Ok(index) => Response::FilterAdded {
                index,
                rule: rule.to_string(),
            },
            Err(e) => Self::filter_error(port, d, e),
        }
    }

    fn filter_delete(&mut self, port: &str, dir: &str, index: usize) -> Response {
        let (p, d) = match self.filter_list_of(port, dir) {
            Ok(x) => x,
            Err(r) => return r,
        };
        match self.filters.delete(p, d, index) {
            Ok(rule) => Response::FilterDeleted {
                rule: rule.to_string(),
            },
            Err(e) => Self::filter_error(port, d, e),
        }
    }

    fn stats_groups(&self) -> Vec<CounterGroup> {
        let mut g = Vec::new();
        for (i, p) in self.ports.iter().enumerate() {
            let s = p.stats();
            let mut counters: Vec<Counter> = [
                ("rx_packets", s.rx_packets),
                ("rx_bytes", s.rx_bytes),
                ("rx_missed", s.rx_missed),
                ("rx_errors", s.rx_errors),
                ("rx_nombuf", s.rx_nombuf),
                ("tx_packets", s.tx_packets),
                ("tx_bytes", s.tx_bytes),
                ("tx_errors", s.tx_errors),
            ]
            .into_iter()
            .map(|(n, v)| Counter {
                name: n.into(),
                value: v,
            })
            .collect();
            counters.extend(
                p.xstats()
                    .into_iter()
                    .filter(|(_, v)| *v != 0)
                    .map(|(n, v)| Counter { name: n, value: v }),
            );
            g.push(CounterGroup {
                title: format!("port {}", self.meta[i].name),
                counters,
            });
        }
        for (i, w) in self.worker_stats.iter().enumerate() {
            g.push(CounterGroup {
                title: format!("core {i}"),
                counters: w
                    .snapshot()
                    .into_iter()
                    .map(|(n, v)| Counter { name: n, value: v })
                    .collect(),
            });
        }
        let a = self.arp.stats();
        g.push(CounterGroup {
            title: "arp (control)".into(),
            counters: format!("{a:?}")
                .trim_start_matches("ArpStats {")
                .trim_end_matches('}')
                .split(',')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once(':')?;
                    Some(Counter {
                        name: k.trim().into(),
                        value: v.trim().parse().ok()?,
                    })
                })
                .collect(),
        });
        g.push(CounterGroup {
            title: "control".into(),
            counters: vec![
                Counter {
                    name: "messages".into(),
                    value: self.stats.messages,
                },
                Counter {
                    name: "requests".into(),
                    value: self.stats.requests,
                },
                Counter {
                    name: "lost_messages".into(),
                    value: self.stats.lost_messages,
                },
            ],
        });
        g
    }

    #[allow(clippy::too_many_arguments)]
    fn start_session(
        &mut self,
        dst: Ipv4Addr,
        count: u32,
        size: u16,
        dont_frag: bool,
        ttl: u8,
        timeout_ms: u32,
        interval_ms: u32,
        trace: bool,
        reply: mpsc::Sender<Response>,
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
                outstanding: HashMap::new(),
                received: 0,
                trace,
                done: false,
                reply,
            },
        );
    }

    fn echo_event(&mut self, m: ToControl) {
        let (ident, seq) = match m {
            ToControl::EchoSent { ident, seq, .. }
            | ToControl::EchoFailed { ident, seq, .. }
            | ToControl::EchoReply { ident, seq, .. }
            | ToControl::EchoError { ident, seq, .. } => (ident, seq),
            _ => return,
        };
        let Some(s) = self.sessions.get_mut(&ident) else {
            return;
        };
        if let ToControl::EchoSent { at, .. } = m {
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
            ToControl::EchoReply {
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
            ToControl::EchoError {
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
            ToControl::EchoFailed { reason, .. } => {
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

    fn run_sessions(&mut self, now: Nanos) -> usize {
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
                let m = ToWorker::Ping {
                    dst: s.dst,
                    ident,
                    seq,
                    size: s.size,
                    ttl,
                    dont_frag: s.dont_frag,
                };
                if self.workers[w].to_worker.push(m).is_ok() {
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

    /// The route table (for the node's setup and tests).
    pub fn routes_mut(&mut self) -> &mut RouteTable {
        &mut self.routes
    }

    /// The packet filter table (for the node's setup and tests).
    pub fn filters_mut(&mut self) -> &mut FilterTable {
        &mut self.filters
    }

    /// The packet filter table.
    pub fn filters(&self) -> &FilterTable {
        &self.filters
    }

    /// The ARP control (tests).
    pub fn arp(&self) -> &ArpControl {
        &self.arp
    }
}
