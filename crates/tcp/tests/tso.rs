//! TCP segmentation offload in the engine: a super-segment from `poll_transmit_tso`, cut into
//! pieces the way a NIC (or the port layer's software TSO) does, must be exactly the segments
//! `poll_transmit` sends one by one, and leave the same state behind.

mod common;

use burst_port::Nanos;
use burst_tcp::{ConnParams, ConnStats, Connection, Negotiate, TcpConfig};
use burst_wire::tcp::{Flags, Options, Repr, SackBlocks, SeqNumber};
use common::*;

/// Cuts a super-segment into `segsz`-byte pieces as TSO does: sequence number advanced, the
/// same options, ACK and window on every piece, PSH (and FIN) on the last one only.
fn cut(r: &Repr, payload: &[u8], segsz: u16) -> Vec<(Repr, Vec<u8>)> {
    if segsz == 0 {
        return vec![(*r, payload.to_vec())];
    }
    let chunks: Vec<&[u8]> = payload.chunks(usize::from(segsz)).collect();
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut p = *r;
            p.seq = r.seq + i * usize::from(segsz);
            p.payload_len = c.len();
            if i != last {
                p.flags.remove(Flags::PSH | Flags::FIN);
            }
            (p, c.to_vec())
        })
        .collect()
}

/// Every counter but the one that tells the two modes apart.
fn state(c: &Connection) -> ConnStats {
    let mut s = c.stats();
    s.counters.tso_segments = 0;
    s
}

/// Two connections (A sends bulk data to B) on a lossless, zero-delay link; A's output goes
/// through `poll_transmit_tso(max_segs)` and is cut into pieces. The `drop`-th data pieces
/// A sends (counting from 0) are lost.
struct World {
    a: Connection,
    b: Connection,
    now: Nanos,
    max_segs: u16,
    buf: Vec<u8>,
    /// Every piece A put on the wire.
    wire: Vec<(Repr, Vec<u8>)>,
    data_pieces: usize,
    drop: Vec<usize>,
    sent: usize,
    received: Vec<u8>,
    supers: usize,
}

impl World {
    fn new(cfg: &TcpConfig, max_segs: u16, drop: &[usize]) -> World {
        let a = Connection::connect(cfg, params(ISS), Nanos::ZERO);
        let mut w = World {
            b: a.clone(),
            a,
            now: Nanos::ZERO,
            max_segs,
            buf: vec![0; 65536],
            wire: Vec::new(),
            data_pieces: 0,
            drop: drop.to_vec(),
            sent: 0,
            received: Vec::new(),
            supers: 0,
        };
        let (syn, _) =
            w.a.poll_transmit_tso(w.now, 1480, max_segs, &mut w.buf)
                .unwrap();
        let pb = ConnParams {
            local_port: REMOTE,
            remote_port: LOCAL,
            ..params(IRS)
        };
        w.b = Connection::accept(cfg, pb, w.now, &syn);
        w.exchange();
        w
    }

    /// A's pieces to B (each answered at once), then B's segments to A, until both are
    /// quiet.
    fn exchange(&mut self) {
        for _ in 0..1000 {
            let mut to_b = Vec::new();
            let mut a_sent = false;
            while let Some((r, segsz)) =
                self.a
                    .poll_transmit_tso(self.now, 1480, self.max_segs, &mut self.buf)
            {
                if segsz > 0 {
                    self.supers += 1;
                    assert!(r.payload_len > usize::from(segsz));
                }
                a_sent = true;
                to_b.extend(cut(&r, &self.buf[..r.payload_len], segsz));
            }
            let mut to_a = Vec::new();
            for (r, p) in to_b {
                assert!(p.len() <= 1460, "piece larger than the MSS");
                self.wire.push((r, p.clone()));
                if !p.is_empty() {
                    self.data_pieces += 1;
                    if self.drop.contains(&(self.data_pieces - 1)) {
                        continue;
                    }
                }
                self.b.on_segment(self.now, &r, &p);
                while let Some(r) = self.b.poll_transmit(self.now, 1480, &mut self.buf) {
                    to_a.push((r, self.buf[..r.payload_len].to_vec()));
                }
            }
            for (r, p) in &to_a {
                self.a.on_segment(self.now, r, p);
            }
            let mut chunk = [0u8; 4096];
            loop {
                let n = self.b.recv(&mut chunk);
                if n == 0 {
                    break;
                }
                self.received.extend_from_slice(&chunk[..n]);
            }
            if to_a.is_empty() && !a_sent {
                return;
            }
        }
        panic!("no quiet point");
    }

    /// Queues what fits of `total` bytes of a pattern.
    fn write(&mut self, total: usize) {
        let data: Vec<u8> = (self.sent..total).map(|i| (i % 251) as u8).collect();
        self.sent += self.a.send(&data);
    }

