//! The report's renderings for people and spreadsheets: the text table, CSV and the live line.

use std::fmt::Write as _;

use crate::config::{bps_text, pps_text, L1_OVERHEAD};

use super::*;

impl Report {
    /// The report as a text table.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let secs = self.duration_s.max(1e-9);
        let _ = writeln!(
            o,
            "burst gen {} — {} run(s), {:.1} s of generation",
            self.version, self.runs, self.duration_s
        );
        let _ = writeln!(
            o,
            "{:<12} {:<6} {:>14} {:>14} {:>12} {:>8} {:>6} {:>7} {:>6} {:>13} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "stream", "port", "tx", "rx", "lost", "loss%", "dup", "reord", "late", "tx rate", "lat min", "p50", "p99", "p99.9", "max", "jitter"
        );
        for s in &self.streams {
            let l = &s.latency;
            let _ = writeln!(
                o,
                "{:<12} {:<6} {:>14} {:>14} {:>12} {:>8.4} {:>6} {:>7} {:>6} {:>13} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                s.name,
                s.port,
                s.tx,
                s.rx,
                s.lost,
                s.loss_pct,
                s.duplicates,
                s.reordered,
                s.late,
                pps_text(s.tx as f64 / secs),
                ns_text(l.min_ns as f64),
                ns_text(l.p50_ns as f64),
                ns_text(l.p99_ns as f64),
                ns_text(l.p999_ns as f64),
                ns_text(l.max_ns as f64),
                ns_text(s.jitter_ns),
            );
            if s.skipped > 0 || s.unsent > 0 {
                let _ = writeln!(
                    o,
                    "{:<12} intended {} slots: {} skipped ({} while the port refused packets, {} with the generator behind), {} unsent at the end",
                    "",
                    s.intended,
                    s.skipped,
                    s.skipped_refused,
                    s.skipped - s.skipped_refused,
                    s.unsent
                );
            }
        }
        let _ = writeln!(
            o,
            "{:<12} {:>14} {:>14} {:>14} {:>14} {:>10} {:>10} {:>10}",
            "port", "tx", "tx L1", "rx", "rx L1", "rx other", "arp", "tx full"
        );
        for p in &self.ports {
            let c = &p.counters;
            let l1 = |pk: u64, b: u64| (b + pk * L1_OVERHEAD) as f64 * 8.0 / secs;
            let _ = writeln!(
                o,
                "{:<12} {:>14} {:>14} {:>14} {:>14} {:>10} {:>10} {:>10}",
                p.name,
                pps_text(c.tx as f64 / secs),
                bps_text(l1(c.tx, c.tx_bytes)),
                pps_text(c.rx as f64 / secs),
                bps_text(l1(c.rx, c.rx_bytes)),
                c.rx_other,
                c.arp_replies,
                c.tx_full
            );
        }
        for n in &self.notes {
            let _ = writeln!(o, "note: {n}");
        }
        o
    }

    /// The per-second series as CSV: one row per second and port, then one per second and
    /// stream.
    pub fn csv(&self) -> Result<String, String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let e = |e: csv::Error| e.to_string();
        w.write_record([
            "second",
            "kind",
            "name",
            "intended",
            "tx_pps",
            "rx_pps",
            "tx_l1_bps",
            "rx_l1_bps",
            "p50_ns",
            "p99_ns",
            "max_ns",
        ])
        .map_err(e)?;
        let pname = |i: usize| {
            self.ports
                .get(i)
                .map_or(format!("p{i}"), |p| p.name.clone())
        };
        for s in &self.series {
            for (i, p) in s.ports.iter().enumerate() {
                let l1 = |pk: u64, b: u64| (b + pk * L1_OVERHEAD) * 8;
                w.write_record([
                    s.second.to_string(),
                    "port".into(),
                    pname(i),
                    String::new(),
                    p.tx.to_string(),
                    p.rx.to_string(),
                    l1(p.tx, p.tx_bytes).to_string(),
                    l1(p.rx, p.rx_bytes).to_string(),
                    p.p50_ns.to_string(),
                    p.p99_ns.to_string(),
                    p.max_ns.to_string(),
                ])
                .map_err(e)?;
            }
            for (i, st) in s.streams.iter().enumerate() {
                w.write_record([
                    s.second.to_string(),
                    "stream".into(),
                    self.streams
                        .get(i)
                        .map_or(format!("s{i}"), |x| x.name.clone()),
                    st.intended.to_string(),
                    st.tx.to_string(),
                    st.rx.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ])
                .map_err(e)?;
            }
        }
        let bytes = w.into_inner().map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }
}

/// Nanoseconds as a user reads them.
pub fn ns_text(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2}s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2}ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1}us", ns / 1e3)
    } else {
        format!("{ns:.0}ns")
    }
}

/// One second of one port as the live line shows it.
pub fn live_line(r: &SecondReport, port_names: &[String]) -> String {
    let mut o = format!("{:>4}s", r.second + 1);
    for (i, p) in r.ports.iter().enumerate() {
        let l1 = |pk: u64, b: u64| (b + pk * L1_OVERHEAD) as f64 * 8.0;
        let _ = write!(
            o,
            " | {} tx {} {} rx {} {} p50 {} p99 {}",
            port_names.get(i).map_or("?", String::as_str),
            pps_text(p.tx as f64),
            bps_text(l1(p.tx, p.tx_bytes)),
            pps_text(p.rx as f64),
            bps_text(l1(p.rx, p.rx_bytes)),
            ns_text(p.p50_ns as f64),
            ns_text(p.p99_ns as f64),
        );
    }
    let (tx, rx): (u64, u64) = r
        .streams
        .iter()
        .fold((0, 0), |a, s| (a.0 + s.tx, a.1 + s.rx));
    if rx > 0 {
        // Sent this second minus received this second: in-flight packets move between
        // seconds, so this is a trend; the report's loss is exact.
        let _ = write!(o, " | tx-rx {}", tx as i64 - rx as i64);
    }
    o
}
