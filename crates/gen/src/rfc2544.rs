//! RFC 2544 (benchmarking methodology for network interconnect devices) on the configuration's
//! streams: for each frame size, throughput (§26.1: a binary search for the highest offered
//! load with loss ≤ the tolerance), latency at the throughput (§26.2; here every packet is
//! timed, and loads of 50 %, 90 % and 100 % of the throughput are measured), frame loss rate
//! against offered load (§26.3: 100 %, 90 %, ... of the line rate until two trials in a row
//! lose nothing) and back-to-back bursts (§26.4: the longest burst at line rate without loss).
//!
//! Every trial is a whole run: learning frames first (§23: `warmup` at 1 % of the line rate),
//! then the trial's traffic, then *traffic fully stopped and the DUT drained* (`settle`)
//! before the counters are read — the run's receive side keeps counting through the drain, so
//! a frame still queued in the DUT when sending stops is not counted as lost.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::config::{GenConfig, Mode, Rate};
use crate::report::{ns_text, Machine, Report};
use crate::run::Live;
use crate::size::SizeSpec;

/// One trial's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trial {
    /// Offered load, percent of the line rate.
    pub load_pct: f64,
    /// Offered packets per second (all streams).
    pub offered_pps: f64,
    /// Packets sent.
    pub tx: u64,
    /// Packets received (duplicates excluded).
    pub rx: u64,
    /// Lost packets.
    pub lost: i64,
    /// Loss in percent of `tx`.
    pub loss_pct: f64,
    /// Whether the generator kept the offered load (slots skipped within the resolution).
    pub generator_ok: bool,
    /// Slots of the schedule skipped because the generator was behind (not sent, so not lost).
    #[serde(default)]
    pub skipped: u64,
    /// Transmits the ports took only in part (back-pressure: on memif the DUT's receive ring
    /// was full). Skipped slots with refusals are the DUT's limit; without, the generator's
    /// core's (see [`behind_text`]).
    #[serde(default)]
    pub refused: u64,
    /// The part of `skipped` that fell due while a port was refusing (the DUT's back-pressure
    /// at that moment); the rest of `skipped` is the generator's core late.
    #[serde(default)]
    pub skipped_refused: u64,
    /// Median latency, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
    /// Largest latency, ns.
    pub max_ns: u64,
}

/// Latency at a fraction of the throughput.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LatencyAt {
    /// Percent of the throughput.
    pub of_throughput_pct: f64,
    /// The trial.
    pub trial: Trial,
}

/// Results for one frame size.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SizeResult {
    /// Frame size, FCS included.
    pub size: u16,
    /// Throughput (the non-drop rate with the tolerance), percent of the line rate.
    pub throughput_pct: f64,
    /// Throughput in packets per second (all streams).
    pub throughput_pps: f64,
    /// Throughput in bit/s at layer 1 (all streams).
    pub throughput_l1_bps: f64,
    /// The search's trials, in order.
    pub search: Vec<Trial>,
    /// Latency at 50 %, 90 % and 100 % of the throughput.
    pub latency: Vec<LatencyAt>,
    /// Frame loss rate trials.
    pub loss_curve: Vec<Trial>,
    /// Longest loss-free burst at line rate, per back-to-back trial.
    pub back_to_back: Vec<u64>,
}

/// The RFC 2544 report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rfc2544Report {
    /// burst's version.
    pub version: String,
    /// Where it ran.
    pub machine: Machine,
    /// The configuration's text.
    pub config: String,
    /// Line rate of the streams' ports, bit/s (sum over streams).
    pub line_rate_bps: f64,
    /// Loss tolerance, percent.
    pub loss_tolerance: f64,
    /// Per frame size.
    pub sizes: Vec<SizeResult>,
}

/// Runs one configuration and returns its report.
pub type TrialFn<'a> = dyn FnMut(&GenConfig) -> Result<Report, String> + 'a;

