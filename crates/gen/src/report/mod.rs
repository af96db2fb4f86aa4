//! The report of a run: per stream (counts, loss, duplicates, reordering, latency percentiles
//! and its histogram, jitter), per port, and a per-second series; as a text table, JSON (with
//! the configuration, versions and machine) and CSV. Reports merge exactly: counters add and
//! the serialised HDR histograms (V2 format, base64) merge bucket by bucket, so percentiles of
//! a merge are those of one run that saw every packet.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::config::GenConfig;
use crate::engine::{new_histogram, CoreResult, PortCounters, Tick};

mod render;
pub use render::{live_line, ns_text};

/// Latency summary with its histogram.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// Packets measured (duplicates are not).
    pub count: u64,
    /// Smallest, ns.
    pub min_ns: u64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// Largest, ns (saturates at 100 s).
    pub max_ns: u64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 90th percentile, ns.
    pub p90_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
    /// Standard deviation, ns.
    pub stdev_ns: f64,
    /// The HDR histogram (1 ns..100 s, 3 digits), V2-serialised, base64.
    pub histogram: String,
}

/// Encodes a histogram for a report.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut buf)
        .expect("serialising into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes a histogram from a report.
pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("histogram does not decode: {e:?}"))?;
    // Re-home it in the standard bounds so merges never hit a narrower copy's range.
    let mut out = new_histogram();
    out.add(&h)
        .map_err(|e| format!("histogram out of range: {e:?}"))?;
    Ok(out)
}

impl Latency {
    /// The summary of `h`.
    pub fn of(h: &Histogram<u64>) -> Latency {
        let empty = h.is_empty();
        Latency {
            count: h.len(),
            min_ns: if empty { 0 } else { h.min() },
            mean_ns: if empty { 0.0 } else { h.mean() },
            max_ns: if empty { 0 } else { h.max() },
            p50_ns: h.value_at_quantile(0.5),
            p90_ns: h.value_at_quantile(0.9),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            stdev_ns: if empty { 0.0 } else { h.stdev() },
            histogram: encode_histogram(h),
        }
    }
}

/// One stream's results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StreamReport {
    /// Stream name.
    pub name: String,
    /// Port it left by.
    pub port: String,
    /// The configured rate in packets per second (0: as fast as possible).
    pub target_pps: f64,
    /// Slots the schedule had (sent + skipped).
    pub intended: u64,
    /// Packets sent.
    pub tx: u64,
    /// Frame bytes sent (FCS included).
    pub tx_bytes: u64,
    /// Slots skipped by the catch-up policy (the generator could not keep up).
    pub skipped: u64,
    /// The part of `skipped` that fell due while the port was refusing transmits (the DUT's
    /// back-pressure, e.g. its memif ring full); the rest was the generator's core late.
    #[serde(default)]
    pub skipped_refused: u64,
    /// Built but not sent when the run ended.
    pub unsent: u64,
    /// Packets received, duplicates included.
    pub rx: u64,
    /// Frame bytes received.
    pub rx_bytes: u64,
    /// Sent and never received: `tx - (rx - duplicates)`, once traffic stopped and drained.
    pub lost: i64,
    /// `lost / tx` in percent.
    pub loss_pct: f64,
    /// Duplicated packets.
    pub duplicates: u64,
    /// Reordered packets (RFC 4737).
    pub reordered: u64,
    /// Packets further behind than the reorder window.
    pub late: u64,
    /// RFC 3550 interarrival jitter (packet-weighted mean over the stream's flows), ns.
    pub jitter_ns: f64,
    /// Latency.
    pub latency: Latency,
}

/// One port's results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortReport {
    /// Port name.
    pub name: String,
    /// Counters summed over cores.
    pub counters: PortCounters,
}

