//! A node: the workers and the control thread over a set of ports, built from a
//! [`NodeConfig`]. Runs either on threads ([`Node::spawn`]) or stepped by hand on a virtual
//! clock ([`Node::step`], for deterministic tests on the in-memory wire).

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use burst_port::clock::Clock;
use burst_port::{Nanos, Port};
use burst_stack::arp::{ArpConfig, ArpControl};
use burst_stack::epoch::{Domain, Published};
use burst_stack::filter::{Direction, FilterTable, Rule};
use burst_stack::icmp::IcmpConfig;
use burst_stack::ipv4::{AddrState, IfAddr, Ipv4Config};
use burst_stack::pmtu::{PmtuCache, PmtuConfig};
use burst_stack::route::{Route, RouteTable};
use burst_stack::PortId;
use burst_wire::ethernet::MacAddr;
use burst_wire::ipv4::Cidr;

use crate::app::services::Services;
use crate::app::{App, AppConfig, AppRunner};
use crate::control::{Command, Control, PortMeta};
use crate::msg::Rings;
use crate::worker::{ActiveOpenRss, Handoff, PortCtx, TcpSetup, Worker, WorkerConfig};

mod from_config;

/// One port of a node.
#[derive(Debug, Clone)]
pub struct NodePort {
    /// Name (`p0`).
    pub name: String,
    /// Addresses with prefix lengths.
    pub addrs: Vec<Cidr>,
    /// Multicast groups joined at start.
    pub groups: Vec<Ipv4Addr>,
    /// Expect a local kernel peer's partial checksums and super-frames; `None` = decided by
    /// the port's driver (`burst_port::kernel_backed`).
    pub partial_checksums: Option<bool>,
}

/// A static route.
#[derive(Debug, Clone, Copy)]
pub struct NodeRoute {
    /// Prefix.
    pub prefix: Cidr,
    /// Gateway; `None` for a destination on the port's link.
    pub via: Option<Ipv4Addr>,
    /// The port.
    pub port: PortId,
    /// Metric.
    pub metric: u32,
}

/// Everything a node is built from. `Default` is one worker, no ports, the seeds' defaults
/// (tests set what they need and take the rest with `..NodeConfig::default()`).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Ports, in the order of the `ports` vector given to [`Node::build`].
    pub ports: Vec<NodePort>,
    /// Static routes.
    pub routes: Vec<NodeRoute>,
    /// Static neighbours: port name, address, MAC.
    pub static_arp: Vec<(String, Ipv4Addr, MacAddr)>,
    /// Number of workers (each takes queue `i` of every port).
    pub workers: usize,
    /// How long a spawned worker sleeps after a round with nothing to do (`[eal] idle_sleep`;
    /// zero spins).
    pub idle_sleep: Nanos,
    /// ARP tunables.
    pub arp: ArpConfig,
    /// IPv4 tunables.
    pub ipv4: Ipv4Config,
    /// ICMP tunables.
    pub icmp: IcmpConfig,
    /// Capacity of the second-level LPM tables (route scale).
    pub lpm_tbl8_groups: u32,
    /// Most distinct next hops.
    pub max_next_hops: u32,
    /// Built-in UDP services to run on every worker.
    pub services: Vec<burst_stack::udp::Service>,
    /// The quote of the day.
    pub qotd: String,
    /// TCP/IP filtering.
    pub filtering: burst_stack::udp::Filtering,
    /// Router mode: ICMP redirects to hosts on the arrival link.
    pub send_redirects: bool,
    /// Packet filter rules: port name, direction, rule; appended in this order.
    pub filters: Vec<(String, Direction, Rule)>,
    /// TCP.
    pub tcp: NodeTcp,
    /// What the control thread does with ICMP redirects (`[icmp] accept_redirects`,
    /// `redirect_lifetime`).
    pub redirects: burst_stack::redirect::RedirectConfig,
    /// Router discovery (RFC 1256): host side and advertising ports.
    pub rdisc: crate::control::RdiscSetup,
    /// Application limits (`[app]`) and the TCP settings an application's calls use.
    pub app: AppConfig,
    /// The packet-buffer pool the workers share, to size what each may hold (`None`: no
    /// bound beyond each part's own defaults).
    pub buffers: Option<Buffers>,
    /// NAT, the stateful firewall and connection tracking (`[nat]`, `[firewall]`,
    /// `[conntrack]`, `[[nat_static]]`, `[[port_forward]]`, `[[exception]]`).
    pub firewall: NodeFirewall,
    /// IPsec SAs and policies (`None`: the hook is off).
    pub ipsec: Option<burst_ipsec::config::IpsecConfig>,
}