/// The configuration of one trial: every stream at `load_pct` of its line rate with frames of
/// `size`, for `duration`.
fn trial_config(
    cfg: &GenConfig,
    size: u16,
    load_pct: f64,
    mode: Mode,
    duration: burst_port::Nanos,
) -> GenConfig {
    let mut c = cfg.clone();
    for s in &mut c.streams {
        s.size = SizeSpec::Fixed(size);
        s.rate = Rate::L1Bps(((s.line_rate as f64) * load_pct / 100.0).round().max(1.0) as u64);
        s.count = None;
        s.duration = None;
        s.start_delay = burst_port::Nanos::ZERO;
        s.mode = mode;
    }
    c.test.duration = duration;
    c.test.drain = cfg.test.rfc2544.settle;
    c
}

fn summarize(r: &Report, load_pct: f64, offered_pps: f64, resolution: f64) -> Trial {
    let tx: u64 = r.streams.iter().map(|s| s.tx).sum();
    let rx: u64 = r.streams.iter().map(|s| s.rx - s.duplicates).sum();
    let skipped: u64 = r.streams.iter().map(|s| s.skipped).sum();
    let skipped_refused: u64 = r.streams.iter().map(|s| s.skipped_refused).sum();
    let intended: u64 = r.streams.iter().map(|s| s.intended).sum();
    let refused: u64 = r.ports.iter().map(|p| p.counters.tx_full).sum();
    let lost = tx as i64 - rx as i64;
    // The streams' histograms merged: the trial's latency over every stream.
    let mut h = crate::engine::new_histogram();
    for s in &r.streams {
        if let Ok(x) = crate::report::decode_histogram(&s.latency.histogram) {
            let _ = h.add(&x);
        }
    }
    Trial {
        load_pct,
        offered_pps,
        tx,
        rx,
        lost,
        loss_pct: if tx == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / tx as f64
        },
        // The offered load counts as reached when the slots skipped after stalls are within
        // the search's resolution (finer differences cannot be told apart anyway).
        generator_ok: (skipped as f64) <= intended as f64 * resolution / 100.0,
        skipped,
        refused,
        skipped_refused,
        p50_ns: h.value_at_quantile(0.5),
        p99_ns: h.value_at_quantile(0.99),
        p999_ns: h.value_at_quantile(0.999),
        max_ns: if h.is_empty() { 0 } else { h.max() },
    }
}

/// Whether a trial that missed its offered load missed it because of the DUT: most of its
/// skipped slots fell due while a port was refusing transmits (on memif the DUT's receive
/// ring full: its limit, like loss). Otherwise the generator's core was late with the ports
/// taking what it sent. A few refusals beside millions of late slots no longer make a trial
/// the DUT's: each slot is charged by what the port did when it fell due.
pub fn dut_backpressure(t: &Trial) -> bool {
    !t.generator_ok && t.skipped_refused * 2 >= t.skipped && t.skipped > 0
}

/// Why a trial's offered load was not reached, for the progress line ("" when it was), by
/// [`dut_backpressure`]. The generator's lateness is the generator's limit on a port whose
/// transmit costs only the generator (memif, a NIC); on af_packet the kernel forwards what is
/// sent inside the generator's send calls, on its core, unless its softirq is steered to
/// another CPU (RPS), so there it can be the generator's and the kernel's together.
pub fn behind_text(t: &Trial) -> String {
    if t.generator_ok {
        String::new()
    } else if dut_backpressure(t) {
        format!(
            " (offered load not reached: {} slots skipped, {} of them while the port refused \
             transmits ({} refused polls): the DUT's back-pressure)",
            t.skipped, t.skipped_refused, t.refused
        )
    } else {
        format!(
            " (generator fell behind: {} slots skipped, {} of them while the port refused \
             transmits: the generator's core did not keep up)",
            t.skipped, t.skipped_refused
        )
    }
}