/// One port in one second.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortSecondReport {
    /// Packets sent.
    pub tx: u64,
    /// Frame bytes sent.
    pub tx_bytes: u64,
    /// Signature packets received.
    pub rx: u64,
    /// Frame bytes received.
    pub rx_bytes: u64,
    /// Median latency of the packets received this second, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// Largest, ns.
    pub max_ns: u64,
    /// This second's latency histogram (for exact merges).
    pub histogram: String,
}

/// One stream in one second.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct StreamSecondReport {
    /// Slots the schedule had.
    pub intended: u64,
    /// Packets sent.
    pub tx: u64,
    /// Packets received.
    pub rx: u64,
}

/// One second of the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecondReport {
    /// Seconds since the start.
    pub second: u32,
    /// Per port, in configuration order.
    pub ports: Vec<PortSecondReport>,
    /// Per stream, in configuration order.
    pub streams: Vec<StreamSecondReport>,
}

/// Where a report was made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    /// Host name.
    pub hostname: String,
    /// CPU model.
    pub cpu: String,
    /// Online CPUs.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// The DPDK version the generator was built against (`None` without DPDK; absent in
    /// reports from before it was recorded).
    #[serde(default)]
    pub dpdk: Option<String>,
}

impl Machine {
    /// This machine.
    pub fn here() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
            cpu,
            // The machine's, not this thread's: the supervisor runs pinned to one CPU.
            cpus: match cpuinfo
                .lines()
                .filter(|l| l.starts_with("processor"))
                .count()
            {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            #[cfg(feature = "dpdk")]
            dpdk: Some(burst_port::dpdk::DPDK_VERSION.to_string()),
            #[cfg(not(feature = "dpdk"))]
            dpdk: None,
        }
    }
}

/// A run's report (or a merge of several).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// `burst gen`.
    pub tool: String,
    /// burst's version.
    pub version: String,
    /// Runs merged into this report (1 for a run).
    pub runs: u32,
    /// Machines of the runs.
    pub machines: Vec<Machine>,
    /// Start times (Unix seconds) of the runs.
    pub started: Vec<f64>,
    /// Generation phase length, seconds (the longest of merged runs).
    pub duration_s: f64,
    /// The configuration files' text.
    pub configs: Vec<String>,
    /// Per stream.
    pub streams: Vec<StreamReport>,
    /// Per port.
    pub ports: Vec<PortReport>,
    /// Per second.
    pub series: Vec<SecondReport>,
    /// Things the user should know (a DUT that stopped answering, lost per-second reports).
    pub notes: Vec<String>,
}

/// Collects per-second reports from every core and merges those of the same second.
#[derive(Debug, Default)]
pub struct Series {
    cores: u16,
    pending: BTreeMap<u32, (u16, Vec<PortSec>, Vec<StreamSecondReport>)>,
    /// Completed seconds.
    pub done: Vec<SecondReport>,
}

#[derive(Debug, Clone)]
struct PortSec {
    tx: u64,
    tx_bytes: u64,
    rx: u64,
    rx_bytes: u64,
    h: Histogram<u64>,
}

fn second_report(
    second: u32,
    ports: Vec<PortSec>,
    streams: Vec<StreamSecondReport>,
) -> SecondReport {
    SecondReport {
        second,
        ports: ports
            .into_iter()
            .map(|p| PortSecondReport {
                tx: p.tx,
                tx_bytes: p.tx_bytes,
                rx: p.rx,
                rx_bytes: p.rx_bytes,
                p50_ns: p.h.value_at_quantile(0.5),
                p99_ns: p.h.value_at_quantile(0.99),
                max_ns: if p.h.is_empty() { 0 } else { p.h.max() },
                histogram: encode_histogram(&p.h),
            })
            .collect(),
        streams,
    }
}

impl Series {
    /// A collector for `cores` cores.
    pub fn new(cores: u16) -> Series {
        Series {
            cores,
            ..Series::default()
        }
    }

