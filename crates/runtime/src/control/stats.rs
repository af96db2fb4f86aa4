//! `ctl stats`: the counters of every port, every worker, the ARP state machine and the control
//! thread itself, gathered into named groups. Kept apart because it reads every part and changes
//! none.

use burst_port::Port;

use super::Control;
use crate::ctl::{Counter, CounterGroup};

impl<P: Port> Control<P> {
    /// Port `i`'s own counters (the NIC's, or the in-memory wire's).
    pub fn port_stats(&self, i: usize) -> burst_port::PortStats {
        self.ports[i].stats()
    }

    /// Each worker's application counters, shown with the worker's (`app.*`).
    pub fn set_app_stats(&mut self, stats: Vec<std::sync::Arc<crate::app::AppStats>>) {
        self.app_stats = stats;
    }

    /// The per-worker limits the configuration sets (connections, sockets, buffers, timers),
    /// shown as the `limits` group.
    pub fn set_limits(&mut self, limits: Vec<(&'static str, u64)>) {
        self.limits = limits;
    }

    pub(super) fn stats_groups(&self) -> Vec<CounterGroup> {
        let mut g = Vec::new();
        g.push(CounterGroup {
            title: "limits (per worker)".into(),
            counters: self
                .limits
                .iter()
                .map(|&(n, v)| Counter {
                    name: n.into(),
                    value: v,
                })
                .collect(),
        });
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
        for (i, (title, read)) in self.pools.iter().enumerate() {
            let f = read();
            g.push(CounterGroup {
                title: title.clone(),
                counters: [
                    ("size", f.size),
                    ("in_use", f.in_use),
                    ("available", f.available),
                    ("low_water", self.pool_low[i].min(f.available)),
                ]
                .into_iter()
                .map(|(n, v)| Counter {
                    name: n.into(),
                    value: v,
                })
                .collect(),
            });
        }
        // Table sizes (gauges): what the control thread holds; per-core connection counts are
        // in each core's `tcp.curr_estab`.
        g.push(CounterGroup {
            title: "tables".into(),
            counters: [
                ("arp_entries", self.arp.len() as u64),
                ("routes", self.routes.routes().len() as u64),
                ("filter_rules", self.filter_rules().len() as u64),
            ]
            .into_iter()
            .map(|(n, v)| Counter {
                name: n.into(),
                value: v,
            })
            .collect(),
        });
        for (i, w) in self.worker_stats.iter().enumerate() {
            g.push(CounterGroup {
                title: format!("core {i}"),
                counters: w
                    .snapshot()
                    .into_iter()
                    .chain(
                        self.app_stats
                            .get(i)
                            .map(|a| a.snapshot())
                            .unwrap_or_default(),
                    )
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
                    name: "lost_neigh".into(),
                    value: self.stats.lost_neigh,
                },
                Counter {
                    name: "lost_proto".into(),
                    value: self.stats.lost_proto,
                },
            ],
        });
        g
    }
}