    /// Runs `total` bytes from A to B in 10 ms steps.
    fn run(&mut self, total: usize) {
        for _ in 0..20_000 {
            self.write(total);
            self.exchange();
            if self.received.len() == total {
                return;
            }
            self.now += ms(10);
            if self.a.next_deadline().is_some_and(|d| d <= self.now) {
                self.a.on_timeout(self.now);
            }
            if self.b.next_deadline().is_some_and(|d| d <= self.now) {
                self.b.on_timeout(self.now);
            }
        }
        panic!(
            "transfer did not finish: {} of {total}",
            self.received.len()
        );
    }
}

fn bulk_cfg(sack: bool, ts: bool, nagle: bool) -> TcpConfig {
    TcpConfig {
        sack,
        timestamps: if ts { Negotiate::Offer } else { Negotiate::Off },
        nagle,
        recv_buffer: 256 << 10,
        send_buffer: 256 << 10,
        ..TcpConfig::default()
    }
}

/// The same transfer one segment at a time and with super-segments: the same pieces on the
/// wire, the same state and counters afterwards.
fn same_as_one_by_one(cfg: &TcpConfig, total: usize, drop: &[usize]) {
    let mut one = World::new(cfg, 1, drop);
    let mut tso = World::new(cfg, 44, drop);
    one.run(total);
    tso.run(total);
    assert_eq!(one.supers, 0);
    assert!(tso.supers > 0, "no super-segments");
    assert_eq!(one.wire.len(), tso.wire.len());
    for (i, (x, y)) in one.wire.iter().zip(&tso.wire).enumerate() {
        assert_eq!(x, y, "piece {i} differs");
    }
    assert_eq!(state(&one.a), state(&tso.a));
    assert_eq!(state(&one.b), state(&tso.b));
    assert_eq!(one.a.next_deadline(), tso.a.next_deadline());
    assert_eq!(tso.a.counters().tso_segments as usize, tso.supers);
    if !drop.is_empty() {
        assert!(tso.a.counters().retransmits >= drop.len() as u64);
    }
    let want: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    assert_eq!(tso.received, want);
}

#[test]
fn super_segments_equal_one_by_one_clean() {
    for (sack, ts, nagle) in [
        (true, true, true),
        (false, false, true),
        (true, false, false),
        (false, true, false),
    ] {
        same_as_one_by_one(&bulk_cfg(sack, ts, nagle), 400_000 + 777, &[]);
    }
}

#[test]
fn super_segments_equal_one_by_one_with_losses() {
    // Single losses in the middle of a super-segment, a burst, and a tail loss.
    let drops = [5, 37, 38, 39, 120, 121, 200, 201, 202, 203, 204, 270];
    for (sack, ts, nagle) in [
        (true, true, true),
        (false, false, true),
        (true, false, false),
    ] {
        same_as_one_by_one(&bulk_cfg(sack, ts, nagle), 400_000 + 333, &drops);
    }
}

/// Established with a peer that offers SACK and a 64240-byte window, cwnd 10 segments.
fn established_sack() -> Harness {
    let cfg = TcpConfig::default();
    let mut h = Harness::client(&cfg);
    h.output().unwrap();
    h.at(ms(100));
    let opts = Options::syn(1460, None, true, None);
    let mut synack = from_peer(IRS, Some(ISS + 1), Flags::SYN | Flags::ACK, 64240);
    synack.options = opts;
    h.input(synack, &[]);
    h.output().unwrap();
    h.expect_none();
    h
}

/// `poll_transmit_tso` with the harness's room and buffer.
fn super_out(h: &mut Harness, max: u16, buf: &mut [u8]) -> Option<(Repr, u16)> {
    let now = h.now;
    let room = h.room;
    h.c.poll_transmit_tso(now, room, max, buf)
}

