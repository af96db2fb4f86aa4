//! What a stateful run measured: per-core results, percentiles, the report and its text.

use super::*;

/// What one core measured.
#[derive(Debug, Clone)]
pub struct CoreResult {
    /// Its clients' figures.
    pub clients: ClientStats,
    /// Its servers' figures.
    pub servers: ServerStats,
    /// Its frames.
    pub wire: WireStats,
    /// Send/receive ring pairs the stack allocated (the most connections holding data at once).
    pub ring_sets: u64,
    /// Most connections the stack held at once (TIME-WAIT included).
    pub peak_held: u64,
    /// Connection table entries (`[tcp] max_connections`).
    pub table: u64,
    /// Bytes per table entry, rings aside: the stack's entry (engine state, 4-tuple table,
    /// timer, lists) and the generator's per-connection state.
    pub state_bytes: u64,
    /// TIME-WAIT record table entries (`[tcp] max_time_wait`).
    pub time_wait_table: u64,
    /// Bytes per TIME-WAIT record (the record and its 4-tuple table share).
    pub time_wait_bytes: u64,
    /// Most TIME-WAIT records in use at once.
    pub peak_time_wait: u64,
    /// TIME-WAIT 4-tuples a new SYN took over.
    pub time_wait_reused: u64,
}

/// Percentiles of one histogram, ns.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// 50th percentile.
    pub p50: u64,
    /// 90th.
    pub p90: u64,
    /// 99th.
    pub p99: u64,
    /// 99.9th.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl Percentiles {
    fn of(h: &hdrhistogram::Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// The clients' figures over every core.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSummary {
    /// Connections started per the open-loop schedule.
    pub intended: u64,
    /// Connections opened (SYNs).
    pub connects: u64,
    /// Handshakes completed.
    pub established: u64,
    /// Requests started.
    pub requests: u64,
    /// Responses complete.
    pub responses: u64,
    /// Responses outside 200..=399.
    pub non_2xx: u64,
    /// Body bytes that differed from the pattern.
    pub body_mismatches: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Connections finished.
    pub closed: u64,
    /// Most connections open at once (sum of the cores' peaks).
    pub peak_open: u64,
    /// Failures by reason.
    pub failures: std::collections::BTreeMap<String, u64>,
    /// All failures.
    pub failures_total: u64,
    /// Connections per second over the run (connects / seconds).
    pub cps: f64,
    /// Responses per second over the run.
    pub rps: f64,
    /// SYN to handshake complete.
    pub connect_ns: Percentiles,
    /// Request queued to first response byte.
    pub ttfb_ns: Percentiles,
    /// Request queued to last response byte.
    pub latency_ns: Percentiles,
    /// Intended start to last response byte (coordinated-omission corrected).
    pub corrected_ns: Percentiles,
}

/// The end-of-run report of a stateful run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatefulReport {
    /// burst version.
    pub version: String,
    /// Unix time of the start.
    pub started: f64,
    /// Seconds from the start to the end of the run.
    pub seconds: f64,
    /// Generator cores.
    pub cores: u16,
    /// Clients (merged over cores), if any ran.
    pub client: Option<ClientSummary>,
    /// Servers (merged over cores), if any ran.
    pub server: Option<ServerStats>,
    /// Frames.
    pub wire: WireStats,
    /// Memory arithmetic: bytes per connection (worst case) and the table limit checked.
    pub bytes_per_connection: u64,
    /// Ring pairs allocated (most connections holding data at once), over cores.
    pub ring_sets: u64,
    /// Memory in use (see [`Memory`]).
    #[serde(default)]
    pub memory: Memory,
    /// Per second.
    pub series: Vec<Second>,
    /// The configuration file.
    pub config: String,
}

/// Memory the run's connections used, over cores.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Connection table entries allocated (`[tcp] max_connections` × cores).
    pub table_entries: u64,
    /// Bytes per entry, rings aside (engine state, stack bookkeeping, generator state).
    pub state_bytes: u64,
    /// Bytes of one connection's ring storage (send and receive rings, transmission log).
    pub ring_pair_bytes: u64,
    /// Entries × state bytes + ring pairs allocated × their bytes.
    pub allocated: u64,
    /// Most connections held at once (TIME-WAIT included).
    pub peak_held: u64,
    /// `allocated` / `peak_held`.
    pub per_held: u64,
    /// TIME-WAIT record table entries allocated (`[tcp] max_time_wait` × cores).
    #[serde(default)]
    pub time_wait_entries: u64,
    /// Bytes per TIME-WAIT record (the record and its share of the 4-tuple table).
    #[serde(default)]
    pub time_wait_bytes: u64,
    /// Most TIME-WAIT records in use at once (summed over cores).
    #[serde(default)]
    pub peak_time_wait: u64,
    /// TIME-WAIT 4-tuples a new SYN took over.
    pub time_wait_reused: u64,
}