/// Runs the RFC 2544 tests of `cfg` (its `[test.rfc2544]`), each trial through `trial`.
pub fn run(cfg: &GenConfig, trial: &mut TrialFn<'_>, live: &Live) -> Result<Rfc2544Report, String> {
    let p = &cfg.test.rfc2544;
    let line: f64 = cfg.streams.iter().map(|s| s.line_rate as f64).sum();
    let say = |m: String| {
        if !matches!(live, Live::Quiet) {
            eprintln!("{m}");
        }
    };
    let mut sizes = Vec::new();
    for &size in &p.sizes {
        let pps_at = |pct: f64| line * pct / 100.0 / ((f64::from(size) + 20.0) * 8.0);
        let mut run_at = |pct: f64, mode: Mode, dur: burst_port::Nanos| -> Result<Trial, String> {
            if p.warmup.0 > 0 {
                trial(&trial_config(cfg, size, 1.0, Mode::Continuous, p.warmup))?;
            }
            let r = trial(&trial_config(cfg, size, pct, mode, dur))?;
            Ok(summarize(&r, pct, pps_at(pct), p.resolution))
        };
        let pass = |t: &Trial| t.generator_ok && t.loss_pct <= p.loss_tolerance && t.tx > 0;
        // Throughput: binary search between the highest pass and the lowest fail.
        let mut search = Vec::new();
        let (mut lo, mut hi) = (0.0f64, 100.0f64);
        let mut best: Option<Trial> = None;
        let mut load = 100.0;
        for _ in 0..p.max_trials {
            // A failed trial may be repeated (`retries`): on a shared or virtual machine a
            // single stall of the DUT's or the generator's CPU fails a zero-loss trial that
            // the DUT otherwise forwards, and the search then lands far below the real
            // throughput (the repeated-trial idea of MLRsearch, draft-ietf-bmwg-mlrsearch).
            // Every repetition is kept in `search`.
            let mut attempt = 0;
            let (t, ok) = loop {
                let t = run_at(load, Mode::Continuous, p.trial)?;
                let ok = pass(&t);
                say(format!(
                    "rfc2544 {size}B: {load:.2}% ({:.3} Mpps) tx {} rx {} loss {:.4}%{} -> {}{}",
                    t.offered_pps / 1e6,
                    t.tx,
                    t.rx,
                    t.loss_pct,
                    behind_text(&t),
                    if ok { "pass" } else { "fail" },
                    if attempt > 0 {
                        format!(" (retry {attempt} of {})", p.retries)
                    } else {
                        String::new()
                    }
                ));
                search.push(t.clone());
                if ok || attempt >= p.retries {
                    break (t, ok);
                }
                attempt += 1;
            };
            if ok {
                lo = load;
                best = Some(t);
            } else {
                hi = load;
            }
            if ok && load >= 100.0 || hi - lo <= p.resolution {
                break;
            }
            load = (lo + hi) / 2.0;
        }
        let ndr = best.as_ref().map_or(0.0, |t| t.load_pct);
        // Latency at fractions of the throughput.
        let mut latency = Vec::new();
        if ndr > 0.0 {
            for frac in [50.0, 90.0, 100.0] {
                let t = if frac == 100.0 {
                    best.clone().expect("ndr > 0 has a trial")
                } else {
                    run_at(ndr * frac / 100.0, Mode::Continuous, p.trial)?
                };
                say(format!(
                    "rfc2544 {size}B: latency at {frac}% of throughput: p50 {} p99 {}",
                    ns_text(t.p50_ns as f64),
                    ns_text(t.p99_ns as f64)
                ));
                latency.push(LatencyAt {
                    of_throughput_pct: frac,
                    trial: t,
                });
            }
        }
        // Frame loss rate: from 100 % down in steps of 10 % until two loss-free trials in a row.
        let mut loss_curve = Vec::new();
        let mut clean = 0;
        for k in 0..p.loss_steps {
            let pct = 100.0 - 10.0 * f64::from(k);
            if pct <= 0.0 {
                break;
            }
            let t = match search.iter().find(|t| (t.load_pct - pct).abs() < 1e-9) {
                Some(t) => t.clone(),
                None => run_at(pct, Mode::Continuous, p.trial)?,
            };
            clean = if t.lost <= 0 { clean + 1 } else { 0 };
            loss_curve.push(t);
            if clean == 2 {
                break;
            }
        }
        // Back-to-back: the longest burst at line rate without loss (binary search on length).
        let mut back_to_back = Vec::new();
        for _ in 0..p.back_to_back {
            let (mut ok, mut bad) = (0u64, p.back_to_back_max + 1);
            let mut n = p.back_to_back_max;
            while bad - ok > 1 {
                let dur_ns = (n as f64 / pps_at(100.0) * 1e9) as u64 + 100_000_000;
                let mode = Mode::Bursts {
                    packets: n,
                    bursts: 1,
                    gap: burst_port::Nanos::ZERO,
                };
                let t = run_at(
                    100.0,
                    mode,
                    burst_port::Nanos(dur_ns.min(cfg.test.duration.0.max(dur_ns))),
                )?;
                if t.lost <= 0 && t.tx == n {
                    ok = n;
                } else {
                    bad = n;
                }
                n = ok + (bad - ok) / 2;
                if n == ok {
                    break;
                }
            }
            say(format!("rfc2544 {size}B: back-to-back {ok} frames"));
            back_to_back.push(ok);
        }
        let tp_pps = pps_at(ndr);
        sizes.push(SizeResult {
            size,
            throughput_pct: ndr,
            throughput_pps: tp_pps,
            throughput_l1_bps: line * ndr / 100.0,
            search,
            latency,
            loss_curve,
            back_to_back,
        });
    }
    Ok(Rfc2544Report {
        version: env!("CARGO_PKG_VERSION").to_string(),
        machine: Machine::here(),
        config: cfg.text.clone(),
        line_rate_bps: line,
        loss_tolerance: p.loss_tolerance,
        sizes,
    })
}

