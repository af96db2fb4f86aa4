//! Workers: answering requests and pending queues against the control.

use super::*;

#[test]
fn answer_request_replies_only_for_our_addresses() {
    let our = [(OUR_IP, OUR_MAC)];
    let req = wire(Repr::request(H1_MAC, H1, OUR_IP));
    let reply = answer_request(&our, &req).unwrap();
    assert_eq!(reply, Repr::reply(OUR_MAC, OUR_IP, H1_MAC, H1));
    assert_eq!(wire(reply).operation, Operation::REPLY);
    assert_eq!(
        answer_request(&our, &wire(Repr::request(H1_MAC, H1, H2))),
        None
    );
    assert_eq!(
        answer_request(&our, &wire(Repr::reply(H1_MAC, H1, OUR_MAC, OUR_IP))),
        None
    );
    // Our own request looped back, or a broadcast sender: no answer.
    assert_eq!(
        answer_request(&our, &wire(Repr::gratuitous(OUR_MAC, OUR_IP))),
        None
    );
    let bcast = Repr::request(MacAddr::BROADCAST, H1, OUR_IP);
    assert_eq!(answer_request(&our, &wire(bcast)), None);
    // Another host's DAD announcement or probe for our address is answered: that is how it
    // learns the address is taken.
    let dad = answer_request(&our, &wire(Repr::gratuitous(DEFENDER, OUR_IP))).unwrap();
    assert_eq!(dad, Repr::reply(OUR_MAC, OUR_IP, DEFENDER, OUR_IP));
    let probe = answer_request(&our, &wire(Repr::probe(DEFENDER, OUR_IP))).unwrap();
    assert_eq!(probe.target_protocol_addr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(probe.target_hardware_addr, DEFENDER);
}

/// A worker's side of one neighbour: pushes `n` packets, asking the control when told to.
fn worker_push(
    q: &mut PendingQueues<u32>,
    c: &mut ArpControl,
    f: &mut Fake,
    ip: Ipv4Addr,
    n: u32,
    now: Nanos,
) -> (u32, u32) {
    let (mut asked, mut refused) = (0, 0);
    for i in 0..n {
        match q.push(P0, ip, i, now) {
            Ok(Queued::AskResolve) => {
                asked += 1;
                c.resolve(P0, ip, now, f);
            }
            Ok(Queued::Waiting) => {}
            Err(b) => {
                assert_eq!(b, i);
                refused += 1;
            }
        }
    }
    (asked, refused)
}

#[test]
fn pending_packets_drain_on_resolution_and_drop_on_failure() {
    for (per, want_refused) in [(1usize, 19u32), (16, 4)] {
        let cfg = ArpConfig {
            pending_per_neighbor: per,
            ..ArpConfig::default()
        };
        let (mut c, mut f) = ready(cfg.clone());
        let mut q = PendingQueues::<u32>::from_config(&cfg);
        let (asked, refused) = worker_push(&mut q, &mut c, &mut f, H1, 20, s(10));
        assert_eq!((asked, refused), (1, want_refused), "per {per}");
        assert_eq!(q.stats().overflow_neighbor, u64::from(want_refused));
        assert_eq!(q.pending(P0, H1), per);
        let reply = wire(Repr::reply(H1_MAC, H1, OUR_MAC, OUR_IP));
        c.on_arp(P0, &reply, ms(10_001), &mut f);
        let mut sent = Vec::new();
        for ev in f.take() {
            if let Ev::Resolved(port, ip, mac) = ev {
                assert_eq!(mac, H1_MAC);
                sent.extend(q.take(port, ip));
            }
        }
        assert_eq!(sent, (0..per as u32).collect::<Vec<_>>());
        assert!(q.is_empty());

        // H2 never answers: after the failure its packets come back for ICMP errors.
        worker_push(&mut q, &mut c, &mut f, H2, 3, s(20));
        let mut dropped = Vec::new();
        let mut now = s(20);
        for _ in 0..10 {
            let next = c.poll(now, &mut f);
            for ev in f.take() {
                if let Ev::Failed(port, ip) = ev {
                    dropped.extend(q.drop_failed(port, ip));
                }
            }
            match next {
                Some(t) if t < s(100) => now = t,
                _ => break,
            }
        }
        assert_eq!(now, s(27));
        assert_eq!(dropped, (0..3.min(per as u32)).collect::<Vec<_>>());
        assert!(q.is_empty());
    }
}