/// A node's firewall-hook: off unless NAT or a firewalled port is configured.
#[derive(Debug, Clone, Default)]
pub struct NodeFirewall {
    /// Connection tracking, per worker.
    pub conntrack: burst_stack::conntrack::ConntrackConfig,
    /// NAT: its outside ports (names) and settings (`own` and `reserved` are filled in by the
    /// node from its addresses and ephemeral ports).
    pub nat: Option<(Vec<String>, burst_stack::nat::NatConfig)>,
    /// Firewalled ports (names).
    pub ports: Vec<String>,
    /// ICMP types blocked through firewalled ports.
    pub block_icmp: Vec<u8>,
    /// The exceptions list: port name and a `permit` rule.
    pub exceptions: Vec<(String, Rule)>,
    /// Later fragments each worker holds until their first fragment passes.
    pub held_fragments: usize,
}

impl NodeFirewall {
    /// Whether the firewall-hook has anything to do.
    pub fn enabled(&self) -> bool {
        self.nat.is_some() || !self.ports.is_empty()
    }
}

/// A packet-buffer pool's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffers {
    /// Buffers in the pool.
    pub count: usize,
    /// Bytes per buffer (headroom, data room).
    pub size: usize,
}

/// What one worker may hold of the pool beyond a burst: half the pool stays for receive (and
/// transmit rings), the other half is shared by the workers, each splitting its share between
/// reassembly (half), socket queues and neighbour pending queues (a quarter each). A flood of
/// fragments, of datagrams to a socket nobody reads or of packets to a silent neighbour then
/// fills only its own share (refusals counted: `frag.drop_memory`, `udp.drop_budget`,
/// `l2.drop_pending_full`), and the worker can still receive and answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerBudget {
    /// Buffers reassembly may hold.
    pub reassembly: usize,
    /// Datagrams all UDP sockets may hold.
    pub sockets: usize,
    /// Packets all pending queues may hold.
    pub pending: usize,
}

impl WorkerBudget {
    /// The share of one of `workers` workers of `pool`.
    pub fn of(pool: Buffers, workers: usize) -> WorkerBudget {
        let per = pool.count / 2 / workers.max(1);
        WorkerBudget {
            reassembly: (per / 2).max(1),
            sockets: (per / 4).max(1),
            pending: (per / 4).max(1),
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            ports: Vec::new(),
            routes: Vec::new(),
            static_arp: Vec::new(),
            workers: 1,
            idle_sleep: Nanos(0),
            arp: ArpConfig::default(),
            ipv4: Ipv4Config::default(),
            icmp: IcmpConfig::default(),
            lpm_tbl8_groups: 64,
            max_next_hops: 64,
            services: Vec::new(),
            qotd: String::new(),
            filtering: Default::default(),
            send_redirects: true,
            filters: Vec::new(),
            tcp: NodeTcp::default(),
            redirects: Default::default(),
            rdisc: Default::default(),
            app: AppConfig::default(),
            buffers: None,
            firewall: NodeFirewall::default(),
            ipsec: None,
        }
    }
}

