//! Prometheus metrics: the counters of `burst ctl stats`, named and labelled for a scraper,
//! served over HTTP by a thread of their own (`[metrics] listen`).
//!
//! A scrape asks the control thread for the same snapshot `ctl stats` prints (workers publish
//! their counters; nothing a scrape does reaches a worker) and encodes it in the OpenMetrics
//! text format with `prometheus-client`:
//!
//! | `ctl stats` | metric |
//! |---|---|
//! | core N, `drop_*` of any section | `burst_drops_total{core, protocol, reason}` |
//! | core N, per-port section `pI.x` | `burst_port_x_total{core, port}` |
//! | core N, `rt.burst_le_*` / `rt.loop_le_*` | histograms `burst_rx_burst_size`, `burst_loop_seconds` `{core}` |
//! | core N, `rt.hook_*` | `burst_hook_packets_total{core, hook}` |
//! | core N, `tcp.curr_estab`, `conntrack.sessions`, `nat.mappings` | gauges `burst_tcp_curr_estab`, `burst_conntrack_sessions`, `burst_nat_mappings` `{core}` |
//! | core N, `app.x.y` | `burst_app_x_y_total{core}` |
//! | core N, other `section.name` | `burst_section_name_total{core}` |
//! | port NAME | `burst_nic_x_total{port}` (the device's own counters, xstats included) |
//! | pool, pool rx NAME | gauges `burst_pool_{size,in_use,available,low_water}{pool}` |
//! | tables | gauges `burst_table_entries{table}` |
//! | limits (per worker) | gauges `burst_limit{name}` |
//! | arp (control), control | `burst_control_x_total{part}` |

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::control::Command;
use crate::ctl::{CounterGroup, Request, Response};
use crate::worker::runtime_stats::{BURST_BOUNDS, BURST_NAMES, LOOP_BOUNDS_NS, LOOP_NAMES};

/// Labels of one sample.
type Labels = Vec<(String, String)>;

/// One sample's value.
#[derive(Debug, Clone)]
enum Value {
    Counter(u64),
    Gauge(i64),
    /// Sum, count and buckets (upper bound, count in that bucket alone).
    Histogram(f64, u64, Vec<(f64, u64)>),
}

/// A family: its help text and samples by label set.
#[derive(Debug, Default)]
struct Family {
    help: &'static str,
    samples: Vec<(Labels, Value)>,
}

/// One scrape's samples, by family name (sorted: stable output).
#[derive(Debug, Default)]
struct Snapshot(BTreeMap<String, Family>);

impl Snapshot {
    fn add(&mut self, name: String, help: &'static str, labels: Labels, v: Value) {
        let f = self.0.entry(name).or_default();
        f.help = help;
        f.samples.push((labels, v));
    }
}

/// A metric name part: lower-case letters, digits and `_` only.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn label(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// The families of a `ctl stats` snapshot. `ports` names the ports in id order (per-port
/// worker sections are `p0`, `p1`, ...).
fn families(groups: &[CounterGroup]) -> Snapshot {
    let mut s = Snapshot::default();
    let ports: Vec<String> = groups
        .iter()
        .filter_map(|g| g.title.strip_prefix("port ").map(str::to_string))
        .collect();
    for g in groups {
        let t = g.title.as_str();
        if let Some(core) = t.strip_prefix("core ") {
            core_families(&mut s, core, &g.counters, &ports);
        } else if let Some(port) = t.strip_prefix("port ") {
            for c in &g.counters {
                s.add(
                    format!("burst_nic_{}", clean(&c.name)),
                    "The port device's own counter (DPDK stats and xstats).",
                    vec![label("port", port)],
                    Value::Counter(c.value),
                );
            }
        } else if t == "pool" || t.starts_with("pool ") {
            for c in &g.counters {
                s.add(
                    format!("burst_pool_{}", clean(&c.name)),
                    "Packet buffers of a pool: size, in use, available, lowest available seen.",
                    vec![label("pool", t)],
                    Value::Gauge(c.value as i64),
                );
            }
        } else if t == "tables" {
            for c in &g.counters {
                s.add(
                    "burst_table_entries".into(),
                    "Entries in a table the control thread holds.",
                    vec![label("table", c.name.clone())],
                    Value::Gauge(c.value as i64),
                );
            }
        } else if t.starts_with("limits") {
            for c in &g.counters {
                s.add(
                    "burst_limit".into(),
                    "A per-worker limit from the configuration.",
                    vec![label("name", c.name.clone())],
                    Value::Gauge(c.value.min(i64::MAX as u64) as i64),
                );
            }
        } else {
            let part = clean(t.trim_end_matches(" (control)"));
            for c in &g.counters {
                s.add(
                    format!("burst_control_{}", clean(&c.name)),
                    "A counter of the control thread.",
                    vec![label("part", part.clone())],
                    Value::Counter(c.value),
                );
            }
        }
    }
    s
}