#[test]
fn loss_of_one_piece_is_recovered_by_retransmitting_exactly_it() {
    let mut h = established_sack();
    h.at(ms(1000));
    let mut buf = vec![0u8; 65536];
    assert_eq!(h.c.send(&[7; 40_000]), 40_000);
    // cwnd (10 segments) bounds the super-segment: ten whole pieces, no PSH (more queued).
    let (r, segsz) = super_out(&mut h, 44, &mut buf).unwrap();
    assert_eq!(
        (r.seq, r.payload_len, segsz),
        (SeqNumber(ISS + 1), 14_600, 1460)
    );
    assert_eq!(r.flags, Flags::ACK);
    assert!(super_out(&mut h, 44, &mut buf).is_none());
    let s = h.c.stats();
    assert_eq!(s.counters.segs_out, 2 + 10);
    assert_eq!(s.counters.tso_segments, 1);
    assert_eq!(s.bytes_in_flight, 14_600);
    // Piece 4 is lost; the peer acknowledges 0–3 and SACKs 5–9 piece by piece.
    let seg = |k: u32| ISS + 1 + k * 1460;
    let sack = |hi: u32| Options::ack(None, Some(SackBlocks::new(&[(seg(5), seg(hi))]).unwrap()));
    h.input(from_peer(IRS + 1, Some(seg(4)), Flags::ACK, 64240), &[]);
    // What the window has room for (in whole pieces) goes out as one new super-segment.
    let s = h.c.stats();
    let fits = (s.cwnd - s.pipe) / 1460 * 1460;
    assert!(fits >= 2 * 1460);
    let (r, segsz) = super_out(&mut h, 44, &mut buf).unwrap();
    assert_eq!((r.seq, segsz), (SeqNumber(seg(10)), 1460));
    assert_eq!(r.payload_len, fits);
    for hi in 6..=8 {
        let mut a = from_peer(IRS + 1, Some(seg(4)), Flags::ACK, 64240);
        a.options = sack(hi);
        h.input(a, &[]);
    }
    // The third duplicate: fast retransmit of exactly the lost piece, as an ordinary segment.
    let (r, segsz) = super_out(&mut h, 44, &mut buf).unwrap();
    assert_eq!((r.seq, r.payload_len, segsz), (SeqNumber(seg(4)), 1460, 0));
    assert_eq!(h.c.stats().counters.retransmits, 1);
    assert_eq!(h.c.stats().counters.bytes_retransmitted, 1460);
    // In recovery, new data goes out one segment at a time.
    while let Some((_, segsz)) = super_out(&mut h, 44, &mut buf) {
        assert_eq!(segsz, 0);
    }
}

#[test]
fn nagle_holds_the_short_last_piece() {
    let mut h = established_sack();
    h.at(ms(1000));
    let mut buf = vec![0u8; 65536];
    h.c.send(&[1; 3 * 1460 + 100]);
    let (r, segsz) = super_out(&mut h, 44, &mut buf).unwrap();
    // Three whole pieces; the 100-byte tail waits for the ACK (Nagle), so no PSH.
    assert_eq!(
        (r.payload_len, segsz, r.flags),
        (3 * 1460, 1460, Flags::ACK)
    );
    assert!(super_out(&mut h, 44, &mut buf).is_none());
    h.input(
        from_peer(IRS + 1, Some(ISS + 1 + 3 * 1460), Flags::ACK, 64240),
        &[],
    );
    let (r, segsz) = super_out(&mut h, 44, &mut buf).unwrap();
    assert_eq!((r.payload_len, segsz), (100, 0));
    assert_eq!(r.flags, Flags::ACK | Flags::PSH);

    // Without Nagle the tail rides as the last piece, with PSH.
    let mut h = established_sack();
    h.c.set_nodelay(true);
    h.c.send(&[1; 3 * 1460 + 100]);
    let (r, segsz) = super_out(&mut h, 44, &mut buf).unwrap();
    assert_eq!((r.payload_len, segsz), (3 * 1460 + 100, 1460));
    assert_eq!(r.flags, Flags::ACK | Flags::PSH);
}

#[test]
fn peer_window_and_max_segs_bound_the_super_segment() {
    let mut h = established_sack();
    let mut buf = vec![0u8; 65536];
    // A 5000-byte window: three whole pieces; the 620 bytes left of it wait (sender SWS
    // avoidance: not a full segment, not half the largest window seen).
    h.input(from_peer(IRS + 1, Some(ISS + 1), Flags::ACK, 5000), &[]);
    h.c.send(&[2; 10_000]);
    let (r, segsz) = super_out(&mut h, 44, &mut buf).unwrap();
    assert_eq!((r.payload_len, segsz), (3 * 1460, 1460));
    assert!(super_out(&mut h, 44, &mut buf).is_none());
    // `max_segs` caps it too; 1 never groups.
    h.input(
        from_peer(IRS + 1, Some(ISS + 1 + 3 * 1460), Flags::ACK, 64240),
        &[],
    );
    let (r, segsz) = super_out(&mut h, 2, &mut buf).unwrap();
    assert_eq!((r.payload_len, segsz), (2 * 1460, 1460));
    let (r, segsz) = super_out(&mut h, 1, &mut buf).unwrap();
    assert_eq!((r.payload_len, segsz), (1460, 0));
}

#[test]
fn the_fin_is_never_in_a_super_segment() {
    let mut h = established_sack();
    let mut buf = vec![0u8; 65536];
    h.c.send(&[3; 4 * 1460]);
    h.c.shutdown_write();
    // The last piece would carry the FIN: it goes on its own.
    let (r, segsz) = super_out(&mut h, 44, &mut buf).unwrap();
    assert_eq!(
        (r.payload_len, segsz, r.flags),
        (3 * 1460, 1460, Flags::ACK)
    );
    let (r, segsz) = super_out(&mut h, 44, &mut buf).unwrap();
    assert_eq!((r.payload_len, segsz), (1460, 0));
    assert_eq!(r.flags, Flags::ACK | Flags::PSH | Flags::FIN);
}
