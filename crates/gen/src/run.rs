//! Running a test: one engine per core (threads on real ports, or all on one thread against a
//! virtual clock for deterministic tests), a supervisor that ends the run (every load loop is
//! bounded: generation stops at `[test] duration` or when every stream is done, reception one
//! `drain` later), the live line, and the report.
//!
//! ```text
//!  t0 ──── generation (≤ duration) ────┬──── drain ────┐ end: cores stop, counters are read
//!          every core sends its shares  │ cores only    │ (nothing in flight: loss is exact)
//!          and receives                 │ receive       │
//! ```

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use burst_port::clock::VirtualClock;
use burst_port::mem::{MemPort, MemQueue, Wire};
use burst_port::{Nanos, Port, Queue};
use burst_wire::ethernet::MacAddr;

use crate::arp::{self, Want};
use crate::config::GenConfig;
use crate::engine::{Control, CoreResult, Engine, PortSetup, Ticks};
use crate::report::{live_line, Report, SecondReport, Series};

/// Where the live per-second line goes.
#[derive(Debug)]
pub enum Live {
    /// Nowhere (tests, `--quiet`).
    Quiet,
    /// Plain lines on stderr (not a terminal, or `--plain`).
    Plain,
    /// An `indicatif` bar on a terminal, the line as its message.
    Bar(indicatif::ProgressBar),
}

impl Live {
    /// A bar on a terminal, plain lines otherwise.
    pub fn auto(total_secs: u64) -> Live {
        if std::io::stderr().is_terminal() {
            let b = indicatif::ProgressBar::new(total_secs);
            b.set_style(
                indicatif::ProgressStyle::with_template("[{bar:20}] {pos}/{len}s {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            Live::Bar(b)
        } else {
            Live::Plain
        }
    }

    fn show(&self, r: &SecondReport, ports: &[String]) {
        match self {
            Live::Quiet => {}
            Live::Plain => eprintln!("{}", live_line(r, ports)),
            Live::Bar(b) => {
                b.set_position(u64::from(r.second) + 1);
                b.println(live_line(r, ports));
            }
        }
    }

    fn done(&self) {
        if let Live::Bar(b) = self {
            b.finish_and_clear();
        }
    }
}

/// Ends the run and collects the per-second reports.
struct Supervisor<'a> {
    ctl: Arc<Control>,
    series: Series,
    drain: u64,
    ports: Vec<String>,
    live: &'a Live,
}

impl Supervisor<'_> {
    /// Collects what the cores published; once every core has stopped sending, ends the run
    /// one drain later. Returns whether the run goes on.
    fn step(&mut self, now: u64) -> bool {
        while let Some(t) = self.ctl.ticks.pop() {
            for r in self.series.add(t) {
                self.live.show(&r, &self.ports);
            }
        }
        if self.ctl.sending.load(Ordering::Acquire) == 0 {
            let _ = self.ctl.end.fetch_min(now + self.drain, Ordering::AcqRel);
        }
        now < self.ctl.end.load(Ordering::Acquire)
    }

    fn finish(mut self) -> (Vec<SecondReport>, Vec<String>) {
        while let Some(t) = self.ctl.ticks.pop() {
            for r in self.series.add(t) {
                self.live.show(&r, &self.ports);
            }
        }
        self.live.done();
        let mut notes = Vec::new();
        let lost = self.ctl.ticks_lost.load(Ordering::Relaxed);
        if lost > 0 {
            notes.push(format!(
                "{lost} per-second reports were lost (the supervisor fell behind); totals are exact"
            ));
        }
        (self.series.finish(), notes)
    }
}

/// Ticks for a duration.
pub fn ticks(n: Nanos, hz: u64) -> u64 {
    (u128::from(n.0) * u128::from(hz) / 1_000_000_000) as u64
}

/// Unix time now, in seconds.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The ports' queues for every core and what the engines need to know about the ports.
#[derive(Debug)]
pub struct Lab<Q: Queue> {
    /// `queues[core][port]`.
    pub queues: Vec<Vec<Q>>,
    /// Per port.
    pub ports: Vec<PortSetup>,
    /// Per stream: the resolved destination MAC.
    pub dst_macs: Vec<MacAddr>,
}

/// Whether a stream needs its destination MAC resolved (raw frames carry their own).
fn needs_arp(s: &crate::config::StreamConfig) -> bool {
    s.dst_mac.is_none() && !matches!(s.protocol, crate::template::Protocol::Raw(_))
}

