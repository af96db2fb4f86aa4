//! Byte-exact bulk transfers both ways, clean and under loss, with NewReno and CUBIC.

use crate::lab::*;

/// One end of a bulk transfer: sends `total` pattern bytes, checks `total` received ones.
struct End {
    node_b: bool,
    worker: usize,
    h: SocketHandle,
    sent: u64,
    received: u64,
    shut: bool,
    closed: bool,
}

impl End {
    /// Sends what fits, reads and checks what arrived; true once both directions are done.
    fn pump(&mut self, l: &mut Lab, total: u64, chunk: &mut [u8]) -> bool {
        if self.closed {
            return true;
        }
        let node = if self.node_b { &mut l.b } else { &mut l.a };
        let tcp = node.workers[self.worker].tcp();
        while self.sent < total {
            let room = tcp.send_capacity(self.h).unwrap();
            if room == 0 {
                break;
            }
            let n = room.min(chunk.len()).min((total - self.sent) as usize);
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = pattern(self.sent + i as u64);
            }
            let took = tcp.send(self.h, &chunk[..n]).unwrap();
            self.sent += took as u64;
            if took < n {
                break;
            }
        }
        if self.sent == total && !self.shut {
            tcp.shutdown_write(self.h).unwrap();
            self.shut = true;
        }
        loop {
            let n = tcp.recv(self.h, chunk).unwrap();
            if n == 0 {
                break;
            }
            for (i, &b) in chunk[..n].iter().enumerate() {
                let at = self.received + i as u64;
                assert_eq!(b, pattern(at), "byte {at} corrupted");
            }
            self.received += n as u64;
            assert!(self.received <= total, "more bytes than sent");
        }
        if let Some(e) = tcp.error(self.h).unwrap() {
            panic!(
                "connection failed: {e:?} after {} sent, {} received",
                self.sent, self.received
            );
        }
        let done = self.received == total && self.shut && tcp.is_read_closed(self.h).unwrap();
        if done && !self.closed {
            tcp.close(self.h).unwrap();
            self.closed = true;
        }
        done
    }
}

