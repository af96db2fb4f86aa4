//! Deterministic simulation: two connections over an in-test link with a bottleneck rate, a
//! drop-tail queue, random loss, duplication, reordering (jitter) and delay, on a virtual
//! clock driven by seeded SplitMix64. Each run transfers a few MiB in both directions, checks
//! every byte, closes both sides, and is bounded in simulated time and in steps.

mod common;

use std::collections::VecDeque;

use burst_port::clock::SplitMix64;
use burst_port::Nanos;
use burst_tcp::{
    CongestionAlgorithm, ConnParams, Connection, LossDetection, Negotiate, State, TcpConfig,
};
use burst_wire::tcp::{Flags, Repr, SeqNumber};

/// Link impairments of one direction.
#[derive(Debug, Clone, Copy)]
struct LinkCfg {
    /// One-way propagation delay.
    delay: Nanos,
    /// Extra random delay in `0..jitter` (reorders packets).
    jitter: Nanos,
    /// Bottleneck rate in bytes per second.
    rate: u64,
    /// Queue limit in bytes (drop-tail beyond it).
    queue: usize,
    /// Random loss probability.
    loss: f64,
    /// Duplication probability.
    dup: f64,
}

struct Packet {
    at: Nanos,
    seq: u64,
    repr: Repr,
    payload: Vec<u8>,
}

/// One direction of the link.
struct Link {
    cfg: LinkCfg,
    /// When the bottleneck is free again.
    busy_until: Nanos,
    in_flight: Vec<Packet>,
    queued_bytes: VecDeque<(Nanos, usize)>,
    counter: u64,
    drops: u64,
}

impl Link {
    fn new(cfg: LinkCfg) -> Link {
        Link {
            cfg,
            busy_until: Nanos::ZERO,
            in_flight: Vec::new(),
            queued_bytes: VecDeque::new(),
            counter: 0,
            drops: 0,
        }
    }

    fn send(&mut self, now: Nanos, rng: &mut SplitMix64, repr: Repr, payload: &[u8]) {
        let size = repr.buffer_len() + 20;
        // Bytes still waiting for the bottleneck at `now`.
        while self.queued_bytes.front().is_some_and(|&(t, _)| t <= now) {
            self.queued_bytes.pop_front();
        }
        let backlog: usize = self.queued_bytes.iter().map(|&(_, b)| b).sum();
        if backlog + size > self.cfg.queue {
            self.drops += 1;
            return;
        }
        let start = self.busy_until.max(now);
        let done = start + Nanos(size as u64 * 1_000_000_000 / self.cfg.rate);
        self.busy_until = done;
        self.queued_bytes.push_back((done, size));
        if rng.chance(self.cfg.loss) {
            self.drops += 1;
            return;
        }
        let copies = if rng.chance(self.cfg.dup) { 2 } else { 1 };
        for _ in 0..copies {
            let jitter = Nanos(rng.below(self.cfg.jitter.0.max(1)));
            self.counter += 1;
            self.in_flight.push(Packet {
                at: done + self.cfg.delay + jitter,
                seq: self.counter,
                repr,
                payload: payload.to_vec(),
            });
        }
    }

    fn next_at(&self) -> Option<Nanos> {
        self.in_flight.iter().map(|p| p.at).min()
    }

    /// Removes and returns the packets due by `now`, in delivery order.
    fn due(&mut self, now: Nanos) -> Vec<Packet> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].at <= now {
                out.push(self.in_flight.swap_remove(i));
            } else {
                i += 1;
            }
        }
        out.sort_by_key(|p| (p.at, p.seq));
        out
    }
}

/// Period of the test pattern (prime, so it does not line up with segment sizes).
const PERIOD: usize = 65_521;

/// The stream pattern: byte `i` of direction `dir` is `table[(i + dir · 7919) % PERIOD]`.
/// Filled and checked with slice copies and compares, so debug builds stay fast.
fn table() -> &'static [u8] {
    use std::sync::OnceLock;
    static T: OnceLock<Vec<u8>> = OnceLock::new();
    T.get_or_init(|| {
        let mut r = SplitMix64::new(42);
        (0..PERIOD).map(|_| r.next_u64() as u8).collect()
    })
}