/// Core counters that go down as well as up: exported as gauges, by `ctl stats` name.
const CORE_GAUGES: [(&str, &str); 4] = [
    (
        "rt.loop_max_ns",
        "The longest time between two consecutive polls of a worker since it started (ns).",
    ),
    (
        "tcp.curr_estab",
        "TCP connections established or closing (CLOSE-WAIT) on a worker.",
    ),
    (
        "conntrack.sessions",
        "Sessions in a worker's connection tracking table.",
    ),
    (
        "nat.mappings",
        "Dynamic NAT mappings (inside address and port to public) a worker holds.",
    ),
];

fn core_families(s: &mut Snapshot, core: &str, counters: &[crate::ctl::Counter], ports: &[String]) {
    let get = |n: &str| counters.iter().find(|c| c.name == n).map_or(0, |c| c.value);
    // The loop's two histograms: per-bucket counts with their upper bounds (the encoder
    // makes them cumulative); `div` turns a bound into the exported unit.
    let buckets = |names: &[&str], bounds: &[u64], div: f64| {
        names
            .iter()
            .zip(bounds)
            .map(|(n, b)| {
                let le = if *b == u64::MAX {
                    f64::MAX
                } else {
                    *b as f64 / div
                };
                (le, get(&format!("rt.{n}")))
            })
            .collect::<Vec<_>>()
    };
    let bursts = buckets(&BURST_NAMES, &BURST_BOUNDS, 1.0);
    s.add(
        "burst_rx_burst_size".into(),
        "Packets per non-empty receive burst.",
        vec![label("core", core)],
        Value::Histogram(
            get("rt.rx_packets") as f64,
            bursts.iter().map(|b| b.1).sum(),
            bursts,
        ),
    );
    let loops = buckets(&LOOP_NAMES, &LOOP_BOUNDS_NS, 1e9);
    s.add(
        "burst_loop_seconds".into(),
        "Time between the starts of consecutive polls of a worker.",
        vec![label("core", core)],
        Value::Histogram(
            get("rt.loop_ns_total") as f64 / 1e9,
            loops.iter().map(|b| b.1).sum(),
            loops,
        ),
    );
    for c in counters {
        let Some((section, name)) = c.name.split_once('.') else {
            continue;
        };
        if section == "rt" && (name.starts_with("burst_le_") || name.starts_with("loop_le_")) {
            continue;
        }
        if let Some(hook) = name.strip_prefix("hook_").filter(|_| section == "rt") {
            s.add(
                "burst_hook_packets".into(),
                "Packets a configured hook looked at, per worker and hook.",
                vec![label("core", core), label("hook", hook)],
                Value::Counter(c.value),
            );
            continue;
        }
        if let Some(reason) = name.strip_prefix("drop_") {
            s.add(
                "burst_drops".into(),
                "Packets dropped by a worker, by protocol (counter section) and reason.",
                vec![
                    label("core", core),
                    label("protocol", section),
                    label("reason", reason),
                ],
                Value::Counter(c.value),
            );
            continue;
        }
        if let Some(i) = section
            .strip_prefix('p')
            .and_then(|i| i.parse::<usize>().ok())
        {
            let port = ports.get(i).cloned().unwrap_or_else(|| section.to_string());
            s.add(
                format!("burst_port_{}", clean(name)),
                "A worker's per-port counter.",
                vec![label("core", core), label("port", port)],
                Value::Counter(c.value),
            );
            continue;
        }
        if let Some(&(_, help)) = CORE_GAUGES.iter().find(|(n, _)| *n == c.name) {
            s.add(
                format!("burst_{}_{}", clean(section), clean(name)),
                help,
                vec![label("core", core)],
                Value::Gauge(c.value as i64),
            );
            continue;
        }
        let help = if section == "app" {
            "A counter of the application on a worker."
        } else {
            "A worker counter (see docs/operations.md)."
        };
        // Counters get `_total` from the encoder: a name that has it already would end in
        // `_total_total`.
        let name = name.strip_suffix("_total").unwrap_or(name);
        s.add(
            format!("burst_{}_{}", clean(section), clean(name)),
            help,
            vec![label("core", core)],
            Value::Counter(c.value),
        );
    }
}