    /// Adds one core's second; returns the seconds it completed (every core reported them).
    pub fn add(&mut self, t: Tick) -> Vec<SecondReport> {
        let e = self.pending.entry(t.second).or_insert_with(|| {
            (
                0,
                t.ports
                    .iter()
                    .map(|_| PortSec {
                        tx: 0,
                        tx_bytes: 0,
                        rx: 0,
                        rx_bytes: 0,
                        h: new_histogram(),
                    })
                    .collect(),
                vec![StreamSecondReport::default(); t.streams.len()],
            )
        });
        e.0 += 1;
        for ((p, s), h) in e.1.iter_mut().zip(&t.ports).zip(&t.latency) {
            p.tx += s.tx;
            p.tx_bytes += s.tx_bytes;
            p.rx += s.rx;
            p.rx_bytes += s.rx_bytes;
            let _ = p.h.add(h);
        }
        for (d, s) in e.2.iter_mut().zip(&t.streams) {
            d.intended += s.intended;
            d.tx += s.tx;
            d.rx += s.rx;
        }
        let mut out = Vec::new();
        while let Some((&sec, e)) = self.pending.iter().next() {
            if e.0 < self.cores {
                break;
            }
            let (_, ports, streams) = self.pending.remove(&sec).expect("present");
            let r = second_report(sec, ports, streams);
            self.done.push(r.clone());
            out.push(r);
        }
        out
    }

    /// Everything collected, incomplete seconds included, in order.
    pub fn finish(mut self) -> Vec<SecondReport> {
        let rest: Vec<_> = core::mem::take(&mut self.pending).into_iter().collect();
        for (sec, (_, ports, streams)) in rest {
            self.done.push(second_report(sec, ports, streams));
        }
        self.done.sort_by_key(|s| s.second);
        self.done
    }
}

fn stream_report(
    name: String,
    port: String,
    target_pps: f64,
    s: &crate::engine::StreamCore,
) -> StreamReport {
    let unique = s.rx.saturating_sub(s.duplicates);
    let lost = s.tx as i64 - unique as i64;
    StreamReport {
        name,
        port,
        target_pps,
        intended: s.intended,
        tx: s.tx,
        tx_bytes: s.tx_bytes,
        skipped: s.skipped,
        skipped_refused: s.skipped_refused,
        unsent: s.unsent,
        rx: s.rx,
        rx_bytes: s.rx_bytes,
        lost,
        loss_pct: if s.tx == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / s.tx as f64
        },
        duplicates: s.duplicates,
        reordered: s.reordered,
        late: s.late,
        jitter_ns: if unique == 0 {
            0.0
        } else {
            s.jitter_weighted / unique as f64
        },
        latency: Latency::of(&s.latency),
    }
}