/// A node's TCP: the same stack configuration and services on every worker.
#[derive(Debug, Clone, Default)]
pub struct NodeTcp {
    /// Stack configuration; its `mtu` is replaced by the smallest port MTU and its `secret`
    /// by fresh randomness when it is all zero.
    pub stack: burst_tcp::StackConfig,
    /// Send super-segments (`stack.tso_max_segs`) only if every port does TCP segmentation in
    /// hardware (`[tcp] tso = "auto"`): the software fallback copies each byte once more than
    /// plain segments, which costs more than the per-segment work it saves (docs/tcp.md).
    pub tso_hardware_only: bool,
    /// TCP services, `None` for none.
    pub services: Option<burst_tcp::stack::services::ServiceConfig>,
}

/// 16 bytes from the OS's randomness (std's per-process hash keys, which it draws from the
/// OS), for the ISN and SYN-cookie secret.
fn random_secret() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// How worker `w` of `workers` picks source ports for active opens over ports `infos`.
fn active_open_rss(infos: &[burst_port::PortInfo], workers: usize, _w: usize) -> ActiveOpenRss {
    if workers <= 1 {
        return ActiveOpenRss::Any;
    }
    let first = &infos[0];
    let same_spread = infos
        .iter()
        .all(|i| i.queues == first.queues && i.rss_key == first.rss_key);
    // DPDK drivers fill their RETA (any power-of-two size) round-robin: with a power-of-two
    // queue count entry `h % size` is queue `h % queues` whatever the size. The mem NIC uses
    // a 128-entry round-robin table for any count.
    let reta_known = infos
        .iter()
        .all(|i| i.driver == "mem" || i.queues.is_power_of_two());
    if same_spread && reta_known && infos.iter().all(|i| i.caps.rss) {
        return ActiveOpenRss::Toeplitz {
            key: first.rss_key,
            reta: burst_port::rss::Reta::new(first.queues),
        };
    }
    // af_packet/af_xdp fanout (a per-boot kernel key), tap, a mem port without RSS, a device
    // key we do not know: every worker takes ports it owns and replies are steered to it.
    ActiveOpenRss::Steered { workers }
}

/// A built node: the control state, the workers and the application on each.
pub struct Node<P: Port, A = Services> {
    /// The control state.
    pub control: Control<P>,
    /// The workers.
    pub workers: Vec<Worker<P::Queue>>,
    /// The application of each worker (index = worker).
    pub apps: Vec<AppRunner<A>>,
    /// Sends ctl commands to the control thread.
    pub commands: mpsc::Sender<Command>,
    /// Workers whose application called `Cx::finish` (counted by the spawned threads).
    pub finished: Arc<AtomicUsize>,
    /// How long a spawned worker sleeps after an idle round (zero spins).
    pub idle_sleep: Nanos,
}

/// Why a node could not be built.
pub type BuildError = String;

impl Services {
    /// The services a node configuration asks for (`[services]`: UDP and TCP).
    pub fn from_node(cfg: &NodeConfig) -> Services {
        Services::new(
            cfg.services.clone(),
            cfg.qotd.clone(),
            cfg.tcp.services.clone(),
        )
    }
}

impl<P: Port + Send + 'static> Node<P, Services>
where
    P::Queue: Send + 'static,
{
    /// Builds the node with the configuration's built-in services as its application (what
    /// `burst run` runs); see [`Node::build_app`].
    pub fn build(cfg: &NodeConfig, ports: Vec<P>, now: Nanos) -> Result<Node<P>, BuildError> {
        Node::build_app(cfg, ports, now, |cfg, _| Services::from_node(cfg))
    }
}

