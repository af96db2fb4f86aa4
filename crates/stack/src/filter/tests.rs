use core::net::Ipv4Addr;

use burst_wire::ipv4::Protocol;
use burst_wire::tcp::Flags;

use super::*;
use crate::PortId;
use burst_wire::tcp::{self, SeqNumber};
use burst_wire::{icmpv4, ipv4, udp, ChecksumMode};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 10);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 20);
const C: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 30);
const P0: PortId = PortId(0);
const P1: PortId = PortId(1);
use Direction::{In, Out};

fn ip_header(r: &ipv4::Repr, buf: &mut [u8]) {
    r.emit(&mut ipv4::Packet::new_unchecked(buf), ChecksumMode::Compute);
}

fn tcp_seg(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, flags: Flags) -> Vec<u8> {
    let t = tcp::Repr {
        src_port: sport,
        dst_port: dport,
        seq: SeqNumber(1000),
        ack_number: SeqNumber(if flags.contains(Flags::ACK) { 77 } else { 0 }),
        flags,
        reserved: 0,
        window: 65535,
        urgent: 0,
        options: tcp::Options::EMPTY,
        payload_len: 4,
    };
    let ip = ipv4::Repr::new(src, dst, Protocol::TCP, t.buffer_len(), 64);
    let mut d = vec![0u8; ip.buffer_len()];
    let hl = ip.header_len();
    t.emit(
        &mut tcp::Packet::new_unchecked(&mut d[hl..]),
        src,
        dst,
        ChecksumMode::Compute,
    );
    ip_header(&ip, &mut d);
    d
}

fn udp_dgram(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    let u = udp::Repr {
        src_port: sport,
        dst_port: dport,
        payload_len: 12,
    };
    let ip = ipv4::Repr::new(src, dst, Protocol::UDP, u.buffer_len(), 64);
    let mut d = vec![0u8; ip.buffer_len()];
    let hl = ip.header_len();
    u.emit(
        &mut udp::Packet::new_unchecked(&mut d[hl..]),
        src,
        dst,
        ChecksumMode::Compute,
    );
    ip_header(&ip, &mut d);
    d
}

fn icmp_echo(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let msg = icmpv4::Repr::EchoRequest {
        ident: 80,
        seq_no: 80,
        data: b"abcdefgh",
    };
    let mut d = vec![0u8; 20 + msg.buffer_len()];
    let n = crate::icmp::emit(&msg, src, dst, 64, false, &mut d);
    d.truncate(n);
    d
}

/// A GRE (protocol 47) datagram whose first payload bytes look like ports 80 → 80.
fn gre(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let ip = ipv4::Repr::new(src, dst, Protocol(47), 24, 64);
    let mut d = vec![0u8; ip.buffer_len()];
    d[20..24].copy_from_slice(&[0, 80, 0, 80]);
    ip_header(&ip, &mut d);
    d
}

/// Fragment `offset` (bytes) of a UDP datagram, `more` set as asked; a non-first fragment's
/// payload starts with bytes that would read as ports 53 → 53.
fn udp_fragment(offset: u16, more: bool) -> Vec<u8> {
    let mut d = udp_dgram(A, B, 53, 53);
    if offset != 0 {
        d[20..24].copy_from_slice(&[0, 53, 0, 53]);
    }
    let r = ipv4::Repr {
        frag_offset: offset,
        more_frags: more,
        ident: 9,
        ..ipv4::Repr::new(A, B, Protocol::UDP, d.len() - 20, 64)
    };
    ip_header(&r, &mut d);
    d
}