/// A histogram whose buckets are already counted.
#[derive(Debug)]
struct ConstHistogram<'a> {
    sum: f64,
    count: u64,
    buckets: &'a [(f64, u64)],
}

impl EncodeMetric for ConstHistogram<'_> {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<Labels>(self.sum, self.count, self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for (name, f) in &self.0 {
            let ty = match f.samples.first().map(|s| &s.1) {
                Some(Value::Counter(_)) => MetricType::Counter,
                Some(Value::Gauge(_)) => MetricType::Gauge,
                Some(Value::Histogram(..)) => MetricType::Histogram,
                None => continue,
            };
            let mut family = encoder.encode_descriptor(name, f.help, None, ty)?;
            for (labels, v) in &f.samples {
                let e = family.encode_family(labels)?;
                match v {
                    Value::Counter(n) => ConstCounter::new(*n).encode(e)?,
                    Value::Gauge(n) => ConstGauge::new(*n).encode(e)?,
                    Value::Histogram(sum, count, buckets) => ConstHistogram {
                        sum: *sum,
                        count: *count,
                        buckets,
                    }
                    .encode(e)?,
                }
            }
        }
        Ok(())
    }
}

/// The OpenMetrics text of a `ctl stats` snapshot.
pub fn render(groups: &[CounterGroup]) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(families(groups)));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// Content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics` on `addr` until `stop` is set: each scrape asks the control thread
/// (through `commands`) for a snapshot. Returns the thread and the bound address (port 0
/// picks a free one).
pub fn serve(
    addr: SocketAddr,
    commands: mpsc::Sender<Command>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(JoinHandle<()>, SocketAddr)> {
    serve_with(addr, stop, move || {
        let (tx, rx) = mpsc::channel();
        commands
            .send(Command {
                req: Request::Stats,
                reply: tx.into(),
            })
            .ok()?;
        match rx.recv_timeout(Duration::from_secs(5)).ok()? {
            Response::Stats { groups } => Some(render(&groups)),
            _ => None,
        }
    })
}

/// Serves `GET /metrics` on `addr` until `stop` is set, each scrape answered with what
/// `render` returns (OpenMetrics text; `None`: 503, the source did not answer). For other
/// programs on the same server (`burst gen`). Returns the thread and the bound address.
pub fn serve_with(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    render: impl Fn() -> Option<String> + Send + 'static,
) -> std::io::Result<(JoinHandle<()>, SocketAddr)> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let h = std::thread::Builder::new()
        .name("burst-metrics".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        if let Err(e) = scrape(s, &render) {
                            tracing::debug!("metrics: {e}");
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // Not the packet path: scrapes come every few seconds.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => {
                        tracing::warn!("metrics listener: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })?;
    Ok((h, bound))
}

/// The endpoint `[metrics] listen` asks for, or nothing when it is not set; the error says
/// which setting to change.
pub fn serve_configured(
    cfg: &crate::config::MetricsConfig,
    commands: mpsc::Sender<Command>,
    stop: Arc<AtomicBool>,
) -> Result<Option<(JoinHandle<()>, SocketAddr)>, String> {
    let Some(addr) = cfg.listen else {
        return Ok(None);
    };
    let (h, bound) = serve(addr, commands, stop).map_err(|e| {
        format!("[metrics] listen = \"{addr}\": {e} (pick a free address and port)")
    })?;
    tracing::info!(%bound, "metrics: GET http://{bound}/metrics");
    Ok(Some((h, bound)))
}

/// Answers one HTTP request.
fn scrape(mut s: TcpStream, render: &impl Fn() -> Option<String>) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    // Skip the headers.
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" || !(path == "/metrics" || path.starts_with("/metrics?")) {
        let body = "burst: GET /metrics\n";
        return write!(
            s,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    let body = match render() {
        Some(body) => body,
        None => {
            let body = "burst: the control thread did not answer\n";
            return write!(
                s,
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    };
    write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body.as_bytes())?;
    s.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::Counter;

    fn group(title: &str, counters: &[(&str, u64)]) -> CounterGroup {
        CounterGroup {
            title: title.into(),
            counters: counters
                .iter()
                .map(|(n, v)| Counter {
                    name: (*n).into(),
                    value: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn names_labels_and_types() {
        let groups = vec![
            group("limits (per worker)", &[("tcp.max_connections", 4096)]),
            group("port p0", &[("rx_packets", 10), ("rx_good_bytes", 640)]),
            group("port up1", &[("rx_packets", 3)]),
            group("pool", &[("size", 100), ("in_use", 5), ("low_water", 60)]),
            group("tables", &[("arp_entries", 2)]),
            group(
                "core 0",
                &[
                    ("l2.rx_frames", 12),
                    ("ipv4.drop_checksum", 1),
                    ("p1.rx", 4),
                    ("tcp.curr_estab", 7),
                    ("conntrack.sessions", 5),
                    ("conntrack.drop_full", 2),
                    ("nat.mappings", 3),
                    ("nat.translated", 30),
                    ("fw.drop_inbound", 4),
                    ("fw.accepted_exception", 1),
                    ("rt.rx_packets", 40),
                    ("rt.burst_le_1", 2),
                    ("rt.burst_le_3", 0),
                    ("rt.burst_le_7", 0),
                    ("rt.burst_le_15", 0),
                    ("rt.burst_le_31", 1),
                    ("rt.burst_le_inf", 1),
                    ("rt.loop_ns_total", 3_000),
                    ("rt.loop_le_1us", 3),
                    ("rt.hook_filter_in", 5),
                    ("app.svc.http_requests", 9),
                ],
            ),
            group("arp (control)", &[("requests_sent", 2)]),
        ];
        let text = render(&groups);
        for want in [
            "# TYPE burst_limit gauge",
            "burst_limit{name=\"tcp.max_connections\"} 4096",
            "burst_nic_rx_packets_total{port=\"p0\"} 10",
            "burst_nic_rx_packets_total{port=\"up1\"} 3",
            "burst_pool_low_water{pool=\"pool\"} 60",
            "burst_table_entries{table=\"arp_entries\"} 2",
            "burst_l2_rx_frames_total{core=\"0\"} 12",
            "burst_drops_total{core=\"0\",protocol=\"ipv4\",reason=\"checksum\"} 1",
            // Per-port worker sections carry the port's name.
            "burst_port_rx_total{core=\"0\",port=\"up1\"} 4",
            "# TYPE burst_tcp_curr_estab gauge",
            "burst_tcp_curr_estab{core=\"0\"} 7",
            // The firewall-hook's: table fill as gauges, drops by reason, the rest counters.
            "# TYPE burst_conntrack_sessions gauge",
            "burst_conntrack_sessions{core=\"0\"} 5",
            "# TYPE burst_nat_mappings gauge",
            "burst_nat_mappings{core=\"0\"} 3",
            "burst_drops_total{core=\"0\",protocol=\"conntrack\",reason=\"full\"} 2",
            "burst_drops_total{core=\"0\",protocol=\"fw\",reason=\"inbound\"} 4",
            "burst_nat_translated_total{core=\"0\"} 30",
            "burst_fw_accepted_exception_total{core=\"0\"} 1",
            "# TYPE burst_rx_burst_size histogram",
            "burst_rx_burst_size_bucket{le=\"1.0\",core=\"0\"} 2",
            "burst_rx_burst_size_bucket{le=\"31.0\",core=\"0\"} 3",
            "burst_rx_burst_size_bucket{le=\"+Inf\",core=\"0\"} 4",
            "burst_rx_burst_size_count{core=\"0\"} 4",
            "burst_rx_burst_size_sum{core=\"0\"} 40.0",
            "burst_app_svc_http_requests_total{core=\"0\"} 9",
            "burst_hook_packets_total{core=\"0\",hook=\"filter_in\"} 5",
            "burst_control_requests_sent_total{part=\"arp\"} 2",
            "# EOF",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        // The bucket counters themselves are not exported twice.
        assert!(!text.contains("burst_rt_burst_le"), "{text}");
    }
}