/// What to ARP for: every stream without `dst_mac`, its gateway (or its destination).
pub fn arp_wants(cfg: &GenConfig, ports: &[PortSetup]) -> Vec<Want> {
    cfg.streams
        .iter()
        .filter(|s| needs_arp(s))
        .map(|s| Want {
            port: s.port,
            mac: s.src_mac.unwrap_or(ports[s.port].mac),
            src: s.src,
            target: s.gateway.unwrap_or(s.dst),
        })
        .collect()
}

/// The addresses each port answers ARP for while resolving: its own.
fn own_addresses(cfg: &GenConfig, ports: &[PortSetup]) -> Vec<Vec<(core::net::Ipv4Addr, MacAddr)>> {
    cfg.ports
        .iter()
        .zip(ports)
        .map(|(p, s)| p.addresses.iter().map(|a| (a.address(), s.mac)).collect())
        .collect()
}

/// Fills in `dst_macs` from the configuration and ARP (on core 0's queues). `resend` and
/// `wait` pace the requests and bound the wait (see [`arp::resolve`]).
pub fn resolve<Q: Queue>(
    cfg: &GenConfig,
    lab: &mut Lab<Q>,
    resend: impl FnMut() -> bool,
    wait: impl FnMut() -> bool,
) -> Result<(), String> {
    let wants = arp_wants(cfg, &lab.ports);
    let mut got = Vec::new();
    if !wants.is_empty() {
        let ours = own_addresses(cfg, &lab.ports);
        got = arp::resolve(&mut lab.queues[0], &wants, &ours, resend, wait).map_err(|ip| {
            format!(
                "no ARP reply for {ip} within [test] arp_timeout ({} ms): is the DUT up and on \
                 that subnet? Set the stream's gateway to its next hop, or dst_mac to skip ARP",
                cfg.test.arp_timeout.as_millis()
            )
        })?;
    }
    let mut it = got.into_iter();
    lab.dst_macs = cfg
        .streams
        .iter()
        .map(|s| {
            s.dst_mac
                .unwrap_or_else(|| it.next().unwrap_or(MacAddr::BROADCAST))
        })
        .collect();
    Ok(())
}

/// Runs a test on in-memory wires (sharing one virtual clock), every core on this thread:
/// deterministic to the nanosecond and the packet.
pub fn run_sim(cfg: &GenConfig, lab: &mut Lab<MemQueue>, wires: &[Wire], live: &Live) -> Report {
    run_sim_stalled(cfg, lab, wires, live, Nanos(0)..Nanos(0))
}

/// [`run_sim`] with every core descheduled during `stall` (nanoseconds from the start of
/// generation): no core polls between its start and its end, as when the OS preempts the
/// generator; the wires go on meanwhile. For tests of the catch-up policy.
pub fn run_sim_stalled(
    cfg: &GenConfig,
    lab: &mut Lab<MemQueue>,
    wires: &[Wire],
    live: &Live,
    stall: core::ops::Range<Nanos>,
) -> Report {
    let clock: VirtualClock = wires[0].clock().clone();
    let hz = 1_000_000_000;
    let cores = cfg.cores();
    let ctl = Control::new(cores);
    let start = Ticks::now(&clock) + 1;
    let gen_end = start + ticks(cfg.test.duration, hz);
    let drain = ticks(cfg.test.drain, hz);
    ctl.end.store(gen_end + drain, Ordering::Release);
    let mut engines: Vec<Engine<MemQueue, VirtualClock>> = lab
        .queues
        .drain(..)
        .enumerate()
        .map(|(c, q)| {
            Engine::new(
                cfg,
                c as u16,
                q,
                &lab.ports,
                &lab.dst_macs,
                clock.clone(),
                hz,
                start,
                ctl.clone(),
            )
        })
        .collect();
    let mut sup = Supervisor {
        ctl: ctl.clone(),
        series: Series::new(cores),
        drain,
        ports: cfg.ports.iter().map(|p| p.name.clone()).collect(),
        live,
    };
    let started = unix_now();
    clock.advance_to(Nanos(start));
    loop {
        let now = Ticks::now(&clock);
        let mut next = u64::MAX;
        let mut running = false;
        for e in &mut engines {
            if let Some(t) = e.poll() {
                running = true;
                next = next.min(t);
            }
        }
        let going = sup.step(Ticks::now(&clock));
        if !running || !going {
            break;
        }
        let ev = wires
            .iter()
            .filter_map(|w| w.next_event().map(|n| n.0))
            .min()
            .unwrap_or(u64::MAX);
        let mut target = next.min(ev).min(ctl.end.load(Ordering::Acquire));
        if target <= now {
            // Due but not sent (the port refused it): the wire frees descriptors as frames
            // leave it, so move to its next event (or on by 100 ns if it has none).
            target = if ev > now && ev != u64::MAX {
                ev
            } else {
                now + 100
            };
        }
        if (start + stall.start.0..start + stall.end.0).contains(&target) {
            target = start + stall.end.0;
        }
        clock.advance_to(Nanos(target));
    }
    let mut results: Vec<CoreResult> = Vec::with_capacity(engines.len());
    for e in engines {
        let (r, q) = e.finish();
        results.push(r);
        lab.queues.push(q);
    }
    let (series, notes) = sup.finish();
    Report::build(cfg, results, series, started, notes)
}