impl Rfc2544Report {
    /// The results as a text table.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "RFC 2544 (burst gen {}), line rate {:.3} Gbit/s, loss tolerance {}%",
            self.version,
            self.line_rate_bps / 1e9,
            self.loss_tolerance
        );
        let _ = writeln!(
            o,
            "{:>6} {:>12} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "size",
            "throughput",
            "Mpps",
            "Gbit/s L1",
            "p50@50%",
            "p99@50%",
            "p50@90%",
            "p99@90%",
            "b2b"
        );
        for s in &self.sizes {
            let lat = |f: f64| {
                s.latency
                    .iter()
                    .find(|l| l.of_throughput_pct == f)
                    .map(|l| &l.trial)
            };
            let cell = |t: Option<&Trial>, p99: bool| {
                t.map_or("-".to_string(), |t| {
                    ns_text(if p99 { t.p99_ns } else { t.p50_ns } as f64)
                })
            };
            let _ = writeln!(
                o,
                "{:>6} {:>11.2}% {:>12.3} {:>12.3} {:>10} {:>10} {:>10} {:>10} {:>10}",
                s.size,
                s.throughput_pct,
                s.throughput_pps / 1e6,
                s.throughput_l1_bps / 1e9,
                cell(lat(50.0), false),
                cell(lat(50.0), true),
                cell(lat(90.0), false),
                cell(lat(90.0), true),
                s.back_to_back
                    .iter()
                    .min()
                    .map_or("-".to_string(), |b| b.to_string()),
            );
        }
        o
    }

    /// Every trial as CSV (kind = search, latency, loss).
    pub fn csv(&self) -> String {
        let mut o = String::from(
            "size,kind,load_pct,offered_pps,tx,rx,lost,loss_pct,p50_ns,p99_ns,p999_ns,max_ns,\
             generator_ok,skipped,refused,skipped_refused\n",
        );
        for s in &self.sizes {
            let rows = s
                .search
                .iter()
                .map(|t| ("search", t))
                .chain(s.latency.iter().map(|l| ("latency", &l.trial)))
                .chain(s.loss_curve.iter().map(|t| ("loss", t)));
            for (kind, t) in rows {
                let _ = writeln!(
                    o,
                    "{},{kind},{:.4},{:.0},{},{},{},{:.6},{},{},{},{},{},{},{},{}",
                    s.size,
                    t.load_pct,
                    t.offered_pps,
                    t.tx,
                    t.rx,
                    t.lost,
                    t.loss_pct,
                    t.p50_ns,
                    t.p99_ns,
                    t.p999_ns,
                    t.max_ns,
                    t.generator_ok,
                    t.skipped,
                    t.refused,
                    t.skipped_refused
                );
            }
        }
        o
    }
}