impl StatefulReport {
    pub(super) fn build(
        cfg: &GenConfig,
        results: Vec<CoreResult>,
        series: Vec<Second>,
        started: f64,
        seconds: f64,
    ) -> StatefulReport {
        let mut cs = ClientStats::default();
        let mut ss = ServerStats::default();
        let mut wire = WireStats::default();
        let mut rings = 0;
        let mut mem = Memory::default();
        for r in &results {
            cs.merge(&r.clients);
            ss.merge(&r.servers);
            wire.merge(&r.wire);
            rings += r.ring_sets;
            mem.peak_held += r.peak_held;
            mem.table_entries += r.table;
            mem.state_bytes = mem.state_bytes.max(r.state_bytes);
            mem.time_wait_reused += r.time_wait_reused;
            mem.time_wait_entries += r.time_wait_table;
            mem.time_wait_bytes = mem.time_wait_bytes.max(r.time_wait_bytes);
            mem.peak_time_wait += r.peak_time_wait;
        }
        mem.ring_pair_bytes = cfg.tcp.ring_pair_bytes();
        mem.allocated = mem.table_entries * mem.state_bytes
            + mem.time_wait_entries * mem.time_wait_bytes
            + rings * mem.ring_pair_bytes;
        mem.per_held = mem.allocated.checked_div(mem.peak_held).unwrap_or(0);
        let secs = seconds.max(1e-9);
        let client = (!cfg.clients.is_empty()).then(|| ClientSummary {
            intended: cs.intended,
            connects: cs.connects,
            established: cs.established,
            requests: cs.requests,
            responses: cs.responses,
            non_2xx: cs.non_2xx,
            body_mismatches: cs.body_mismatches,
            tx_bytes: cs.tx_bytes,
            rx_bytes: cs.rx_bytes,
            body_bytes: cs.body_bytes,
            closed: cs.closed,
            peak_open: cs.peak_open,
            failures: Failure::ALL
                .iter()
                .map(|&f| (f.name().to_string(), cs.failures.get(f)))
                .collect(),
            failures_total: cs.failures.total(),
            cps: cs.connects as f64 / secs,
            rps: cs.responses as f64 / secs,
            connect_ns: Percentiles::of(&cs.connect_ns),
            ttfb_ns: Percentiles::of(&cs.ttfb_ns),
            latency_ns: Percentiles::of(&cs.request_ns),
            corrected_ns: Percentiles::of(&cs.corrected_ns),
        });
        StatefulReport {
            version: env!("CARGO_PKG_VERSION").into(),
            started,
            seconds,
            cores: cfg.cores(),
            client,
            server: (!cfg.servers.is_empty()).then_some(ss),
            wire,
            bytes_per_connection: cfg.tcp.per_connection(),
            ring_sets: rings,
            memory: mem,
            series,
            config: cfg.text.clone(),
        }
    }

    /// The report as text.
    pub fn text(&self) -> String {
        use core::fmt::Write;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "burst gen (stateful) {}: {:.3} s on {} core(s)",
            self.version, self.seconds, self.cores
        );
        if let Some(c) = &self.client {
            let _ = writeln!(
                o,
                "client: {} connects ({:.0}/s), {} established, {} requests, {} responses \
                 ({:.0}/s), {} non-2xx, peak {} open",
                c.connects,
                c.cps,
                c.established,
                c.requests,
                c.responses,
                c.rps,
                c.non_2xx,
                c.peak_open
            );
            let _ = writeln!(
                o,
                "  bytes: {} sent, {} received ({} body, {} mismatched)",
                c.tx_bytes, c.rx_bytes, c.body_bytes, c.body_mismatches
            );
            let _ = write!(o, "  failures: {}", c.failures_total);
            for (k, v) in &c.failures {
                if *v > 0 {
                    let _ = write!(o, "  {k} {v}");
                }
            }
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "  {:<10} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                "µs", "count", "min", "p50", "p90", "p99", "p99.9", "max"
            );
            for (name, p) in [
                ("connect", &c.connect_ns),
                ("ttfb", &c.ttfb_ns),
                ("latency", &c.latency_ns),
                ("corrected", &c.corrected_ns),
            ] {
                let us = |v: u64| v as f64 / 1e3;
                let _ = writeln!(
                    o,
                    "  {:<10} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                    name,
                    p.count,
                    us(p.min),
                    us(p.p50),
                    us(p.p90),
                    us(p.p99),
                    us(p.p999),
                    us(p.max)
                );
            }
        }
        if let Some(s) = &self.server {
            let _ = writeln!(
                o,
                "server: {} accepted, {} requests answered, {} bad, {} errors, {} no slot; \
                 {} B received, {} B sent",
                s.accepted, s.requests, s.bad_requests, s.errors, s.no_slot, s.rx_bytes, s.tx_bytes
            );
        }
        let w = &self.wire;
        let _ = writeln!(
            o,
            "wire: {} frames in ({} ignored), {} out; dropped {} (no neighbour), {} (no buffer); \
             {} ARP answered",
            w.rx_frames,
            w.rx_ignored,
            w.tx_frames,
            w.tx_no_neighbour,
            w.tx_no_buffer,
            w.arp_answered
        );
        let m = &self.memory;
        let _ = writeln!(
            o,
            "memory: {} B per connection (worst case), {} ring pairs allocated",
            self.bytes_per_connection, self.ring_sets
        );
        let _ = writeln!(
            o,
            "memory in use: {} table entries × {} B state + {} TIME-WAIT records × {} B + {} ring \
             pairs × {} B = {:.1} MiB; peak {} connections held (TIME-WAIT included, {} as \
             records): {} B per connection held; {} TIME-WAIT tuples reused",
            m.table_entries,
            m.state_bytes,
            m.time_wait_entries,
            m.time_wait_bytes,
            self.ring_sets,
            m.ring_pair_bytes,
            m.allocated as f64 / f64::from(1 << 20),
            m.peak_held,
            m.peak_time_wait,
            m.per_held,
            m.time_wait_reused
        );
        o
    }
}
