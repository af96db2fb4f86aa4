//! `burst gen --metrics ADDR`: the generator's live figures for a Prometheus scraper, updated
//! by the supervisor once a second from the per-second reports (never by a generating core),
//! served by `burst_runtime::metrics::serve_with`.
//!
//! | metric | labels | meaning |
//! |---|---|---|
//! | `burst_gen_{tx,rx}_packets_total`, `burst_gen_{tx,rx}_bytes_total` | `port` | sent / received (signature packets) |
//! | `burst_gen_{tx,rx}_pps` (gauges) | `port` | the last complete second's rates |
//! | `burst_gen_latency_seconds` (gauge) | `port`, `quantile` (0.5, 0.99, 1 = max) | the last second's latency |
//! | `burst_gen_stream_{intended,tx,rx}_total` | `stream` | slots the schedule had, sent, received |
//! | `burst_gen_seconds` (gauge) | | seconds of the current run reported so far |

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::config::GenConfig;
use crate::report::SecondReport;

type Labels = Vec<(String, String)>;
type FGauge = Gauge<f64, AtomicU64>;

/// The generator's exported figures.
#[derive(Debug)]
pub struct GenMetrics {
    registry: Registry,
    ports: Vec<String>,
    streams: Vec<String>,
    tx_packets: Family<Labels, Counter>,
    tx_bytes: Family<Labels, Counter>,
    rx_packets: Family<Labels, Counter>,
    rx_bytes: Family<Labels, Counter>,
    tx_pps: Family<Labels, Gauge>,
    rx_pps: Family<Labels, Gauge>,
    latency: Family<Labels, FGauge>,
    intended: Family<Labels, Counter>,
    stream_tx: Family<Labels, Counter>,
    stream_rx: Family<Labels, Counter>,
    seconds: Gauge,
}

fn one(k: &str, v: &str) -> Labels {
    vec![(k.to_string(), v.to_string())]
}

impl GenMetrics {
    /// The families for `cfg`'s ports and streams, every series present (at 0) from the start.
    pub fn new(cfg: &GenConfig) -> GenMetrics {
        let mut registry = Registry::default();
        let m = GenMetrics {
            registry: Registry::default(),
            ports: cfg.ports.iter().map(|p| p.name.clone()).collect(),
            streams: cfg.streams.iter().map(|s| s.name.clone()).collect(),
            tx_packets: Family::default(),
            tx_bytes: Family::default(),
            rx_packets: Family::default(),
            rx_bytes: Family::default(),
            tx_pps: Family::default(),
            rx_pps: Family::default(),
            latency: Family::default(),
            intended: Family::default(),
            stream_tx: Family::default(),
            stream_rx: Family::default(),
            seconds: Gauge::default(),
        };
        let families: [(&str, &str, &Family<Labels, Counter>); 7] = [
            (
                "burst_gen_tx_packets",
                "Packets sent, per port.",
                &m.tx_packets,
            ),
            (
                "burst_gen_tx_bytes",
                "Frame bytes sent, per port.",
                &m.tx_bytes,
            ),
            (
                "burst_gen_rx_packets",
                "Signature packets received, per port.",
                &m.rx_packets,
            ),
            (
                "burst_gen_rx_bytes",
                "Frame bytes received, per port.",
                &m.rx_bytes,
            ),
            (
                "burst_gen_stream_intended",
                "Slots the stream's schedule had.",
                &m.intended,
            ),
            (
                "burst_gen_stream_tx",
                "Packets the stream sent.",
                &m.stream_tx,
            ),
            (
                "burst_gen_stream_rx",
                "Packets of the stream received.",
                &m.stream_rx,
            ),
        ];
        for (name, help, f) in families {
            registry.register(name, help, f.clone());
        }
        registry.register(
            "burst_gen_tx_pps",
            "Packets sent in the last second, per port.",
            m.tx_pps.clone(),
        );
        registry.register(
            "burst_gen_rx_pps",
            "Packets received in the last second, per port.",
            m.rx_pps.clone(),
        );
        registry.register(
            "burst_gen_latency_seconds",
            "Latency in the last second, per port: quantile 0.5, 0.99 and 1 (the largest).",
            m.latency.clone(),
        );
        registry.register(
            "burst_gen_seconds",
            "Seconds reported so far.",
            m.seconds.clone(),
        );
        for p in &m.ports {
            for f in [&m.tx_packets, &m.tx_bytes, &m.rx_packets, &m.rx_bytes] {
                let _ = f.get_or_create(&one("port", p));
            }
            let _ = m.tx_pps.get_or_create(&one("port", p));
            let _ = m.rx_pps.get_or_create(&one("port", p));
        }
        for s in &m.streams {
            for f in [&m.intended, &m.stream_tx, &m.stream_rx] {
                let _ = f.get_or_create(&one("stream", s));
            }
        }
        GenMetrics { registry, ..m }
    }

    /// One second of the run (the supervisor, once a second; counters add up over runs, as
    /// over the trials of an RFC 2544 search).
    pub fn record(&self, r: &SecondReport) {
        for (p, name) in r.ports.iter().zip(&self.ports) {
            let l = one("port", name);
            self.tx_packets.get_or_create(&l).inc_by(p.tx);
            self.tx_bytes.get_or_create(&l).inc_by(p.tx_bytes);
            self.rx_packets.get_or_create(&l).inc_by(p.rx);
            self.rx_bytes.get_or_create(&l).inc_by(p.rx_bytes);
            self.tx_pps.get_or_create(&l).set(p.tx as i64);
            self.rx_pps.get_or_create(&l).set(p.rx as i64);
            if p.rx > 0 {
                for (q, ns) in [("0.5", p.p50_ns), ("0.99", p.p99_ns), ("1", p.max_ns)] {
                    let l = vec![
                        ("port".to_string(), name.clone()),
                        ("quantile".to_string(), q.to_string()),
                    ];
                    self.latency.get_or_create(&l).set(ns as f64 / 1e9);
                }
            }
        }
        for (s, name) in r.streams.iter().zip(&self.streams) {
            let l = one("stream", name);
            self.intended.get_or_create(&l).inc_by(s.intended);
            self.stream_tx.get_or_create(&l).inc_by(s.tx);
            self.stream_rx.get_or_create(&l).inc_by(s.rx);
        }
        self.seconds.set(i64::from(r.second) + 1);
    }

    /// The OpenMetrics text of what was recorded so far.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