/// Calls `f` with consecutive pieces of the pattern covering `[start, start + len)`.
fn pattern_pieces(dir: u8, start: usize, len: usize, mut f: impl FnMut(usize, &[u8])) {
    let t = table();
    let mut done = 0;
    while done < len {
        let pos = (start + done + usize::from(dir) * 7919) % PERIOD;
        let n = (len - done).min(PERIOD - pos);
        f(done, &t[pos..pos + n]);
        done += n;
    }
}

/// One end: its connection, what it sent and what it received.
struct End {
    c: Connection,
    dir: u8,
    sent: usize,
    received: usize,
    total: usize,
    shut: bool,
    /// Bytes the application reads per 10 ms tick (`None`: everything, at once).
    read_budget: Option<usize>,
    /// Left to read in the current tick.
    budget_left: usize,
}

impl End {
    fn app(&mut self, chunk: &mut [u8]) {
        // Write as much as fits.
        while self.sent < self.total {
            let n = (self.total - self.sent).min(chunk.len());
            pattern_pieces(self.dir, self.sent, n, |off, p| {
                chunk[off..off + p.len()].copy_from_slice(p)
            });
            let w = self.c.send(&chunk[..n]);
            self.sent += w;
            if w < n {
                break;
            }
        }
        if self.sent == self.total && !self.shut {
            self.c.shutdown_write();
            self.shut = true;
        }
        // Read everything allowed (zero-copy), checking each byte.
        loop {
            let got = self.c.peek();
            if got.is_empty() {
                break;
            }
            let n = match self.read_budget {
                Some(_) => got.len().min(self.budget_left),
                None => got.len(),
            };
            if n == 0 {
                break;
            }
            let got = &got[..n];
            pattern_pieces(self.dir ^ 1, self.received, n, |off, p| {
                assert!(
                    got[off..off + p.len()] == *p,
                    "bytes {}.. of direction {} differ",
                    self.received + off,
                    self.dir ^ 1
                );
            });
            self.c.consume(n);
            self.received += n;
            self.budget_left -= n.min(self.budget_left);
        }
    }
}

struct Outcome {
    time: Nanos,
    steps: u64,
    retransmits: u64,
    timeouts: u64,
    recoveries: u64,
    drops: u64,
}

/// Runs one transfer of `bytes` each way; panics on any mismatch or if a bound is hit.
fn run(cfg: &TcpConfig, link: LinkCfg, bytes: usize, seed: u64) -> Outcome {
    run_with_reader(cfg, link, bytes, seed, None, None)
}