impl Report {
    /// The report of a run from its cores' totals and its per-second series.
    pub fn build(
        cfg: &GenConfig,
        cores: Vec<CoreResult>,
        series: Vec<SecondReport>,
        started: f64,
        mut notes: Vec<String>,
    ) -> Report {
        let mut streams = Vec::with_capacity(cfg.streams.len());
        for (i, s) in cfg.streams.iter().enumerate() {
            let mut total = cores
                .first()
                .map(|c| c.streams[i].clone())
                .expect("at least one core");
            for c in &cores[1..] {
                let x = &c.streams[i];
                total.intended += x.intended;
                total.tx += x.tx;
                total.tx_bytes += x.tx_bytes;
                total.skipped += x.skipped;
                total.skipped_refused += x.skipped_refused;
                total.unsent += x.unsent;
                total.rx += x.rx;
                total.rx_bytes += x.rx_bytes;
                total.duplicates += x.duplicates;
                total.reordered += x.reordered;
                total.late += x.late;
                total.jitter_weighted += x.jitter_weighted;
                let _ = total.latency.add(&x.latency);
            }
            let target = match s.rate {
                crate::config::Rate::Max => 0.0,
                r => crate::config::rate_pps(r, s.size.mean()),
            };
            let r = stream_report(
                s.name.clone(),
                cfg.ports[s.port].name.clone(),
                target,
                &total,
            );
            if s.signature && r.tx > 0 && r.rx == 0 && cfg.test.rx.iter().any(|&x| x) {
                notes.push(format!(
                    "stream {}: none of its {} packets came back: the DUT did not answer (check \
                     its routes and ARP, and dst/gateway/dst_mac)",
                    s.name, r.tx
                ));
            }
            streams.push(r);
        }
        let ports = cfg
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut c = PortCounters::default();
                for core in &cores {
                    c.add(&core.ports[i]);
                }
                PortReport {
                    name: p.name.clone(),
                    counters: c,
                }
            })
            .collect();
        if !cfg.test.rx.iter().any(|&x| x) {
            notes.push(
                "no port receives ([test] rx_ports = []): loss and latency were not measured"
                    .to_string(),
            );
        }
        // A DUT that stops answering: seconds at the end with traffic sent and none received.
        let silent = series
            .iter()
            .rev()
            .skip_while(|s| s.ports.iter().all(|p| p.tx == 0))
            .take_while(|s| s.ports.iter().all(|p| p.rx == 0))
            .count();
        let received_before = series.iter().any(|s| s.ports.iter().any(|p| p.rx > 0));
        if silent > 0 && received_before {
            notes.push(format!(
                "the DUT stopped answering: nothing came back in the last {silent} second(s) of \
                 sending; the run ended on time"
            ));
        }
        Report {
            tool: "burst gen".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            runs: 1,
            machines: vec![Machine::here()],
            started: vec![started],
            duration_s: cfg.test.duration.0 as f64 / 1e9,
            configs: vec![cfg.text.clone()],
            streams,
            ports,
            series,
            notes,
        }
    }

    /// Merges several reports: counters add, histograms merge exactly; streams, ports and
    /// seconds are matched by name and index.
    pub fn merge(reports: &[Report]) -> Result<Report, String> {
        let Some(first) = reports.first() else {
            return Err("nothing to merge".into());
        };
        let mut out = first.clone();
        let mut hists: Vec<Histogram<u64>> = first
            .streams
            .iter()
            .map(|s| decode_histogram(&s.latency.histogram))
            .collect::<Result<_, _>>()?;
        let mut sec_hists: BTreeMap<(u32, usize), Histogram<u64>> = BTreeMap::new();
        for s in &first.series {
            for (pi, p) in s.ports.iter().enumerate() {
                sec_hists.insert((s.second, pi), decode_histogram(&p.histogram)?);
            }
        }
        let mut jitter_w: Vec<f64> = first
            .streams
            .iter()
            .map(|s| s.jitter_ns * (s.rx - s.duplicates) as f64)
            .collect();
        for r in &reports[1..] {
            out.runs += r.runs;
            out.machines.extend(r.machines.iter().cloned());
            out.started.extend(&r.started);
            out.configs.extend(r.configs.iter().cloned());
            out.notes.extend(r.notes.iter().cloned());
            out.duration_s = out.duration_s.max(r.duration_s);
            for s in &r.streams {
                let h = decode_histogram(&s.latency.histogram)?;
                let w = s.jitter_ns * (s.rx - s.duplicates) as f64;
                match out
                    .streams
                    .iter()
                    .position(|o| o.name == s.name && o.port == s.port)
                {
                    Some(i) => {
                        let o = &mut out.streams[i];
                        o.target_pps += s.target_pps;
                        o.intended += s.intended;
                        o.tx += s.tx;
                        o.tx_bytes += s.tx_bytes;
                        o.skipped += s.skipped;
                        o.skipped_refused += s.skipped_refused;
                        o.unsent += s.unsent;
                        o.rx += s.rx;
                        o.rx_bytes += s.rx_bytes;
                        o.lost += s.lost;
                        o.duplicates += s.duplicates;
                        o.reordered += s.reordered;
                        o.late += s.late;
                        hists[i].add(&h).map_err(|e| format!("{e:?}"))?;
                        jitter_w[i] += w;
                    }
                    None => {
                        out.streams.push(s.clone());
                        hists.push(h);
                        jitter_w.push(w);
                    }
                }
            }
            for p in &r.ports {
                match out.ports.iter_mut().find(|o| o.name == p.name) {
                    Some(o) => o.counters.add(&p.counters),
                    None => out.ports.push(p.clone()),
                }
            }
            for s in &r.series {
                let at = match out.series.iter().position(|o| o.second == s.second) {
                    Some(at) => at,
                    None => {
                        out.series.push(SecondReport {
                            second: s.second,
                            ports: Vec::new(),
                            streams: Vec::new(),
                        });
                        out.series.len() - 1
                    }
                };
                let o = &mut out.series[at];
                for (pi, p) in s.ports.iter().enumerate() {
                    if o.ports.len() <= pi {
                        o.ports.push(PortSecondReport {
                            tx: 0,
                            tx_bytes: 0,
                            rx: 0,
                            rx_bytes: 0,
                            p50_ns: 0,
                            p99_ns: 0,
                            max_ns: 0,
                            histogram: String::new(),
                        });
                    }
                    let op = &mut o.ports[pi];
                    op.tx += p.tx;
                    op.tx_bytes += p.tx_bytes;
                    op.rx += p.rx;
                    op.rx_bytes += p.rx_bytes;
                    let h = sec_hists
                        .entry((s.second, pi))
                        .or_insert_with(new_histogram);
                    h.add(&decode_histogram(&p.histogram)?)
                        .map_err(|e| format!("{e:?}"))?;
                }
                for (si, st) in s.streams.iter().enumerate() {
                    if o.streams.len() <= si {
                        o.streams.push(StreamSecondReport::default());
                    }
                    o.streams[si].intended += st.intended;
                    o.streams[si].tx += st.tx;
                    o.streams[si].rx += st.rx;
                }
            }
        }
        for (i, s) in out.streams.iter_mut().enumerate() {
            s.latency = Latency::of(&hists[i]);
            s.loss_pct = if s.tx == 0 {
                0.0
            } else {
                s.lost as f64 * 100.0 / s.tx as f64
            };
            let unique = s.rx - s.duplicates;
            s.jitter_ns = if unique == 0 {
                0.0
            } else {
                jitter_w[i] / unique as f64
            };
        }
        out.series.sort_by_key(|s| s.second);
        for s in &mut out.series {
            for (pi, p) in s.ports.iter_mut().enumerate() {
                if let Some(h) = sec_hists.get(&(s.second, pi)) {
                    p.p50_ns = h.value_at_quantile(0.5);
                    p.p99_ns = h.value_at_quantile(0.99);
                    p.max_ns = if h.is_empty() { 0 } else { h.max() };
                    p.histogram = encode_histogram(h);
                }
            }
        }
        Ok(out)
    }

    /// The stream's merged latency histogram.
    pub fn histogram(&self, stream: usize) -> Result<Histogram<u64>, String> {
        decode_histogram(&self.streams[stream].latency.histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_counts_every_online_cpu_and_names_the_dpdk_built_against() {
        let m = Machine::here();
        // Pinned to one CPU, this thread still reports the machine's count.
        let mine = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(m.cpus >= mine, "{} < {mine}", m.cpus);
        assert!(!m.kernel.is_empty());
        #[cfg(feature = "dpdk")]
        assert!(
            m.dpdk.as_deref().is_some_and(
                |v| v.split('.').count() >= 2 && v.starts_with(|c: char| c.is_ascii_digit())
            ),
            "{:?}",
            m.dpdk
        );
        #[cfg(not(feature = "dpdk"))]
        assert_eq!(m.dpdk, None);
        // Reports written before the version was recorded still read.
        let old = r#"{"hostname":"h","cpu":"c","cpus":2,"kernel":"k"}"#;
        let m: Machine = serde_json::from_str(old).expect("an older machine record parses");
        assert_eq!(m.dpdk, None);
    }
}