/// Transfers `sim_bytes()` each way between the two nodes at once and checks every byte.
fn bulk(cc: CongestionAlgorithm, imp: Impairments, workers: (usize, usize), seed: u64) {
    let total = sim_bytes();
    let mut l = lab(Opts {
        workers_a: workers.0,
        workers_b: workers.1,
        stack_a: bulk_stack(cc),
        stack_b: bulk_stack(cc),
        seed,
        ..Opts::default()
    });
    let listeners: Vec<_> =
        l.b.workers
            .iter_mut()
            .map(|w| w.tcp().listen(None, BULK_PORT, 16).unwrap())
            .collect();
    // Impairments start after the setup (DAD, ARP).
    l.wire.set_all_impairments(imp);
    let start = l.now();
    let client_worker = workers.0 - 1;
    let h = l.a.workers[client_worker]
        .tcp_connect(start, (IP_B, BULK_PORT))
        .unwrap();
    let mut client = End {
        node_b: false,
        worker: client_worker,
        h,
        sent: 0,
        received: 0,
        shut: false,
        closed: false,
    };
    let mut server: Option<End> = None;
    let mut chunk = vec![0u8; 256 << 10];
    // Even 10 % loss moves well over 100 KB/s of simulated time here.
    let limit = Nanos::from_secs(60 + total / 50_000);
    l.run_until("bulk transfer", limit, 50_000_000, |l| {
        if server.is_none() {
            for (w, &lh) in listeners.iter().enumerate() {
                if let Some(sh) = l.b.workers[w].tcp().accept(lh) {
                    server = Some(End {
                        node_b: true,
                        worker: w,
                        h: sh,
                        sent: 0,
                        received: 0,
                        shut: false,
                        closed: false,
                    });
                }
            }
        }
        let c = client.pump(l, total, &mut chunk);
        let s = server
            .as_mut()
            .is_some_and(|s| s.pump(l, total, &mut chunk));
        c && s
    });
    let elapsed = l.now() - start;
    let rate = total as f64 * 2.0 / (elapsed.0 as f64 / 1e9) / 1e6;
    let (ra, rb) = (
        counter(&l.a, "tcp.retrans_segs"),
        counter(&l.b, "tcp.retrans_segs"),
    );
    eprintln!(
        "bulk {cc:?} loss {} workers {workers:?}: {total} B each way in {:.2} s simulated \
         ({rate:.1} MB/s both ways), retransmitted {ra} + {rb} segments",
        imp.loss,
        elapsed.0 as f64 / 1e9
    );
    if std::env::var("BURST_TCP_SIM_DEBUG").is_ok() {
        for (name, node) in [("A", &l.a), ("B", &l.b)] {
            for w in &node.workers {
                for (n, v) in w.shared_stats().snapshot() {
                    if v != 0 {
                        eprintln!("{name} {n} = {v}");
                    }
                }
            }
        }
        eprintln!("wire {:?}", l.wire.total_counters());
    }
    if imp.loss > 0.0 {
        assert!(ra > 0 && rb > 0, "loss without retransmissions");
    }
    // Both closed: the FIN exchange completes, TIME-WAIT (30 s here) expires, nothing is left.
    l.wire.set_all_impairments(Impairments::NONE);
    l.run_for(Nanos::from_secs(35));
    assert_eq!(held(&mut l.a), 0, "node 1 leaked connections");
    assert_eq!(held(&mut l.b), 0, "node 2 leaked connections");
    assert_eq!(counter(&l.a, "tcp.curr_estab"), 0);
    assert_eq!(counter(&l.a, "tcp.conns_freed"), 1);
    assert_eq!(counter(&l.b, "tcp.conns_freed"), 1);
    assert_eq!(counter(&l.a, "tcp.estab_resets"), 0);
    assert_eq!(counter(&l.b, "tcp.estab_resets"), 0);
    assert_eq!(counter(&l.a, "tcp.in_csum_errors"), 0);
    assert_eq!(counter(&l.b, "tcp.in_csum_errors"), 0);
    // Super-segments went out, and the wire only ever carried MTU-sized frames: a longer
    // one would be dropped at the receiver (its MTU is 1500) and counted.
    assert!(counter(&l.a, "tcp.tso_out") > 0, "no super-segments sent");
    assert!(counter(&l.b, "tcp.tso_out") > 0, "no super-segments sent");
    let w = l.wire.total_counters();
    assert_eq!(
        w.dropped_rx_oversize + w.dropped_mtu,
        0,
        "oversized frames on the wire"
    );
    l.finish();
}

/// Loss plus reordering, duplication and delay.
fn impaired(loss: f64) -> Impairments {
    Impairments {
        loss,
        duplicate: if loss > 0.0 { 0.01 } else { 0.0 },
        reorder: if loss > 0.0 { 0.02 } else { 0.0 },
        reorder_delay: Nanos::from_micros(1500),
        delay: Nanos::from_millis(1),
        jitter: Nanos::from_micros(100),
        ..Impairments::NONE
    }
}

#[test]
fn bulk_clean_newreno() {
    bulk(CongestionAlgorithm::NewReno, impaired(0.0), (1, 1), 1);
}

#[test]
fn bulk_clean_cubic_two_workers() {
    bulk(CongestionAlgorithm::Cubic, impaired(0.0), (2, 2), 2);
}

#[test]
fn bulk_loss_1pct_newreno() {
    bulk(CongestionAlgorithm::NewReno, impaired(0.01), (1, 2), 3);
}

#[test]
fn bulk_loss_1pct_cubic() {
    bulk(CongestionAlgorithm::Cubic, impaired(0.01), (2, 1), 4);
}

#[test]
fn bulk_loss_5pct_newreno() {
    bulk(CongestionAlgorithm::NewReno, impaired(0.05), (1, 1), 5);
}

#[test]
fn bulk_loss_5pct_cubic() {
    bulk(CongestionAlgorithm::Cubic, impaired(0.05), (2, 2), 6);
}

#[test]
fn bulk_loss_10pct_newreno() {
    bulk(CongestionAlgorithm::NewReno, impaired(0.10), (2, 1), 7);
}

#[test]
fn bulk_loss_10pct_cubic() {
    bulk(CongestionAlgorithm::Cubic, impaired(0.10), (1, 2), 8);
}

// ---------------------------------------------------------------------------------------------
// Timers, floods, exhaustion, ICMP
// ---------------------------------------------------------------------------------------------
