//! Rates from two `ctl stats` snapshots: `burst ctl stats --rates` (plain text, once) and
//! `burst ctl top` (a live view per core and port, refreshed every interval).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use burst_runtime::ctl::{self, CounterGroup, Request, Response};

/// One snapshot and when it was taken.
pub(crate) struct Sample {
    at: Instant,
    groups: Vec<CounterGroup>,
}

/// Asks the daemon for its counters.
pub(crate) fn sample(socket: &Path) -> Result<Sample> {
    let mut groups = Vec::new();
    ctl::request(socket, &Request::Stats, |r| {
        if let Response::Stats { groups: g } = r {
            groups = g.clone();
        }
    })
    .with_context(|| format!("control socket {}", socket.display()))?;
    Ok(Sample {
        at: Instant::now(),
        groups,
    })
}

fn value(groups: &[CounterGroup], title: &str, name: &str) -> u64 {
    groups
        .iter()
        .find(|g| g.title == title)
        .and_then(|g| g.counters.iter().find(|c| c.name == name))
        .map_or(0, |c| c.value)
}

/// What changed between two samples, per second.
pub(crate) struct Rates<'a> {
    a: &'a Sample,
    b: &'a Sample,
    secs: f64,
}

/// One core's line.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct CoreLine {
    pub(crate) core: String,
    pub(crate) rx_pps: f64,
    pub(crate) tx_pps: f64,
    pub(crate) drops_ps: f64,
    pub(crate) avg_burst: f64,
    pub(crate) loop_us: f64,
    pub(crate) busy_pct: f64,
}

/// One port's line (the device's counters).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct PortLine {
    pub(crate) port: String,
    pub(crate) rx_pps: f64,
    pub(crate) rx_bps: f64,
    pub(crate) tx_pps: f64,
    pub(crate) tx_bps: f64,
    pub(crate) missed_ps: f64,
}

impl<'a> Rates<'a> {
    pub(crate) fn new(a: &'a Sample, b: &'a Sample) -> Rates<'a> {
        let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-6);
        Rates { a, b, secs }
    }

    fn delta(&self, title: &str, name: &str) -> f64 {
        value(&self.b.groups, title, name).saturating_sub(value(&self.a.groups, title, name)) as f64
    }

    fn rate(&self, title: &str, name: &str) -> f64 {
        self.delta(title, name) / self.secs
    }

    /// Per core: packets, drops, burst size, loop time, busy share.
    pub(crate) fn cores(&self) -> Vec<CoreLine> {
        self.b
            .groups
            .iter()
            .filter(|g| g.title.starts_with("core "))
            .map(|g| {
                let t = g.title.as_str();
                let drops: f64 = g
                    .counters
                    .iter()
                    .filter(|c| {
                        c.name
                            .split_once('.')
                            .is_some_and(|(_, n)| n.starts_with("drop_"))
                    })
                    .map(|c| self.delta(t, &c.name))
                    .sum();
                let bursts = self.delta(t, "rt.rx_bursts");
                let polls = self.delta(t, "rt.polls");
                let loop_ns = self.delta(t, "rt.loop_ns_total");
                CoreLine {
                    core: t.trim_start_matches("core ").to_string(),
                    rx_pps: self.rate(t, "l2.rx_frames"),
                    tx_pps: self.rate(t, "l2.tx_frames"),
                    drops_ps: drops / self.secs,
                    avg_burst: if bursts > 0.0 {
                        self.delta(t, "rt.rx_packets") / bursts
                    } else {
                        0.0
                    },
                    loop_us: if polls > 0.0 {
                        loop_ns / polls / 1000.0
                    } else {
                        0.0
                    },
                    busy_pct: if loop_ns > 0.0 {
                        100.0 * self.delta(t, "rt.busy_ns_total") / loop_ns
                    } else {
                        0.0
                    },
                }
            })
            .collect()
    }

    /// Per port: the device's packets and bits per second.
    pub(crate) fn ports(&self) -> Vec<PortLine> {
        self.b
            .groups
            .iter()
            .filter(|g| g.title.starts_with("port "))
            .map(|g| {
                let t = g.title.as_str();
                PortLine {
                    port: t.trim_start_matches("port ").to_string(),
                    rx_pps: self.rate(t, "rx_packets"),
                    rx_bps: self.rate(t, "rx_bytes") * 8.0,
                    tx_pps: self.rate(t, "tx_packets"),
                    tx_bps: self.rate(t, "tx_bytes") * 8.0,
                    missed_ps: self.rate(t, "rx_missed"),
                }
            })
            .collect()
    }

    /// The busiest drop reasons (per second, summed over cores), highest first, and the hooks'
    /// verdicts (filter, firewall, IPsec drops).
    pub(crate) fn drops(&self, n: usize) -> Vec<(String, f64)> {
        let mut sum: Vec<(String, f64)> = Vec::new();
        for g in self
            .b
            .groups
            .iter()
            .filter(|g| g.title.starts_with("core "))
        {
            for c in g.counters.iter().filter(|c| {
                c.name
                    .split_once('.')
                    .is_some_and(|(_, n)| n.starts_with("drop_"))
            }) {
                let r = self.rate(&g.title, &c.name);
                match sum.iter_mut().find(|(k, _)| *k == c.name) {
                    Some((_, v)) => *v += r,
                    None => sum.push((c.name.clone(), r)),
                }
            }
        }
        sum.retain(|(_, v)| *v > 0.0);
        sum.sort_by(|a, b| b.1.total_cmp(&a.1));
        sum.truncate(n);
        sum
    }

    /// Packets per second each configured hook looked at (summed over cores), busiest first.
    pub(crate) fn hooks(&self) -> Vec<(String, f64)> {
        let mut sum: Vec<(String, f64)> = Vec::new();
        for g in self
            .b
            .groups
            .iter()
            .filter(|g| g.title.starts_with("core "))
        {
            for c in &g.counters {
                let Some(hook) = c.name.strip_prefix("rt.hook_") else {
                    continue;
                };
                let r = self.rate(&g.title, &c.name);
                match sum.iter_mut().find(|(k, _)| k == hook) {
                    Some((_, v)) => *v += r,
                    None => sum.push((hook.to_string(), r)),
                }
            }
        }
        sum.retain(|(_, v)| *v > 0.0);
        sum.sort_by(|a, b| b.1.total_cmp(&a.1));
        sum
    }

    /// Every counter that moved, per second (`stats --rates`).
    pub(crate) fn moved(&self) -> Vec<(String, Vec<(String, f64)>)> {
        self.b
            .groups
            .iter()
            .map(|g| {
                let c: Vec<(String, f64)> = g
                    .counters
                    .iter()
                    .map(|c| (c.name.clone(), self.rate(&g.title, &c.name)))
                    .filter(|(_, r)| *r != 0.0)
                    .collect();
                (g.title.clone(), c)
            })
            .filter(|(_, c)| !c.is_empty())
            .collect()
    }
}