/// A lab of mem ports: core `c` takes queue `c` of every port.
pub fn mem_lab(cfg: &GenConfig, ports: &mut [MemPort], rx: &[bool]) -> Lab<MemQueue> {
    let cores = cfg.cores();
    Lab {
        queues: (0..cores)
            .map(|c| {
                ports
                    .iter_mut()
                    .map(|p| p.take_queue(c).expect("one queue per core on every port"))
                    .collect()
            })
            .collect(),
        ports: ports
            .iter()
            .zip(rx)
            .map(|(p, &rx)| PortSetup {
                mac: p.info().mac,
                rx,
            })
            .collect(),
        dst_macs: Vec::new(),
    }
}

/// Resolves destinations on the in-memory wire (the virtual clock moves 1 ms per round).
pub fn resolve_sim(cfg: &GenConfig, lab: &mut Lab<MemQueue>, wire: &Wire) -> Result<(), String> {
    let clock = wire.clock().clone();
    let deadline = Ticks::now(&clock) + cfg.test.arp_timeout.0;
    let mut round = 0u32;
    resolve(
        cfg,
        lab,
        || {
            round += 1;
            round % 500 == 1
        },
        || {
            clock.advance(Nanos::from_millis(1));
            wire.deliver_due();
            Ticks::now(&clock) < deadline
        },
    )
}

/// Per-thread hooks for real runs: set-up on the core's thread before it starts (pin it to a
/// CPU, register it with the EAL), and tear-down after.
pub struct ThreadHooks {
    /// Called on core `c`'s thread first.
    pub enter: Box<dyn Fn(u16) + Send + Sync>,
    /// Called on core `c`'s thread last.
    pub leave: Box<dyn Fn(u16) + Send + Sync>,
}

/// Runs a test on real ports, one thread per core, the supervisor on the calling thread.
/// `start_delay` lets `--start-at` line several generators up; `clock`/`hz` are the cores'
/// tick source.
pub fn run_threads<Q, C>(
    cfg: &GenConfig,
    lab: &mut Lab<Q>,
    clock: C,
    hz: u64,
    start_delay: Duration,
    hooks: &ThreadHooks,
    live: &Live,
) -> Report
where
    Q: Queue + 'static,
    C: Ticks + Clone + 'static,
{
    let cores = cfg.cores();
    let ctl = Control::new(cores);
    // The cores start together, a little after their threads do.
    let lead = Duration::from_millis(100).max(start_delay);
    let start = clock.now() + ticks(Nanos(lead.as_nanos() as u64), hz);
    let gen_end = start + ticks(cfg.test.duration, hz);
    let drain = ticks(cfg.test.drain, hz);
    ctl.end.store(gen_end + drain, Ordering::Release);
    let started = unix_now() + lead.as_secs_f64();
    let queues: Vec<Vec<Q>> = lab.queues.drain(..).collect();
    let ports = lab.ports.clone();
    let macs = lab.dst_macs.clone();
    let mut sup = Supervisor {
        ctl: ctl.clone(),
        series: Series::new(cores),
        drain,
        ports: cfg.ports.iter().map(|p| p.name.clone()).collect(),
        live,
    };
    let out: Vec<(CoreResult, Vec<Q>)> = std::thread::scope(|sc| {
        let handles: Vec<_> = queues
            .into_iter()
            .enumerate()
            .map(|(c, q)| {
                let (ctl, clock, ports, macs) = (ctl.clone(), clock.clone(), &ports, &macs);
                std::thread::Builder::new()
                    .name(format!("gen{c}"))
                    .spawn_scoped(sc, move || {
                        (hooks.enter)(c as u16);
                        let mut e =
                            Engine::new(cfg, c as u16, q, ports, macs, clock, hz, start, ctl);
                        e.run();
                        let r = e.finish();
                        (hooks.leave)(c as u16);
                        r
                    })
                    .expect("spawn a generator thread")
            })
            .collect();
        while sup.step(clock.now()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("a generator thread panicked"))
            .collect()
    });
    let mut results = Vec::with_capacity(out.len());
    for (r, q) in out {
        results.push(r);
        lab.queues.push(q);
    }
    let (series, notes) = sup.finish();
    Report::build(cfg, results, series, started, notes)
}