/// [`run`] with the server's application reading at most `read_budget` bytes per 10 ms.
fn run_with_reader(
    cfg: &TcpConfig,
    link: LinkCfg,
    bytes: usize,
    seed: u64,
    read_budget: Option<usize>,
    iss: Option<(u32, u32)>,
) -> Outcome {
    const TICK: Nanos = Nanos::from_millis(10);
    let mut next_tick = TICK;
    let mut rng = SplitMix64::new(seed);
    let mut ab = Link::new(link);
    let mut ba = Link::new(link);
    let pa = ConnParams {
        local_port: 40000,
        remote_port: 80,
        iss: SeqNumber(rng.next_u64() as u32),
        ts_offset: rng.next_u64() as u32,
        mtu: 1500,
        local_destination: true,
    };
    let pb = ConnParams {
        local_port: 80,
        remote_port: 40000,
        iss: SeqNumber(rng.next_u64() as u32),
        ts_offset: rng.next_u64() as u32,
        mtu: 1500,
        local_destination: true,
    };
    let (mut pa, mut pb) = (pa, pb);
    if let Some((x, y)) = iss {
        (pa.iss, pb.iss) = (SeqNumber(x), SeqNumber(y));
    }
    let mut now = Nanos::ZERO;
    let mut a = End {
        c: Connection::connect(cfg, pa, now),
        dir: 0,
        sent: 0,
        received: 0,
        total: bytes,
        shut: false,
        read_budget: None,
        budget_left: 0,
    };
    let mut b: Option<End> = None;
    let mut buf = vec![0u8; 2048];
    let mut chunk = vec![0u8; 16 * 1024];
    let max_time = Nanos::from_secs(1200);
    let max_steps = 3_000_000u64;
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < max_steps, "step bound hit at {now:?}");
        assert!(
            now < max_time,
            "time bound hit; a {:?} b {:?}",
            a.c.stats(),
            b.as_ref().map(|b| b.c.stats())
        );
        // Deliver.
        for p in ab.due(now) {
            match b.as_mut() {
                Some(e) => e.c.on_segment(now, &p.repr, &p.payload),
                None => {
                    assert!(p.repr.flags.contains(Flags::SYN), "first packet is the SYN");
                    b = Some(End {
                        c: Connection::accept(cfg, pb, now, &p.repr),
                        dir: 1,
                        sent: 0,
                        received: 0,
                        total: bytes,
                        shut: false,
                        read_budget,
                        budget_left: read_budget.unwrap_or(0),
                    });
                }
            }
        }
        for p in ba.due(now) {
            a.c.on_segment(now, &p.repr, &p.payload);
        }
        // Timers.
        for c in [Some(&mut a.c), b.as_mut().map(|e| &mut e.c)]
            .into_iter()
            .flatten()
        {
            if c.next_deadline().is_some_and(|d| d <= now) {
                c.on_timeout(now);
            }
        }
        // Applications.
        if now >= next_tick {
            next_tick = now + TICK;
            if let Some(e) = b.as_mut() {
                e.budget_left = e.read_budget.unwrap_or(0);
            }
        }
        // (A closed connection may still hold bytes to read.)
        let open = |c: &Connection| c.state().is_synchronized() || c.state() == State::Closed;
        if open(&a.c) {
            a.app(&mut chunk);
        }
        if let Some(e) = b.as_mut() {
            if open(&e.c) {
                e.app(&mut chunk);
            }
        }
        // Transmit.
        while let Some(r) = a.c.poll_transmit(now, 1480, &mut buf) {
            ab.send(now, &mut rng, r, &buf[..r.payload_len]);
        }
        if let Some(e) = b.as_mut() {
            while let Some(r) = e.c.poll_transmit(now, 1480, &mut buf) {
                ba.send(now, &mut rng, r, &buf[..r.payload_len]);
            }
        }
        let done = |e: &End| {
            e.received == bytes
                && e.c.is_read_closed()
                && matches!(e.c.state(), State::TimeWait | State::Closed)
        };
        if done(&a) && b.as_ref().is_some_and(done) {
            break;
        }
        for e in [Some(&mut a), b.as_mut()].into_iter().flatten() {
            assert!(
                e.c.error().is_none(),
                "dir {} failed: {:?} {:?}",
                e.dir,
                e.c.error(),
                e.c.stats()
            );
        }
        // Next event.
        let next = [
            ab.next_at(),
            ba.next_at(),
            a.c.next_deadline(),
            b.as_ref().and_then(|e| e.c.next_deadline()),
            read_budget.map(|_| next_tick),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("something to wait for");
        now = next.max(now);
    }
    let b = b.unwrap();
    assert_eq!((a.received, b.received), (bytes, bytes));
    let retransmits = a.c.stats().counters.retransmits + b.c.stats().counters.retransmits;
    let (sa, sb) = (a.c.stats().counters, b.c.stats().counters);
    Outcome {
        time: now,
        steps,
        retransmits,
        timeouts: sa.timeouts + sb.timeouts,
        recoveries: sa.fast_recoveries + sb.fast_recoveries,
        drops: ab.drops + ba.drops,
    }
}

fn link(loss: f64) -> LinkCfg {
    LinkCfg {
        delay: Nanos::from_millis(5),
        jitter: Nanos::from_micros(300),
        rate: 50_000_000 / 8 * 8, // 50 MB/s
        queue: 64 * 1024,
        loss,
        dup: loss / 4.0,
    }
}

fn config(alg: CongestionAlgorithm, options: bool) -> TcpConfig {
    let o = if options {
        Negotiate::Offer
    } else {
        Negotiate::Off
    };
    TcpConfig {
        congestion: alg,
        sack: options,
        timestamps: o,
        window_scaling: o,
        recv_buffer: if options { 256 * 1024 } else { 64_240 },
        send_buffer: 256 * 1024,
        // Short enough to keep lossy runs quick in simulated time.
        min_rto: Nanos::from_millis(200),
        initial_rto: Nanos::from_secs(1),
        data_retries: 12,
        syn_retries: 6,
        ..TcpConfig::default()
    }
}

const MIB: usize = 1 << 20;