/// Human figures: 1.2M, 34.5k.
pub(crate) fn si(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// `stats --rates`: two samples `interval` apart, every counter that moved as a rate.
pub(crate) fn print_rates(socket: &Path, interval: f64) -> Result<()> {
    let a = sample(socket)?;
    std::thread::sleep(Duration::from_secs_f64(interval.max(0.1)));
    let b = sample(socket)?;
    let r = Rates::new(&a, &b);
    println!("rates over {:.2} s", r.secs);
    for c in r.cores() {
        println!(
            "core {}: rx {} pps, tx {} pps, drops {} /s, avg burst {:.1}, loop {:.1} us, busy {:.0} %",
            c.core,
            si(c.rx_pps),
            si(c.tx_pps),
            si(c.drops_ps),
            c.avg_burst,
            c.loop_us,
            c.busy_pct
        );
    }
    for p in r.ports() {
        println!(
            "port {}: rx {} pps {}bit/s, tx {} pps {}bit/s, missed {} /s",
            p.port,
            si(p.rx_pps),
            si(p.rx_bps),
            si(p.tx_pps),
            si(p.tx_bps),
            si(p.missed_ps)
        );
    }
    for (hook, v) in r.hooks() {
        println!("hook {hook}: {} pps", si(v));
    }
    for (title, counters) in r.moved() {
        println!("{title}:");
        for (n, v) in counters {
            println!("  {n:<32} {}/s", si(v));
        }
    }
    Ok(())
}

/// `top`: the live view until `q` (or `iterations` refreshes, when given).
pub(crate) fn run(socket: &Path, interval: f64, iterations: Option<u64>) -> Result<()> {
    use ratatui::crossterm::event::{self, Event, KeyCode};
    use ratatui::layout::{Constraint, Layout};
    use ratatui::widgets::{Block, Borders, Row, Table};

    let mut terminal = ratatui::init();
    let result = (|| -> Result<()> {
        let mut prev = sample(socket)?;
        let mut shown = 0u64;
        loop {
            let deadline = Instant::now() + Duration::from_secs_f64(interval.max(0.1));
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if event::poll(left)? {
                    if let Event::Key(k) = event::read()? {
                        if matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                            return Ok(());
                        }
                    }
                }
            }
            let now = sample(socket)?;
            let r = Rates::new(&prev, &now);
            let cores = r.cores();
            let ports = r.ports();
            let drops = r.drops(8);
            let hooks = r.hooks();
            terminal.draw(|f| {
                let [a, b, rest] = Layout::vertical([
                    Constraint::Length(cores.len() as u16 + 3),
                    Constraint::Length(ports.len() as u16 + 3),
                    Constraint::Min(3),
                ])
                .areas(f.area());
                let [c, d] =
                    Layout::horizontal([Constraint::Length(52), Constraint::Min(20)]).areas(rest);
                let core_rows = cores.iter().map(|c| {
                    Row::new(vec![
                        c.core.clone(),
                        si(c.rx_pps),
                        si(c.tx_pps),
                        si(c.drops_ps),
                        format!("{:.1}", c.avg_burst),
                        format!("{:.1}", c.loop_us),
                        format!("{:.0}%", c.busy_pct),
                    ])
                });
                f.render_widget(
                    Table::new(core_rows, [Constraint::Length(10); 7])
                        .header(Row::new(vec![
                            "core",
                            "rx pps",
                            "tx pps",
                            "drops/s",
                            "avg burst",
                            "loop us",
                            "busy",
                        ]))
                        .block(
                            Block::default()
                                .borders(Borders::ALL)
                                .title(" burst top — cores (q quits) "),
                        ),
                    a,
                );
                let port_rows = ports.iter().map(|p| {
                    Row::new(vec![
                        p.port.clone(),
                        si(p.rx_pps),
                        format!("{}b/s", si(p.rx_bps)),
                        si(p.tx_pps),
                        format!("{}b/s", si(p.tx_bps)),
                        si(p.missed_ps),
                    ])
                });
                f.render_widget(
                    Table::new(port_rows, [Constraint::Length(12); 6])
                        .header(Row::new(vec![
                            "port", "rx pps", "rx bit/s", "tx pps", "tx bit/s", "missed/s",
                        ]))
                        .block(Block::default().borders(Borders::ALL).title(" ports ")),
                    b,
                );
                let drop_rows = drops
                    .iter()
                    .map(|(n, v)| Row::new(vec![n.clone(), format!("{}/s", si(*v))]));
                f.render_widget(
                    Table::new(drop_rows, [Constraint::Length(36), Constraint::Length(12)])
                        .header(Row::new(vec!["drop reason (hooks included)", "rate"]))
                        .block(Block::default().borders(Borders::ALL).title(" drops ")),
                    c,
                );
                let hook_rows = hooks
                    .iter()
                    .map(|(n, v)| Row::new(vec![n.clone(), format!("{} pps", si(*v))]));
                f.render_widget(
                    Table::new(hook_rows, [Constraint::Length(18), Constraint::Length(12)])
                        .header(Row::new(vec!["hook", "looked at"]))
                        .block(
                            Block::default()
                                .borders(Borders::ALL)
                                .title(" busiest hooks "),
                        ),
                    d,
                );
            })?;
            prev = now;
            shown += 1;
            if iterations.is_some_and(|n| shown >= n) {
                return Ok(());
            }
        }
    })();
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_runtime::ctl::Counter;

    fn s(
        at: Instant,
        rx: u64,
        bursts: u64,
        pkts: u64,
        loop_ns: u64,
        busy: u64,
        polls: u64,
    ) -> Sample {
        let c = |n: &str, v: u64| Counter {
            name: n.into(),
            value: v,
        };
        Sample {
            at,
            groups: vec![
                CounterGroup {
                    title: "port p0".into(),
                    counters: vec![c("rx_packets", rx), c("rx_bytes", rx * 100)],
                },
                CounterGroup {
                    title: "core 0".into(),
                    counters: vec![
                        c("l2.rx_frames", rx),
                        c("ipv4.drop_checksum", rx / 10),
                        c("rt.rx_bursts", bursts),
                        c("rt.rx_packets", pkts),
                        c("rt.loop_ns_total", loop_ns),
                        c("rt.busy_ns_total", busy),
                        c("rt.polls", polls),
                        c("rt.hook_filter_in", rx / 2),
                        c("rt.hook_firewall", 0),
                    ],
                },
            ],
        }
    }

    #[test]
    fn rates_from_two_samples() {
        let t0 = Instant::now();
        let a = s(t0, 0, 0, 0, 0, 0, 0);
        let b = s(
            t0 + Duration::from_secs(2),
            2000,
            100,
            2000,
            2_000_000_000,
            500_000_000,
            1000,
        );
        let r = Rates::new(&a, &b);
        let c = &r.cores()[0];
        assert_eq!((c.rx_pps, c.drops_ps, c.avg_burst), (1000.0, 100.0, 20.0));
        assert_eq!((c.loop_us, c.busy_pct), (2000.0, 25.0));
        let p = &r.ports()[0];
        assert_eq!((p.rx_pps, p.rx_bps), (1000.0, 800_000.0));
        assert_eq!(r.drops(5), vec![("ipv4.drop_checksum".to_string(), 100.0)]);
        assert_eq!(
            r.hooks(),
            vec![("filter_in".to_string(), 500.0)],
            "hooks that moved"
        );
        assert_eq!(si(1_234_567.0), "1.23M");
        assert_eq!(si(45_600.0), "45.6k");
    }
}
