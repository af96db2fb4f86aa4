//! A fragment flood takes only its share of the pool.

use crate::lab::*;

/// The first fragment (offset 0, more fragments) of a 1,028-byte UDP datagram from `src` with
/// identification `id`: what a fragment flood sends, never completed.
fn first_fragment(src: Ipv4Addr, id: u16) -> Vec<u8> {
    let ip = ipv4::Repr {
        ident: id,
        more_frags: true,
        ..ipv4::Repr::new(src, IP_B, Protocol::UDP, 1000, 64)
    };
    let mut d = vec![0u8; ip.buffer_len()];
    d[20..22].copy_from_slice(&9u16.to_be_bytes());
    d[22..24].copy_from_slice(&9u16.to_be_bytes());
    d[24..26].copy_from_slice(&1008u16.to_be_bytes());
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..]),
        ChecksumMode::Compute,
    );
    d
}

/// A flood of never-completed fragments from many sources (so both workers reassemble), sized
/// to fill node 2's whole receive pool; then a TCP connection and data exchange, and a ping.
/// Returns (connected and echoed, ping answered, reassembly refusals for memory, buffers
/// receive found missing).
fn fragment_flood(budget: bool) -> (bool, bool, u64, u64) {
    let mut l = lab(Opts {
        workers_b: 2,
        attacker: true,
        pool_b: Some(512),
        budget_b: budget,
        ..Opts::default()
    });
    let lh = l.b.workers[0].tcp().listen(None, BULK_PORT, 16);
    let lh1 = l.b.workers[1].tcp().listen(None, BULK_PORT, 16);
    let (lh, lh1) = (lh.unwrap(), lh1.unwrap());
    for i in 0..1500u16 {
        let src = Ipv4Addr::new(198, 18, 0, 100 + (i % 100) as u8);
        l.inject(MAC_B, &first_fragment(src, i));
        if i % 32 == 31 {
            l.settle();
        }
    }
    l.run_for(Nanos::from_millis(100));
    // A client connects, sends, is read on whichever worker took the connection.
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, BULK_PORT)).unwrap();
    let mut server = None;
    let mut got = Vec::new();
    let mut sent = false;
    let mut tries = 0u32;
    let ok = loop {
        l.settle();
        if server.is_none() {
            server = l.b.workers[0]
                .tcp()
                .accept(lh)
                .map(|s| (0, s))
                .or_else(|| l.b.workers[1].tcp().accept(lh1).map(|s| (1, s)));
        }
        if !sent && l.a.workers[0].tcp().state(h) == Ok(State::Established) {
            l.a.workers[0].tcp().send(h, b"through the flood").unwrap();
            sent = true;
        }
        if let Some((w, s)) = server {
            let mut buf = [0u8; 64];
            let n = l.b.workers[w].tcp().recv(s, &mut buf).unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
        }
        if got == b"through the flood" {
            break true;
        }
        tries += 1;
        if tries > 20_000 || l.now() > now + Nanos::from_secs(10) {
            break false;
        }
        l.advance();
    };
    // A ping from node 1.
    let rx = Lab::request(
        &mut l.a,
        Request::Ping {
            dst: IP_B,
            count: 1,
            size: 8,
            dont_frag: false,
            ttl: None,
            timeout_ms: 2000,
            interval_ms: 0,
        },
    );
    l.run_for(Nanos::from_millis(2500));
    let answered = rx.try_iter().any(|r| {
        matches!(
            r,
            Response::Echo {
                outcome: burst_runtime::ctl::EchoOutcome::Reply { .. },
                ..
            }
        )
    });
    let refused = counter(&l.b, "frag.drop_memory");
    let nombuf = l.b.control.port_stats(0).rx_nombuf;
    l.finish();
    (ok, answered, refused, nombuf)
}

#[test]
fn a_fragment_flood_fills_only_its_share_of_the_pool() {
    // With the budget: reassembly refuses beyond its share, counted, and the node still
    // accepts a connection, carries data and answers a ping.
    let (ok, answered, refused, nombuf) = fragment_flood(true);
    assert!(ok, "TCP through the flood");
    assert!(answered, "ping through the flood");
    assert!(refused > 0, "refusals counted");
    assert_eq!(nombuf, 0, "receive never ran out of buffers");
    // Without it (each part bounded only by its own default), the same flood takes the pool:
    // receive runs dry.
    let (ok, answered, _, nombuf) = fragment_flood(false);
    assert!(
        nombuf > 0 && !ok && !answered,
        "without a budget the flood starves receive ({nombuf} buffers missed)"
    );
}