#[test]
fn clean_link_transfers_both_ways() {
    for alg in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
        for options in [true, false] {
            // No jitter (no reordering) and a queue that never overflows: nothing is lost, so
            // nothing may be retransmitted.
            let mut l = link(0.0);
            l.jitter = Nanos::ZERO;
            l.queue = 8 * MIB;
            let o = run(&config(alg, options), l, 4 * MIB, 1);
            assert_eq!(
                (o.retransmits, o.drops),
                (0, 0),
                "{alg:?} options {options}"
            );
            // 4 MiB each way over 50 MB/s takes a fraction of a second.
            assert!(
                o.time < Nanos::from_secs(5),
                "{alg:?} {options}: {:?}",
                o.time
            );
            eprintln!(
                "clean {alg:?} options {options}: {:?} {} steps",
                o.time, o.steps
            );
        }
    }
}

#[test]
fn lossy_links_newreno() {
    for (k, loss) in [0.01, 0.05, 0.10].into_iter().enumerate() {
        for options in [true, false] {
            let o = run(
                &config(CongestionAlgorithm::NewReno, options),
                link(loss),
                3 * MIB,
                100 + k as u64,
            );
            assert!(o.retransmits > 0 && o.drops > 0);
            eprintln!(
                "newreno loss {loss} options {options}: {:?} {} steps, {} retransmits, {} timeouts, {} recoveries",
                o.time, o.steps, o.retransmits, o.timeouts, o.recoveries
            );
        }
    }
}

#[test]
fn lossy_links_cubic() {
    for (k, loss) in [0.01, 0.05, 0.10].into_iter().enumerate() {
        for options in [true, false] {
            let o = run(
                &config(CongestionAlgorithm::Cubic, options),
                link(loss),
                3 * MIB,
                200 + k as u64,
            );
            assert!(o.retransmits > 0 && o.drops > 0);
            eprintln!(
                "cubic loss {loss} options {options}: {:?} {} steps, {} retransmits, {} timeouts, {} recoveries",
                o.time, o.steps, o.retransmits, o.timeouts, o.recoveries
            );
        }
    }
}

#[test]
fn congestion_only_losses_from_a_small_queue() {
    // No random loss: drops come only from the drop-tail queue, so the window must adapt.
    let mut l = link(0.0);
    l.queue = 16 * 1024;
    l.rate = 5_000_000;
    for alg in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
        let o = run(&config(alg, true), l, 2 * MIB, 7);
        assert!(o.drops > 0, "{alg:?}: the queue overflowed");
        // 4 MiB through 5 MB/s: at least 0.84 s; a working congestion control stays near it.
        assert!(o.time < Nanos::from_secs(3), "{alg:?}: {:?}", o.time);
    }
}

#[test]
fn many_seeds_small_transfers() {
    // 12 seeds by default; BURST_TCP_SIM_SEEDS=N sweeps more (every seed is a different
    // configuration, link and size).
    let seeds: u64 = std::env::var("BURST_TCP_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    for seed in 0..seeds {
        let mut r = SplitMix64::new(0xabc0 + seed);
        let alg = if r.below(2) == 0 {
            CongestionAlgorithm::NewReno
        } else {
            CongestionAlgorithm::Cubic
        };
        let mut cfg = config(alg, r.below(3) != 0);
        cfg.sack = r.below(4) != 0;
        cfg.nagle = r.below(2) == 0;
        if r.below(3) == 0 {
            cfg.delayed_ack = None;
        }
        if r.below(3) == 0 {
            cfg.recv_buffer = 4_000 + r.below(60_000) as usize;
            cfg.send_buffer = 4_000 + r.below(60_000) as usize;
        }
        let mut l = link(r.below(11) as f64 / 100.0);
        l.jitter = Nanos::from_micros(r.below(5_000));
        l.delay = Nanos::from_micros(100 + r.below(40_000));
        l.queue = 8 * 1024 + r.below(256 * 1024) as usize;
        let bytes = 1 + r.below(512 * 1024) as usize;
        let reader = (r.below(3) == 0).then(|| 1_000 + r.below(50_000) as usize);
        // Drawn last, so the draws above (and the seeds' earlier configurations) stay.
        if r.below(4) == 0 {
            cfg.loss_detection = LossDetection::DupAck;
        }
        cfg.tlp = r.below(4) != 0;
        cfg.undo = r.below(4) != 0;
        let o = run_with_reader(&cfg, l, bytes, 1000 + seed, reader, None);
        if seeds > 12 {
            eprintln!("seed {seed}: {:?} {} retransmits", o.time, o.retransmits);
        }
    }
}