fn rule(s: &str) -> Rule {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn m(s: &str, p: &[u8]) -> bool {
    rule(s).matches(p)
}

#[test]
fn each_field_matches_on_real_packets() {
    let syn = tcp_seg(A, B, 40000, 80, Flags::SYN);
    let u = udp_dgram(A, B, 5353, 53);
    let ping = icmp_echo(A, B);
    let g = gre(A, B);
    // Nothing named: everything.
    for p in [&syn, &u, &ping, &g] {
        assert!(m("deny", p));
    }
    // Prefixes.
    assert!(m("--src 198.18.1.0/24 deny", &syn));
    assert!(!m("--src 198.18.2.0/24 deny", &syn));
    assert!(m("--dst 198.18.2.0/24 deny", &syn));
    assert!(m("--dst 198.18.2.20 deny", &syn), "a bare address is a /32");
    assert!(!m("--dst 198.18.2.21 deny", &syn));
    assert!(m("--src 198.18.0.0/15 --dst 198.18.0.0/15 deny", &u));
    assert!(!m("--dst 198.18.0.0/16 deny", &udp_dgram(A, C, 1, 2)));
    assert!(m("--dst 0.0.0.0/0 deny", &udp_dgram(A, C, 1, 2)));
    // Protocols, by name and number.
    assert!(m("--proto tcp deny", &syn) && !m("--proto tcp deny", &u));
    assert!(m("--proto udp deny", &u) && !m("--proto udp deny", &ping));
    assert!(m("--proto icmp deny", &ping) && !m("--proto icmp deny", &g));
    assert!(m("--proto 47 deny", &g) && m("--proto 6 deny", &syn));
    // Ports and ranges, inclusive at both ends.
    assert!(m("--dport 80 deny", &syn));
    assert!(m("--proto tcp --dport 80 deny", &syn));
    assert!(!m("--proto tcp --dport 81 deny", &syn));
    assert!(m("--sport 40000-40000 deny", &syn));
    assert!(m("--sport 39999-40001 deny", &syn));
    assert!(m("--sport 40000-65535 deny", &syn));
    assert!(m("--sport 1-40000 deny", &syn));
    assert!(!m("--sport 40001-65535 deny", &syn));
    assert!(!m("--sport 1-39999 deny", &syn));
    assert!(m("--proto udp --sport 5353 --dport 53 deny", &u));
    assert!(!m("--proto udp --sport 5353 --dport 54 deny", &u));
    assert!(m("--dport 53 deny", &u), "no --proto: TCP or UDP");
    // Ports never match a protocol without them, even when its bytes look like ports.
    assert!(!m("--dport 80 deny", &g));
    assert!(!m("--sport 0-65535 deny", &ping));
}

#[test]
fn syn_means_a_connection_attempt() {
    let r = rule("--flags syn deny");
    assert!(r.matches(&tcp_seg(A, B, 40000, 80, Flags::SYN)));
    assert!(r.matches(&tcp_seg(A, B, 40000, 80, Flags::SYN.union(Flags::ECE))));
    assert!(!r.matches(&tcp_seg(B, A, 80, 40000, Flags::SYN.union(Flags::ACK))));
    assert!(!r.matches(&tcp_seg(A, B, 40000, 80, Flags::ACK)));
    assert!(!r.matches(&tcp_seg(A, B, 40000, 80, Flags::ACK.union(Flags::PSH))));
    assert!(!r.matches(&tcp_seg(A, B, 40000, 80, Flags::RST)));
    assert!(!r.matches(&udp_dgram(A, B, 40000, 80)));
    assert!(
        rule("--proto tcp --dport 80 --flags syn deny").matches(&tcp_seg(
            A,
            B,
            40000,
            80,
            Flags::SYN
        ))
    );
    assert!(
        !rule("--proto tcp --dport 81 --flags syn deny").matches(&tcp_seg(
            A,
            B,
            40000,
            80,
            Flags::SYN
        ))
    );
}

#[test]
fn only_first_fragments_have_ports() {
    let first = udp_fragment(0, true);
    let later = udp_fragment(1480, true);
    let last = udp_fragment(2960, false);
    let ports = rule("--proto udp --dport 53 deny");
    assert!(ports.matches(&first));
    assert!(!ports.matches(&later), "offset != 0: no ports");
    assert!(!ports.matches(&last));
    assert!(!rule("--sport 53 deny").matches(&later));
    // Rules on addresses and protocol match every fragment.
    for f in [&first, &later, &last] {
        assert!(rule("--proto udp --src 198.18.1.10 deny").matches(f));
    }
    // Also for TCP and the SYN flag: a later fragment whose bytes look like a SYN.
    let mut t = tcp_seg(A, B, 40000, 80, Flags::SYN);
    let r = ipv4::Repr {
        frag_offset: 8,
        ..ipv4::Repr::new(A, B, Protocol::TCP, t.len() - 20, 64)
    };
    ip_header(&r, &mut t);
    assert!(!rule("--flags syn deny").matches(&t));
    assert!(rule("--proto tcp deny").matches(&t));
}

#[test]
fn short_transport_headers_match_no_port_rule_and_never_panic() {
    // Total length leaves 6 bytes of UDP header (the buffer is longer: Ethernet padding).
    let mut u = udp_dgram(A, B, 5353, 53);
    let r = ipv4::Repr::new(A, B, Protocol::UDP, 6, 64);
    ip_header(&r, &mut u);
    assert!(!rule("--dport 53 deny").matches(&u));
    assert!(rule("--proto udp deny").matches(&u));
    // TCP with 19 bytes of header: no flags, no ports.
    let mut t = tcp_seg(A, B, 40000, 80, Flags::SYN);
    let r = ipv4::Repr::new(A, B, Protocol::TCP, 19, 64);
    ip_header(&r, &mut t);
    assert!(!rule("--flags syn deny").matches(&t));
    assert!(!rule("--dport 80 deny").matches(&t));
    // Every prefix of real packets, and headers claiming more than there is.
    let rules = [
        rule("--proto tcp --sport 1-65535 --dport 80 --flags syn deny"),
        rule("--proto udp --dport 53 deny"),
        rule("--src 198.18.0.0/15 deny"),
    ];
    let mut table = FilterTable::new(1, 1);
    for r in rules {
        table.add(P0, In, None, r).unwrap();
    }
    let reader = table.reader();
    let guard = reader.domain().pin();
    for p in [
        tcp_seg(A, B, 40000, 80, Flags::SYN),
        udp_dgram(A, B, 1, 53),
        icmp_echo(A, B),
    ] {
        for n in 0..=p.len() {
            for r in &rules {
                let _ = r.matches(&p[..n]);
            }
            let v = reader.evaluate(P0, In, &p[..n], 0, &guard);
            if n < 20 {
                assert_eq!(v, Verdict::DEFAULT, "too short to be a datagram");
            }
            // A header length beyond the data.
            let mut q = p[..n].to_vec();
            if let Some(b) = q.first_mut() {
                *b = 0x4f;
            }
            let _ = reader.evaluate(P0, In, &q, 0, &guard);
        }
    }
}

#[test]
fn evaluation_order_count_deny_permit_and_default() {
    let mut t = FilterTable::new(2, 1);
    let r = t.reader();
    let g = r.domain().pin();
    let web = tcp_seg(A, B, 40000, 80, Flags::SYN);
    let dns = udp_dgram(A, B, 5353, 53);
    // No rules: permitted, inactive.
    assert!(!r.is_active(P0, In, &g));
    assert_eq!(r.evaluate(P0, In, &web, 0, &g), Verdict::DEFAULT);
    drop(g);

    t.add(P0, In, None, rule("--proto tcp count")).unwrap();
    t.add(P0, In, None, rule("--dport 80 deny")).unwrap();
    t.add(P0, In, None, rule("--proto tcp permit")).unwrap();
    t.add(P0, In, None, rule("count")).unwrap();
    let g = r.domain().pin();
    assert!(r.is_active(P0, In, &g));
    assert!(!r.is_active(P0, Out, &g) && !r.is_active(P1, In, &g));
    assert!(!r.is_active(PortId(7), In, &g), "unknown port: inactive");
    assert_eq!(r.evaluate(PortId(7), In, &web, 0, &g), Verdict::DEFAULT);
    // Count then deny: both hit, the deny decides, the rest is not evaluated.
    assert_eq!(
        r.evaluate(P0, In, &web, 0, &g),
        Verdict {
            permit: false,
            rule: Some(1)
        }
    );
    // TCP to another port: counted, then permitted by rule 2.
    let ssh = tcp_seg(A, B, 40000, 22, Flags::SYN);
    assert_eq!(
        r.evaluate(P0, In, &ssh, 0, &g),
        Verdict {
            permit: true,
            rule: Some(2)
        }
    );
    // UDP: only the last count rule matches; no decisive rule → permitted.
    assert_eq!(
        r.evaluate(P0, In, &dns, 0, &g),
        Verdict {
            permit: true,
            rule: Some(3)
        }
    );
    // Other port and direction: untouched.
    assert_eq!(r.evaluate(P0, Out, &web, 0, &g), Verdict::DEFAULT);
    assert_eq!(r.evaluate(P1, In, &web, 0, &g), Verdict::DEFAULT);
    drop(g);
    let hits: Vec<u64> = t.list().iter().map(|e| e.hits).collect();
    assert_eq!(hits, [2, 1, 1, 1]);

    // Deny first: the count after it is never reached.
    let mut t = FilterTable::new(1, 1);
    t.add(P0, Out, None, rule("deny")).unwrap();
    t.add(P0, Out, None, rule("count")).unwrap();
    let r = t.reader();
    let g = r.domain().pin();
    for _ in 0..3 {
        assert_eq!(
            r.evaluate(P0, Out, &dns, 0, &g),
            Verdict {
                permit: false,
                rule: Some(0)
            }
        );
    }
    drop(g);
    let hits: Vec<u64> = t.list().iter().map(|e| e.hits).collect();
    assert_eq!(hits, [3, 0]);

    // Rules that match nothing: default permit, no hits.
    let mut t = FilterTable::new(1, 1);
    t.add(P0, In, None, rule("--src 198.19.0.0/16 deny"))
        .unwrap();
    let r = t.reader();
    let g = r.domain().pin();
    assert_eq!(r.evaluate(P0, In, &web, 0, &g), Verdict::DEFAULT);
    drop(g);
    assert_eq!(t.list()[0].hits, 0);
}

#[test]
fn hits_are_per_worker_and_summed() {
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<FilterReader>();
    let mut t = FilterTable::new(1, 2);
    t.add(P0, In, None, rule("--proto udp count")).unwrap();
    t.add(P0, In, None, rule("--dport 53 deny")).unwrap();
    let dns = udp_dgram(A, B, 5353, 53);
    let other = udp_dgram(A, B, 5353, 54);
    const N: u64 = 10_000;
    std::thread::scope(|s| {
        for w in 0..2usize {
            let r = t.reader();
            let (dns, other) = (&dns, &other);
            s.spawn(move || {
                for i in 0..N {
                    let g = r.domain().pin();
                    let p = if i % 2 == 0 { dns } else { other };
                    let v = r.evaluate(P0, In, p, w, &g);
                    assert_eq!(v.permit, i % 2 == 1);
                }
            });
        }
    });
    let l = t.list();
    assert_eq!((l[0].hits, l[1].hits), (2 * N, N));
    // The per-worker slots, read through a snapshot.
    let r = t.reader();
    let g = r.domain().pin();
    let set = r.set(&g);
    let e = &set.list(P0, In)[1];
    assert_eq!(
        (e.hits.of(0), e.hits.of(1), e.hits.of(2)),
        (N / 2, N / 2, 0)
    );
    // A worker id beyond the table's counts nothing and does not panic.
    set.evaluate(P0, In, &dns, 9);
    assert_eq!(e.hits.total(), N);
}

#[test]
fn add_insert_delete_and_indices() {
    let mut t = FilterTable::new(2, 1);
    assert_eq!(t.version(), 0);
    assert_eq!(t.add(P1, Out, None, rule("--dport 1 deny")), Ok(0));
    assert_eq!(t.add(P1, Out, None, rule("--dport 3 deny")), Ok(1));
    assert_eq!(t.add(P1, Out, Some(1), rule("--dport 2 deny")), Ok(1));
    assert_eq!(t.add(P1, Out, Some(0), rule("--dport 0 deny")), Ok(0));
    assert_eq!(t.add(P1, Out, Some(4), rule("--dport 4 deny")), Ok(4));
    assert_eq!(
        t.add(P1, Out, Some(6), rule("deny")),
        Err(FilterError::NoSuchIndex { index: 6, len: 5 })
    );
    assert_eq!(
        t.add(PortId(2), In, None, rule("deny")),
        Err(FilterError::NoSuchPort(PortId(2)))
    );
    let bad = Rule {
        proto: Some(1),
        dport: Some(PortRange::single(80)),
        ..Rule::any(Action::Deny)
    };
    assert_eq!(
        t.add(P0, In, None, bad),
        Err(FilterError::Invalid(RuleError::PortsNeedTcpOrUdp(1)))
    );
    assert_eq!(t.version(), 5, "refused changes publish nothing");
    let ports = |t: &FilterTable| -> Vec<u16> {
        t.rules(P1, Out)
            .iter()
            .map(|r| r.dport.unwrap().lo)
            .collect()
    };
    assert_eq!(ports(&t), [0, 1, 2, 3, 4]);
    assert!(t.rules(P1, In).is_empty() && t.rules(P0, Out).is_empty());
    assert_eq!(t.delete(P1, Out, 2), Ok(rule("--dport 2 deny")));
    assert_eq!(ports(&t), [0, 1, 3, 4]);
    assert_eq!(
        t.delete(P1, Out, 4),
        Err(FilterError::NoSuchIndex { index: 4, len: 4 })
    );
    assert_eq!(
        t.delete(P1, In, 0),
        Err(FilterError::NoSuchIndex { index: 0, len: 0 })
    );
    assert_eq!(
        t.delete(PortId(9), In, 0),
        Err(FilterError::NoSuchPort(PortId(9)))
    );
    let l = t.list();
    assert_eq!(
        l.iter()
            .map(|e| (e.port, e.dir, e.index))
            .collect::<Vec<_>>(),
        [(P1, Out, 0), (P1, Out, 1), (P1, Out, 2), (P1, Out, 3)]
    );
    // The workers' view follows.
    let r = t.reader();
    let g = r.domain().pin();
    assert_eq!(r.version(&g), t.version());
    let set = r.set(&g);
    let seen: Vec<u16> = set.rules(P1, Out).map(|r| r.dport.unwrap().lo).collect();
    assert_eq!(seen, [0, 1, 3, 4]);
    assert!(!set.is_empty());
    // Full lists refuse more.
    let mut t = FilterTable::new(1, 1);
    for _ in 0..MAX_RULES {
        t.add(P0, In, None, rule("count")).unwrap();
    }
    assert_eq!(t.add(P0, In, None, rule("count")), Err(FilterError::Full));
    assert_eq!(
        FilterError::NoSuchIndex { index: 6, len: 5 }.to_string(),
        "no rule at index 6 (the list has 5)"
    );
}

#[test]
fn republishing_keeps_hits_and_old_snapshots_stay_readable() {
    let mut t = FilterTable::new(1, 2);
    t.add(P0, In, None, rule("--proto tcp count")).unwrap();
    let r = t.reader();
    let web = tcp_seg(A, B, 40000, 80, Flags::SYN);
    let old = r.domain().pin();
    let v1 = r.set(&old);
    assert_eq!(v1.version(), 1);
    v1.evaluate(P0, In, &web, 0);
    // Insert before it and add after it while a worker still holds version 1.
    t.add(P0, In, Some(0), rule("--proto udp deny")).unwrap();
    t.add(P0, In, None, rule("--dport 80 deny")).unwrap();
    t.add(P0, Out, None, rule("deny")).unwrap();
    assert_eq!(
        v1.evaluate(P0, In, &web, 1),
        Verdict {
            permit: true,
            rule: Some(0)
        },
        "the pinned version is unchanged"
    );
    assert!(!v1.is_active(P0, Out));
    drop(old);
    let g = r.domain().pin();
    assert_eq!(r.version(&g), 4);
    assert_eq!(
        r.evaluate(P0, In, &web, 1, &g),
        Verdict {
            permit: false,
            rule: Some(2)
        }
    );
    drop(g);
    let l = t.list();
    // The count rule moved to index 1 with its two old hits plus the new one.
    assert_eq!(l[1].rule, rule("--proto tcp count"));
    assert_eq!(l.iter().map(|e| e.hits).collect::<Vec<_>>(), [0, 3, 1, 0]);
    // Deleting another rule keeps them too.
    t.delete(P0, In, 0).unwrap();
    assert_eq!(t.list()[0].hits, 3);
}

#[test]
fn parse_and_display_round_trip() {
    for s in [
        "permit",
        "deny",
        "count",
        "--dst 198.18.2.0/24 --proto tcp --dport 80 deny",
        "--src 198.18.0.0/15 --dst 198.18.2.20/32 --proto udp --sport 1000-2000 --dport 53 count",
        "--proto 47 permit",
        "--proto icmp deny",
        "--proto tcp --flags syn deny",
        "--flags syn count",
        "--sport 0-65535 --dport 0 permit",
    ] {
        let r = rule(s);
        assert_eq!(r.to_string(), s);
        assert_eq!(rule(&r.to_string()), r);
    }
    // Other spellings parse to the same rule and print canonically.
    let r = rule("  deny");
    assert_eq!(r, Rule::any(Action::Deny));
    let r = rule("--dport 80 --proto 6 --dst 198.18.2.7/24 deny");
    assert_eq!(
        r.to_string(),
        "--dst 198.18.2.0/24 --proto tcp --dport 80 deny"
    );
    assert_eq!(r.dst, Some("198.18.2.0/24".parse().unwrap()));
    assert_eq!(r.dport, Some(PortRange { lo: 80, hi: 80 }));
    assert_eq!(rule("--sport 7-7 deny").to_string(), "--sport 7 deny");
    assert_eq!(rule("--proto 17 deny").to_string(), "--proto udp deny");
    assert_eq!(
        rule("--dst 198.18.2.9 deny").to_string(),
        "--dst 198.18.2.9/32 deny"
    );
    let r = Rule::from_words(["--proto", "udp", "--sport", "1000-2000", "count"]).unwrap();
    assert_eq!(r.sport, Some(PortRange { lo: 1000, hi: 2000 }));
    assert_eq!(r.action, Action::Count);
    assert_eq!("in".parse::<Direction>(), Ok(In));
    assert_eq!("out".parse::<Direction>(), Ok(Out));
    assert_eq!(
        (In.to_string(), Out.to_string()),
        ("in".into(), "out".into())
    );
}

#[test]
fn every_parse_error_is_clear() {
    let e = |s: &str| s.parse::<Rule>().unwrap_err().to_string();
    assert_eq!(
        e("--foo 1 deny"),
        "unknown option --foo (expected --src, --dst, --proto, --sport, --dport or --flags)"
    );
    assert!(e("-s 198.18.0.0/15 deny").starts_with("unknown option -s "));
    assert_eq!(e("--src"), "--src needs a value");
    assert_eq!(e("--dport"), "--dport needs a value");
    assert_eq!(
        e("--src 198.18.0.300/24 deny"),
        "bad prefix 198.18.0.300/24 (expected a.b.c.d/len)"
    );
    assert_eq!(
        e("--dst 198.18.0.0/33 deny"),
        "bad prefix 198.18.0.0/33 (prefix length 33 is above 32)"
    );
    assert_eq!(
        e("--proto gre deny"),
        "bad protocol gre (expected tcp, udp, icmp or a number 0..=255)"
    );
    assert!(e("--proto 256 deny").starts_with("bad protocol 256 "));
    assert!(e("--proto -1 deny").starts_with("bad protocol -1 "));
    assert_eq!(
        e("--dport 65536 deny"),
        "bad port 65536 (expected N or A-B, ports 0..=65535)"
    );
    assert!(e("--dport 80- deny").starts_with("bad port 80- "));
    assert!(e("--dport -80 deny").starts_with("bad port -80 "));
    assert!(e("--sport http deny").starts_with("bad port http "));
    assert!(e("--sport 1-2-3 deny").starts_with("bad port 1-2-3 "));
    assert_eq!(e("--dport 10-5 deny"), "port range 10-5 is reversed");
    assert_eq!(
        e("--flags ack deny"),
        "bad flags ack (only syn is supported)"
    );
    assert_eq!(e(""), "missing action (permit, deny or count)");
    assert_eq!(e("--proto tcp"), "missing action (permit, deny or count)");
    assert_eq!(
        e("--proto tcp drop"),
        "unknown action drop (expected permit, deny or count)"
    );
    assert_eq!(e("deny --proto tcp"), "unexpected --proto after the action");
    assert_eq!(e("deny permit"), "unexpected permit after the action");
    assert_eq!(
        e("--src 198.18.0.0/16 --src 198.18.0.0/16 deny"),
        "--src given twice"
    );
    assert_eq!(e("--flags syn --flags syn deny"), "--flags given twice");
    assert_eq!(
        e("--proto icmp --dport 80 deny"),
        "port ranges need --proto tcp or udp (or no --proto), not icmp"
    );
    assert_eq!(
        e("--proto udp --flags syn deny"),
        "--flags syn needs --proto tcp (or no --proto), not udp"
    );
    assert_eq!(
        "sideways".parse::<Direction>().unwrap_err().to_string(),
        "bad direction sideways (expected in or out)"
    );
}

#[test]
fn default_reader_permits_everything() {
    let r = FilterReader::default();
    let g = r.domain().pin();
    assert!(!r.is_active(P0, In, &g));
    assert_eq!(
        r.evaluate(P0, In, &udp_dgram(A, B, 1, 2), 0, &g),
        Verdict::DEFAULT
    );
    assert!(format!("{r:?}").contains("version: 0"));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes never make matching or evaluation panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut t = FilterTable::new(1, 1);
            let syn = rule("--proto tcp --sport 1-9 --dport 80 --flags syn count");
            t.add(P0, In, None, syn).unwrap();
            t.add(P0, In, None, rule("--proto udp --dport 53 count")).unwrap();
            t.add(P0, In, None, rule("--src 198.18.0.0/15 --dst 198.18.0.0/15 count")).unwrap();
            let r = t.reader();
            let g = r.domain().pin();
            let v = r.evaluate(P0, In, &bytes, 0, &g);
            prop_assert!(v.permit);
        }
    }
}