impl<P: Port + Send + 'static, A: App<P::Queue> + Send + 'static> Node<P, A>
where
    P::Queue: Send + 'static,
{
    /// Builds the tables, workers and control state over `ports` (index = port id), starts
    /// duplicate address detection at `now`, and starts `make(cfg, worker)` on every worker.
    pub fn build_app(
        cfg: &NodeConfig,
        mut ports: Vec<P>,
        now: Nanos,
        mut make: impl FnMut(&NodeConfig, usize) -> A,
    ) -> Result<Node<P, A>, BuildError> {
        if cfg.ports.len() != ports.len() {
            return Err(format!(
                "{} port configurations for {} ports",
                cfg.ports.len(),
                ports.len()
            ));
        }
        // One reclamation domain for every table the workers read: one pin per burst covers
        // them all, and nothing outside this node can hold their reclamation back.
        let domain = Domain::new();
        let mut routes = RouteTable::with_domain(cfg.lpm_tbl8_groups, cfg.max_next_hops, &domain);
        let mut meta = Vec::new();
        let mut addrs = Vec::new();
        let mut ctxs = Vec::new();
        for (i, (pc, p)) in cfg.ports.iter().zip(&ports).enumerate() {
            let id = PortId(i as u16);
            let info = p.info();
            for c in &pc.addrs {
                match routes.add(Route::connected(c.network(), id, c.address())) {
                    // A second address on the same subnet shares the first one's connected
                    // route (it keeps the first address as its preferred source).
                    Ok(()) | Err(burst_stack::route::RouteError::Exists) => {}
                    Err(e) => return Err(format!("port {}: connected route {c}: {e}", pc.name)),
                }
                addrs.push(IfAddr {
                    port: id,
                    cidr: *c,
                    state: AddrState::Tentative,
                });
            }
            meta.push(PortMeta {
                name: pc.name.clone(),
                mac: info.mac,
                addrs: pc.addrs.clone(),
            });
            ctxs.push(PortCtx {
                id,
                mac: info.mac,
                mtu: info.mtu,
                partial_csum: pc
                    .partial_checksums
                    .unwrap_or_else(|| burst_port::kernel_backed(&info.driver).partial_checksums),
            });
        }
        for r in &cfg.routes {
            let route = match r.via {
                Some(via) => Route::via(r.prefix.network(), via, r.port, r.metric),
                None => Route {
                    gateway: None,
                    ..Route::via(r.prefix.network(), Ipv4Addr::UNSPECIFIED, r.port, r.metric)
                },
            };
            routes
                .add(route)
                .map_err(|e| format!("route {}: {e}", r.prefix))?;
        }
        let mut filters = FilterTable::with_domain(cfg.ports.len(), cfg.workers.max(1), &domain);
        for (name, dir, rule) in &cfg.filters {
            let p = cfg
                .ports
                .iter()
                .position(|p| &p.name == name)
                .ok_or_else(|| format!("filter {dir} {rule}: no port named {name}"))?;
            filters
                .add(PortId(p as u16), *dir, None, *rule)
                .map_err(|e| format!("filter {name} {dir} {rule}: {e}"))?;
        }
        let port_id = |name: &str, what: &str| {
            cfg.ports
                .iter()
                .position(|p| p.name == name)
                .map(|p| PortId(p as u16))
                .ok_or_else(|| format!("{what}: no port named {name}"))
        };
        let mut exceptions = FilterTable::with_domain(cfg.ports.len(), cfg.workers.max(1), &domain);
        for (name, rule) in &cfg.firewall.exceptions {
            let p = port_id(name, "firewall exception")?;
            exceptions
                .add(p, Direction::In, None, *rule)
                .map_err(|e| format!("exception {name} {rule}: {e}"))?;
        }
        let fw_setup = if cfg.firewall.enabled() {
            let mask = |names: &[String], what: &str| -> Result<u64, String> {
                names.iter().try_fold(0u64, |m, n| {
                    let p = port_id(n, what)?;
                    Ok(m | 1u64.checked_shl(u32::from(p.0)).unwrap_or(0))
                })
            };
            let mut fwc = burst_stack::firewall::FirewallConfig {
                ports: mask(&cfg.firewall.ports, "firewall port")?,
                ..Default::default()
            };
            for &t in &cfg.firewall.block_icmp {
                fwc.block(t);
            }
            let (outside, nat) = match &cfg.firewall.nat {
                Some((names, nat)) => {
                    let mut nat = nat.clone();
                    let ours: Vec<Ipv4Addr> = addrs.iter().map(|a| a.cidr.address()).collect();
                    nat.own = nat
                        .pool
                        .iter()
                        .copied()
                        .filter(|a| ours.contains(a))
                        .collect();
                    // Our own ephemeral ports on those addresses stay ours.
                    nat.reserved = Some(cfg.tcp.stack.ephemeral_ports);
                    (mask(names, "nat outside port")?, Some(nat))
                }
                None => (0, None),
            };
            Some(crate::worker::FirewallSetup {
                conntrack: cfg.firewall.conntrack,
                nat,
                outside,
                firewall: fwc,
                exceptions: exceptions.reader(),
                held_fragments: cfg.firewall.held_fragments,
            })
        } else {
            None
        };
        let arp = ArpControl::with_domain(cfg.arp.clone(), &domain);
        let trace = crate::trace::TraceGate::new();
        let infos: Vec<burst_port::PortInfo> = ports.iter().map(|p| p.info().clone()).collect();
        let mut tcp_stack = cfg.tcp.stack.clone();
        tcp_stack.mtu = ctxs.iter().map(|c| c.mtu).min().unwrap_or(1500);
        if cfg.tcp.tso_hardware_only && !infos.iter().all(|i| i.caps.tx_tso) {
            tcp_stack.tso_max_segs = 1;
        }
        let (ipsec, sad_publisher) = match cfg.ipsec.as_ref() {
            Some(c) => {
                tracing::info!(
                    aes_gcm = %burst_ipsec::algo::aes_gcm_backend(),
                    "IPsec: AES-GCM implementation"
                );
                let (s, p) = crate::worker::IpsecSetup::new(c, &domain);
                (Some(s), Some(p))
            }
            None => (None, None),
        };
        if let Some(s) = &ipsec {
            // ESP's overhead comes out of the MSS TCP advertises and uses, so full-sized
            // segments with DF still fit the link once protected; super-segments cannot be
            // protected (ESP seals whole datagrams), so TCP sends plain segments.
            tcp_stack.mtu = tcp_stack.mtu.saturating_sub(s.max_overhead()).max(576);
            tcp_stack.tso_max_segs = 1;
        }
        if tcp_stack.secret == [0; 16] {
            tcp_stack.secret = random_secret();
        }
        let nworkers = cfg.workers.max(1);
        let budget = cfg.buffers.map(|b| {
            let w = WorkerBudget::of(b, nworkers);
            tracing::info!(
                pool = b.count,
                reassembly = w.reassembly,
                sockets = w.sockets,
                pending = w.pending,
                "per-worker buffer budget (half the pool kept for receive)"
            );
            w
        });
        let mut reassembly = burst_stack::frag::ReassemblyConfig::default();
        let mut worker_arp = cfg.arp.clone();
        if let (Some(w), Some(b)) = (budget, cfg.buffers) {
            // Reassembly counts the memory its buffers pin; the other two count packets.
            reassembly.max_bytes_total = reassembly.max_bytes_total.min(w.reassembly * b.size);
            worker_arp.pending_total = worker_arp.pending_total.min(w.pending);
        }
        // The path MTU cache lives in the control thread; workers read what it publishes.
        let link_mtu = ctxs.iter().map(|c| c.mtu).max().unwrap_or(1500);
        let pmtu = Published::new(
            PmtuCache::new(PmtuConfig::default(), link_mtu).snapshot(now),
            &domain,
        );
        if nworkers > 1
            && matches!(
                active_open_rss(&infos, nworkers, 0),
                ActiveOpenRss::Steered { .. }
            )
        {
            tracing::info!(
                workers = nworkers,
                "tcp/udp: the ports' receive hash is not computable here: active opens take \
                 ports their worker owns (port % workers) and replies are steered to it"
            );
        }
        let handoff = (nworkers > 1).then(|| Handoff::queues(nworkers, cfg.app.handoff_queue));
        let mut workers = Vec::new();
        let mut rings = Vec::new();
        for w in 0..cfg.workers.max(1) {
            let mut queues = Vec::new();
            for (i, p) in ports.iter_mut().enumerate() {
                queues.push(p.take_queue(w as u16).ok_or_else(|| {
                    format!(
                        "port {}: no queue {w} for worker {w} (the port has {} queues)",
                        cfg.ports[i].name,
                        p.info().queues
                    )
                })?);
            }
            let r = Rings::new(1.0);
            rings.push(r.clone());
            workers.push(Worker::new(
                w,
                queues,
                ctxs.clone(),
                addrs.clone(),
                routes.reader(),
                arp.reader(),
                r,
                WorkerConfig {
                    ipv4: cfg.ipv4,
                    icmp: cfg.icmp,
                    arp: worker_arp.clone(),
                    reassembly,
                    udp_max_queued: budget.map_or(usize::MAX, |b| b.sockets),
                    filtering: cfg.filtering.clone(),
                    send_redirects: cfg.send_redirects,
                    filters: filters.reader(),
                    trace: trace.clone(),
                    tcp: TcpSetup {
                        stack: tcp_stack.clone(),
                        rss: active_open_rss(&infos, nworkers, w),
                    },
                    port_names: cfg.ports.iter().map(|p| p.name.clone()).collect(),
                    pmtu: pmtu.view(),
                    max_groups: cfg.ports.iter().map(|p| p.groups.len()).sum::<usize>() + 64,
                    firewall: fw_setup.clone(),
                    ipsec: ipsec.clone(),
                    workers: nworkers,
                },
            ));
            if let Some(q) = &handoff {
                let ephemeral = tcp_stack.ephemeral_ports;
                workers[w].set_handoff(Handoff::for_worker(q.clone(), w, ephemeral));
            }
        }
        let mut apps = Vec::with_capacity(workers.len());
        for (w, worker) in workers.iter_mut().enumerate() {
            let mut r = AppRunner::new(
                make(cfg, w),
                &cfg.app,
                nworkers,
                tcp_stack.max_connections,
                now,
            );
            r.start(worker, now)
                .map_err(|e| format!("worker {w}: the application did not start: {e}"))?;
            apps.push(r);
        }
        let stats = workers.iter().map(|w| w.shared_stats()).collect();
        let (tx, rx) = mpsc::channel();
        let mut control = Control::new(
            routes,
            filters,
            arp,
            ports,
            meta,
            rings,
            stats,
            rx,
            cfg.ipv4.default_ttl,
        );
        control.set_trace_gate(trace);
        control.set_firewall(
            exceptions,
            workers.iter().filter_map(|w| w.session_slot()).collect(),
            cfg.firewall.clone(),
        );
        control.set_ipsec(
            sad_publisher,
            workers.iter().filter_map(|w| w.ipsec_slot()).collect(),
        );
        control.set_redirect_config(cfg.redirects);
        control.set_pmtu(link_mtu, pmtu);
        let static_arp = cfg
            .static_arp
            .iter()
            .map(|(name, ip, mac)| {
                let p = cfg
                    .ports
                    .iter()
                    .position(|p| &p.name == name)
                    .ok_or_else(|| format!("static ARP {ip}: no port named {name}"))?;
                Ok((PortId(p as u16), *ip, *mac))
            })
            .collect::<Result<Vec<_>, String>>()?;
        control.start(&static_arp, now)?;
        let groups: Vec<Vec<Ipv4Addr>> = cfg.ports.iter().map(|p| p.groups.clone()).collect();
        control.start_igmp(&groups, now)?;
        control.start_rdisc(&cfg.rdisc, now);
        control.set_app_stats(apps.iter().map(AppRunner::stats).collect());
        control.set_capture_taps(workers.iter().map(|w| w.capture_tap()).collect());
        // What an application runs into, per worker, for `netstat -s` and `ctl stats`.
        let mut limits = vec![
            ("tcp.max_connections", tcp_stack.max_connections as u64),
            ("tcp.max_listeners", tcp_stack.max_listeners as u64),
            ("tcp.syn_backlog", tcp_stack.syn_backlog as u64),
            ("tcp.max_backlog", tcp_stack.max_backlog as u64),
            ("tcp.send_buffer", tcp_stack.tcp.send_buffer as u64),
            ("tcp.recv_buffer", tcp_stack.tcp.recv_buffer as u64),
            ("udp.max_sockets", crate::worker::UDP_MAX_SOCKETS as u64),
            (
                "udp.queue_per_socket",
                crate::worker::UDP_SOCKET_QUEUE as u64,
            ),
            (
                "udp.max_queued",
                budget.map_or(u64::MAX, |b| b.sockets as u64),
            ),
            ("app.max_timers", cfg.app.max_timers as u64),
            ("app.handoff_queue", cfg.app.handoff_queue as u64),
        ];
        if cfg.firewall.enabled() {
            limits.push((
                "conntrack.max_sessions",
                cfg.firewall.conntrack.max_sessions as u64,
            ));
        }
        if let Some((_, nat)) = &cfg.firewall.nat {
            limits.push(("nat.max_mappings", nat.max_mappings as u64));
        }
        control.set_limits(limits);
        Ok(Node {
            control,
            workers,
            apps,
            commands: tx,
            finished: Arc::new(AtomicUsize::new(0)),
            idle_sleep: cfg.idle_sleep,
        })
    }

    /// One round of every worker and the control thread at `now` (single-threaded stepping for
    /// tests). Returns the work done.
    pub fn step(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        for (w, a) in self.workers.iter_mut().zip(&mut self.apps) {
            work += w.poll(now);
            work += a.round(w, now);
        }
        work += self.control.poll(now);
        for (w, a) in self.workers.iter_mut().zip(&mut self.apps) {
            work += w.poll(now);
            work += a.round(w, now);
        }
        work
    }

    /// Runs `f` with worker `w`'s application and its context at `now` (tests: calls the app
    /// would make, between steps); what it queues is sent.
    pub fn with_app<R>(
        &mut self,
        w: usize,
        now: Nanos,
        f: impl FnOnce(&mut A, &mut crate::app::Cx<'_, P::Queue>) -> R,
    ) -> R {
        self.apps[w].with(&mut self.workers[w], now, f)
    }

    /// Runs every worker on its own thread and the control thread on another, until `stop`
    /// is set. Returns the handles (join them after setting `stop`).
    pub fn spawn<C: Clock + Clone + 'static>(
        self,
        clock: C,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        self.spawn_with(clock, stop, Arc::new(|_| {}), Arc::new(|_| {}))
    }

    /// [`spawn`](Self::spawn), with `enter(worker index)` run first on each worker thread and
    /// `leave(worker index)` last (the DPDK backend registers its workers with the EAL there,
    /// which gives them a mempool cache).
    pub fn spawn_with<C: Clock + Clone + 'static>(
        self,
        clock: C,
        stop: Arc<AtomicBool>,
        enter: Arc<dyn Fn(usize) + Send + Sync>,
        leave: Arc<dyn Fn(usize) + Send + Sync>,
    ) -> std::io::Result<Vec<JoinHandle<()>>> {
        let mut handles = Vec::new();
        // Workers stop after the control thread: its last messages (router discovery's
        // farewell advertisements) still go out through them.
        let workers_stop = Arc::new(AtomicBool::new(false));
        // The control thread owns the ports: it closes them only once no worker uses them.
        let running = Arc::new(AtomicUsize::new(self.workers.len()));
        let idle_sleep = Duration::from_nanos(self.idle_sleep.0);
        /// One worker fewer when dropped.
        struct Done(Arc<AtomicUsize>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Release);
            }
        }
        for (mut w, mut app) in self.workers.into_iter().zip(self.apps) {
            let (clock, stop) = (clock.clone(), workers_stop.clone());
            let running = running.clone();
            let finished = self.finished.clone();
            let (enter, leave) = (enter.clone(), leave.clone());
            handles.push(
                std::thread::Builder::new()
                    .name(format!("burst-worker-{}", w.id()))
                    .spawn(move || {
                        // Counted out however the thread ends (a panic included).
                        let _done = Done(running);
                        enter(w.id());
                        if !idle_sleep.is_zero() {
                            set_timer_slack(idle_sleep);
                        }
                        let mut idle = 0u32;
                        let mut done = false;
                        while !stop.load(Ordering::Acquire) {
                            let now = clock.now();
                            let work = w.poll(now) + app.round(&mut w, now);
                            if !done && app.finished() {
                                done = true;
                                finished.fetch_add(1, Ordering::Release);
                            }
                            if work == 0 {
                                idle += 1;
                                if !idle_sleep.is_zero() {
                                    // `[eal] idle_sleep`: the CPU goes to whatever shares it
                                    // (a veth's NAPI thread) until the next round.
                                    std::thread::sleep(idle_sleep);
                                    w.record_idle_sleep();
                                } else if idle % 1024 == 0 {
                                    // A poll-mode worker spins; yield now and then so a shared
                                    // core (the 2-core lab) still serves the control thread.
                                    std::thread::yield_now();
                                }
                            } else {
                                idle = 0;
                            }
                        }
                        // The app's last calls, and what the control thread queued before it
                        // let us go.
                        app.stop(&mut w, clock.now());
                        w.poll(clock.now());
                        let id = w.id();
                        // The worker's buffers go back to their pool while still registered.
                        drop(w);
                        leave(id);
                    })?,
            );
        }
        let mut control = self.control;
        handles.push(
            std::thread::Builder::new()
                .name("burst-control".into())
                .spawn(move || {
                    /// Lets the workers stop when the control thread ends, however it ends.
                    struct Release(Arc<AtomicBool>);
                    impl Drop for Release {
                        fn drop(&mut self) {
                            self.0.store(true, Ordering::Release);
                        }
                    }
                    let _release = Release(workers_stop);
                    // Not the packet path: sleeping keeps a core free for the workers. The nap
                    // grows while nothing happens (ARP and route timers work in seconds, ctl
                    // requests tolerate milliseconds), so an idle control thread does not keep
                    // preempting a worker that shares its CPU.
                    let mut nap = Duration::from_micros(200);
                    while !stop.load(Ordering::Relaxed) {
                        if control.poll(clock.now()) == 0 {
                            std::thread::sleep(nap);
                            nap = (nap * 2).min(Duration::from_millis(5));
                        } else {
                            nap = Duration::from_micros(200);
                        }
                    }
                    control.stop_rdisc();
                    drop(_release);
                    // Ports close when `control` drops: not under a worker's feet.
                    let since = std::time::Instant::now();
                    let mut warned = false;
                    while running.load(Ordering::Acquire) > 0 {
                        if !warned && since.elapsed() > Duration::from_secs(10) {
                            warned = true;
                            tracing::error!(
                                left = running.load(Ordering::Relaxed),
                                "workers have not stopped after 10 s; the ports stay open \
                                 until they do"
                            );
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })?,
        );
        Ok(handles)
    }
}

/// Makes the calling thread's timed sleeps end within `slack` of their deadline (Linux's
/// default is 50 µs, which would stretch a 1 µs `idle_sleep` fiftyfold).
fn set_timer_slack(slack: Duration) {
    let ns = slack.as_nanos().clamp(1, 50_000) as libc::c_ulong;
    // SAFETY: PR_SET_TIMERSLACK takes an integer and touches no memory of ours.
    let r = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns, 0, 0, 0) };
    if r != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "could not shorten the worker's timer slack: idle sleeps last at least 50 µs"
        );
    }
}

#[cfg(test)]
mod tests;