#[test]
fn slow_reader_closes_and_reopens_the_window() {
    // The server reads 20 kB per 10 ms (2 MB/s) from a 64 kB buffer: its window closes again
    // and again; persist probes and window updates keep the transfer going.
    for alg in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
        let mut cfg = config(alg, false);
        cfg.recv_buffer = 64_240;
        let o = run_with_reader(&cfg, link(0.01), 2 * MIB, 9, Some(20_000), None);
        // 2 MiB at 2 MB/s: about a second; the reader, not the network, sets the pace.
        assert!(
            (Nanos::from_millis(1000)..Nanos::from_secs(4)).contains(&o.time),
            "{alg:?}: {:?}",
            o.time
        );
    }
}

#[test]
fn sequence_numbers_wrap_mid_transfer() {
    // Both ISNs just below 2^32: every comparison crosses the wrap within the first segments.
    for options in [true, false] {
        let cfg = config(CongestionAlgorithm::Cubic, options);
        let iss = Some((u32::MAX - 3000, u32::MAX - 100_000));
        run_with_reader(&cfg, link(0.03), MIB, 77, None, iss);
    }
}

#[test]
fn rack_recovers_faster_than_duplicate_acks_under_loss() {
    // The same links, seeds and transfers with RACK-TLP (the default) and with RFC 6675
    // duplicate-ACK detection: RACK finds lost retransmissions and tail losses without the
    // RTO, so it finishes sooner in total and times out less.
    let rack = config(CongestionAlgorithm::Cubic, true);
    let dupack = TcpConfig {
        loss_detection: LossDetection::DupAck,
        ..rack.clone()
    };
    let (mut t_rack, mut t_dup) = (Nanos::ZERO, Nanos::ZERO);
    let (mut rto_rack, mut rto_dup) = (0, 0);
    for (k, loss) in [0.01, 0.03, 0.05, 0.10].into_iter().enumerate() {
        for seed in 0..3u64 {
            let seed = 300 + 10 * k as u64 + seed;
            let r = run(&rack, link(loss), MIB, seed);
            let d = run(&dupack, link(loss), MIB, seed);
            eprintln!(
                "loss {loss} seed {seed}: rack {:?} ({} timeouts), dupack {:?} ({} timeouts)",
                r.time, r.timeouts, d.time, d.timeouts
            );
            t_rack += r.time;
            t_dup += d.time;
            rto_rack += r.timeouts;
            rto_dup += d.timeouts;
        }
    }
    eprintln!(
        "total: rack {t_rack:?} ({rto_rack} timeouts), dupack {t_dup:?} ({rto_dup} timeouts)"
    );
    assert!(t_rack < t_dup, "{t_rack:?} < {t_dup:?}");
    assert!(rto_rack < rto_dup, "{rto_rack} < {rto_dup}");
}

#[test]
fn at_a_lab_rtt_rack_keeps_the_rate_under_loss() {
    // Issue 21's lab in simulation: RTT 0.1 ms, 1 Gbit/s, random loss both ways, the seeds'
    // 300 ms minimum RTO. With duplicate-ACK detection every lost retransmission and lost tail
    // costs an RTO (3000 round trips); RACK-TLP repairs them within a few round trips.
    let mut l = link(0.0);
    l.delay = Nanos::from_micros(50);
    l.jitter = Nanos::from_micros(5);
    l.rate = 125_000_000;
    l.queue = MIB;
    l.dup = 0.0;
    let rack = TcpConfig {
        min_rto: Nanos::from_millis(300),
        ..config(CongestionAlgorithm::Cubic, true)
    };
    let dupack = TcpConfig {
        loss_detection: LossDetection::DupAck,
        ..rack.clone()
    };
    for (k, loss) in [0.03, 0.05].into_iter().enumerate() {
        l.loss = loss;
        let mbps = |o: &Outcome| (2.0 * 8.0 * MIB as f64 / 1e6) / (o.time.0 as f64 / 1e9);
        let r = run(&rack, l, 2 * MIB, 400 + k as u64);
        let d = run(&dupack, l, 2 * MIB, 400 + k as u64);
        eprintln!(
            "loss {loss}: rack {:.0} Mbit/s each way ({} timeouts), dupack {:.0} Mbit/s ({} timeouts)",
            mbps(&r),
            r.timeouts,
            mbps(&d),
            d.timeouts
        );
        assert!(mbps(&r) > 4.0 * mbps(&d), "loss {loss}");
        assert!(r.timeouts < d.timeouts, "loss {loss}");
    }
}
