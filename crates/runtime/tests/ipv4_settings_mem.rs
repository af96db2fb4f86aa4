//! IPv4 and ICMP settings seen in behaviour, not only parsed: each test changes a setting and
//! watches what the node does differently, on the router lab (two ports, hosts A and B, the
//! in-memory wire, virtual clock). Redirect acceptance and lifetime, the multicast TTL, and the
//! path MTU cache used by every sender.

mod common;

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::ctl::{EchoOutcome, Request, Response};
use burst_runtime::node::{NodeConfig, NodeRoute};
use burst_stack::PortId;
use burst_wire::icmpv4;
use burst_wire::ipv4::{self, Protocol};
use burst_wire::ChecksumMode;
use common::router_lab::*;

const FAR: Ipv4Addr = Ipv4Addr::new(198, 19, 3, 4);
const BETTER: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 77);

/// A frame from B to the router carrying ICMP `msg`.
fn icmp_from_b(l: &mut Lab, msg: icmpv4::Repr<'_>) {
    let mut d = vec![0u8; 20 + msg.buffer_len()];
    burst_stack::icmp::emit(&msg, B, Ipv4Addr::new(198, 18, 2, 254), 64, false, &mut d);
    l.send(1, &frame(B_MAC, R_B, &d));
}

/// The first 28 bytes of a datagram the router sent to `FAR` (what an ICMP error quotes).
fn quote(len: usize, df: bool) -> Vec<u8> {
    let ip = ipv4::Repr {
        dont_frag: df,
        ..ipv4::Repr::new(
            Ipv4Addr::new(198, 18, 2, 254),
            FAR,
            Protocol::UDP,
            len - 20,
            64,
        )
    };
    let mut full = vec![0u8; len];
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut full[..]),
        ChecksumMode::Compute,
    );
    full.truncate(28);
    full
}

fn host_routes(l: &mut Lab) -> Vec<(Ipv4Addr, String, String)> {
    let rx = l.request(Request::RoutePrint);
    l.run_for(STEP);
    match rx.try_recv().unwrap() {
        Response::Routes { routes } => routes
            .into_iter()
            .map(|r| (r.network, r.gateway, r.kind))
            .collect(),
        r => panic!("{r:?}"),
    }
}

fn host(tweak: fn(&mut NodeConfig)) -> Lab {
    lab(Opts {
        tweak,
        ..Opts::default()
    })
}

/// A host (`forwarding` off) with `redirects` as given.
fn redirect_lab(enabled: bool, lifetime_s: u64) -> Lab {
    let mut l = host(match (enabled, lifetime_s) {
        (true, 600) => |c: &mut NodeConfig| c.ipv4.forwarding = false,
        (true, _) => |c: &mut NodeConfig| {
            c.ipv4.forwarding = false;
            c.redirects.lifetime = Nanos::from_secs(30);
        },
        (false, _) => |c: &mut NodeConfig| {
            c.ipv4.forwarding = false;
            c.redirects.enabled = false;
        },
    });
    let q = quote(100, false);
    icmp_from_b(
        &mut l,
        icmpv4::Repr::Redirect {
            reason: icmpv4::Redirect::Host,
            gateway: BETTER,
            invoking: &q,
        },
    );
    l.run_for(Nanos::from_millis(50));
    l
}

#[test]
fn accept_redirects_and_redirect_lifetime_change_what_a_redirect_does() {
    // Accepted: a host route to FAR through the better gateway, 10 minutes.
    let mut l = redirect_lab(true, 600);
    let via_better = |r: &[(Ipv4Addr, String, String)]| {
        r.iter()
            .any(|(n, g, k)| *n == FAR && g == "198.18.2.77" && k == "redirect")
    };
    assert!(via_better(&host_routes(&mut l)));
    l.run_for(Nanos::from_secs(40));
    assert!(via_better(&host_routes(&mut l)), "still there after 40 s");
    l.finish();
    // A 30 s lifetime: gone after 40 s.
    let mut l = redirect_lab(true, 30);
    assert!(via_better(&host_routes(&mut l)));
    l.run_for(Nanos::from_secs(40));
    assert!(!via_better(&host_routes(&mut l)), "expired at 30 s");
    l.finish();
    // accept_redirects = false: ignored.
    let mut l = redirect_lab(false, 600);
    assert!(!via_better(&host_routes(&mut l)));
    l.finish();
    // A router (the lab's default) leaves redirects alone when the configuration says "auto".
    let c = burst_runtime::config::Config::parse(
        "[eal]\ncores = 1\n[[port]]\nname = \"a\"\ndevice = \"net_null0\"\naddresses = \
         [\"198.18.1.254/24\"]\n[ipv4]\nforwarding = true\n",
        "t.toml",
    )
    .unwrap();
    assert!(!NodeConfig::from(&c).redirects.enabled);
    let mut c2 = c.clone();
    c2.ipv4.forwarding = false;
    assert!(NodeConfig::from(&c2).redirects.enabled);
    c2.icmp.accept_redirects = Some(false);
    assert!(!NodeConfig::from(&c2).redirects.enabled);
    c2.ipv4.forwarding = true;
    c2.icmp.accept_redirects = Some(true);
    assert!(NodeConfig::from(&c2).redirects.enabled);
}

#[test]
fn multicast_ttl_sets_the_ttl_of_multicast_datagrams_we_send() {
    for (ttl, tweak) in [
        (
            1u8,
            (|c: &mut NodeConfig| multicast_route(c)) as fn(&mut NodeConfig),
        ),
        (5, |c: &mut NodeConfig| {
            multicast_route(c);
            c.ipv4.multicast_ttl = 5;
        }),
    ] {
        let mut l = host(tweak);
        let now = l.now();
        let group = Ipv4Addr::new(239, 9, 9, 9);
        let _ = l.node.workers[0].udp_send(None, 5000, group, 5001, b"hello group", now);
        l.run_for(Nanos::from_millis(20));
        let seen = l.ipv4_seen(0);
        let d = &seen
            .iter()
            .find(|(_, _, d)| d[16..20] == group.octets())
            .expect("the datagram left on a")
            .2;
        assert_eq!(d[8], ttl);
        l.finish();
    }
}

fn multicast_route(c: &mut NodeConfig) {
    c.routes.push(NodeRoute {
        prefix: "224.0.0.0/4".parse().unwrap(),
        via: None,
        port: PortId(0),
        metric: 1,
    });
}

/// A fragmentation-needed from B about our datagram to FAR (MTU 1280) lowers the path MTU;
/// every sender then honours it: `ctl ping -M do` fails locally, as Linux's ping does,
/// and UDP and non-DF pings are fragmented to 1280 instead of the port's 1500.
#[test]
fn the_path_mtu_cache_is_used_by_every_sender() {
    let mut l = host(|_| {});
    let ping = |l: &mut Lab, size: u16, df: bool| {
        let rx = l.request(Request::Ping {
            dst: FAR,
            count: 1,
            size,
            dont_frag: df,
            ttl: None,
            timeout_ms: 300,
            interval_ms: 0,
        });
        l.run_for(Nanos::from_millis(400));
        rx.try_iter().collect::<Vec<Response>>()
    };
    // Before: a 1400-byte DF ping leaves whole (B does not answer; it times out).
    let lines = ping(&mut l, 1400, true);
    assert!(
        lines.iter().any(|r| matches!(
            r,
            Response::Echo {
                outcome: EchoOutcome::Timeout,
                ..
            }
        )),
        "{lines:?}"
    );
    let big_before = l
        .ipv4_seen(1)
        .iter()
        .filter(|(_, _, d)| d.len() == 1428)
        .count();
    assert_eq!(big_before, 1);
    let q = quote(1428, true);
    icmp_from_b(
        &mut l,
        icmpv4::Repr::dst_unreachable(icmpv4::DstUnreachable::FragRequired, 1280, &q),
    );
    l.run_for(Nanos::from_millis(50));
    let now = l.now();
    assert_eq!(l.node.control.path_mtu(FAR, now), Some(1280));
    // The second try fails before leaving, from the cache.
    let lines = ping(&mut l, 1400, true);
    assert!(
        lines.iter().any(|r| matches!(r, Response::Echo { outcome: EchoOutcome::Failed { message }, .. } if message.contains("needs to be fragmented"))),
        "{lines:?}"
    );
    let seen_before = l.ipv4_seen(1).len();
    // Without DF, and for UDP: fragments that fit 1280.
    let _ = ping(&mut l, 1400, false);
    let now = l.now();
    let _ = l.node.workers[0].udp_send(None, 5000, FAR, 9, &[7u8; 1400], now);
    l.run_for(Nanos::from_millis(50));
    let after: Vec<_> = l.ipv4_seen(1).into_iter().skip(seen_before).collect();
    assert_eq!(after.len(), 4, "two datagrams in two fragments each");
    for (_, _, d) in &after {
        let p = ipv4::Packet::new_checked(&d[..]).unwrap();
        assert!(p.is_fragment() && usize::from(p.total_len()) <= 1280);
    }
    l.finish();
}

/// A UDP datagram that arrives in fragments is reassembled and reaches a user socket (it used
/// to be counted as `rcvbuf_errors` and dropped); its checksum is verified over the whole
/// datagram, not taken from the last fragment's NIC verdict.
#[test]
fn reassembled_udp_datagrams_reach_user_sockets() {
    use burst_port::{ChecksumStatus, PacketBuf};
    let mut l = host(|c| c.ipv4.forwarding = false);
    let r_a = Ipv4Addr::new(198, 18, 1, 254);
    let sock = l.node.workers[0]
        .udp
        .bind(Ipv4Addr::UNSPECIFIED, 5001)
        .unwrap();
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 31 % 251) as u8).collect();
    let whole = {
        let u = burst_wire::udp::Repr {
            src_port: 40000,
            dst_port: 5001,
            payload_len: payload.len(),
        };
        let ip = ipv4::Repr::new(A, r_a, Protocol::UDP, u.buffer_len(), 64);
        let mut d = vec![0u8; ip.buffer_len()];
        d[28..].copy_from_slice(&payload);
        u.emit(
            &mut burst_wire::udp::Packet::new_unchecked(&mut d[20..]),
            A,
            r_a,
            ChecksumMode::Compute,
        );
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..20]),
            ChecksumMode::Compute,
        );
        d
    };
    // Three fragments of at most 1500 bytes, as Linux sends them.
    let send = |l: &mut Lab, whole: &[u8]| {
        let mut offset = 0;
        let body = &whole[20..];
        while offset < body.len() {
            let n = (body.len() - offset).min(1480);
            let more = offset + n < body.len();
            let mut f = whole[..20].to_vec();
            f.extend_from_slice(&body[offset..offset + n]);
            let mut p = ipv4::Packet::new_unchecked(&mut f[..]);
            p.set_total_len((20 + n) as u16);
            p.set_flags_and_offset(false, more, offset as u16);
            p.fill_checksum();
            l.send(0, &frame(A_MAC, R_A, &f));
            offset += n;
        }
    };
    // One byte wrong in the middle fragment: the whole datagram's checksum fails, nothing
    // reaches the socket.
    let mut bad = whole.clone();
    bad[2000] ^= 0x40;
    send(&mut l, &bad);
    l.run_for(Nanos::from_millis(30));
    assert!(l.node.workers[0].udp.recv_from(sock).is_none());
    assert_eq!(l.node.workers[0].udp.stats.in_errors, 1);
    send(&mut l, &whole);
    l.run_for(Nanos::from_millis(30));
    let w = &mut l.node.workers[0];
    let got = w
        .udp
        .recv_from(sock)
        .expect("the datagram reached the socket");
    assert_eq!(got.from, (A, 40000));
    assert_eq!(got.len, 3000);
    assert!(
        got.buf.nb_segs() > 1,
        "zero-copy: the fragments' own buffers"
    );
    assert_eq!(got.payload(), None, "not contiguous");
    let mut out = vec![0u8; 4000];
    assert_eq!(got.copy_payload(&mut out), 3000);
    assert_eq!(&out[..3000], &payload[..]);
    assert_eq!(got.buf.rx_meta().l4_checksum, ChecksumStatus::Unknown);
    assert_eq!(w.udp.stats.rcvbuf_errors, 0);
    drop(got);
    l.finish();
}

/// An echo request from A to the router's address on A's link.
fn echo_from_a(seq: u16) -> Vec<u8> {
    let m = icmpv4::Repr::EchoRequest {
        ident: 7,
        seq_no: seq,
        data: b"abcdefgh",
    };
    let mut d = vec![0u8; 20 + m.buffer_len()];
    burst_stack::icmp::emit(&m, A, R_A_IP, 64, false, &mut d);
    d
}

/// The TTLs of what host `h` received: (echo replies, UDP datagrams, echo requests).
fn ttls(l: &Lab, h: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (mut replies, mut udp, mut requests) = (vec![], vec![], vec![]);
    for (_, _, d) in l.ipv4_seen(h) {
        let p = ipv4::Packet::new_checked(&d[..]).unwrap();
        match (p.protocol(), p.payload()[0]) {
            (Protocol::ICMP, 0) => replies.push(p.ttl()),
            (Protocol::ICMP, 8) => requests.push(p.ttl()),
            (Protocol::UDP, _) => udp.push(p.ttl()),
            _ => {}
        }
    }
    (replies, udp, requests)
}

/// `[ipv4] default_ttl` is the TTL of every datagram the node originates: echo replies (the
/// workers), UDP (the sockets) and `ctl ping` (the control thread).
#[test]
fn default_ttl_is_the_ttl_of_what_we_originate() {
    for (ttl, tweak) in [
        (
            128u8,
            (|c: &mut NodeConfig| c.ipv4 = from_file("").ipv4) as fn(&mut NodeConfig),
        ),
        (64, |c: &mut NodeConfig| {
            c.ipv4 = from_file("[ipv4]\ndefault_ttl = 64\n").ipv4;
        }),
    ] {
        let mut l = host(tweak);
        l.send_from_a(&echo_from_a(1));
        let now = l.now();
        let _ = l.node.workers[0].udp_send(None, 5000, B, 9, b"to b", now);
        let _ping = l.request(Request::Ping {
            dst: B,
            count: 1,
            size: 8,
            dont_frag: false,
            ttl: None,
            timeout_ms: 100,
            interval_ms: 0,
        });
        l.run_for(Nanos::from_millis(200));
        let (replies, _, _) = ttls(&l, 0);
        let (_, udp, requests) = ttls(&l, 1);
        assert_eq!(
            (replies, udp, requests),
            (vec![ttl], vec![ttl], vec![ttl]),
            "default_ttl {ttl}"
        );
        l.finish();
    }
}

/// `[ipv4] forwarding`: a router forwards a datagram for B; a host drops it as not its own.
#[test]
fn forwarding_decides_whether_transit_datagrams_are_forwarded() {
    for (forwarding, tweak) in [
        (
            true,
            (|c: &mut NodeConfig| c.ipv4 = from_file("[ipv4]\nforwarding = true\n").ipv4)
                as fn(&mut NodeConfig),
        ),
        (false, |c: &mut NodeConfig| c.ipv4 = from_file("").ipv4),
    ] {
        let mut l = host(tweak);
        l.send_from_a(&udp_datagram(A, B, 8, 64, false));
        l.run_for(Nanos::from_millis(30));
        let at_b = ttls(&l, 1).1.len();
        let not_ours: u64 = l.node.workers.iter().map(|w| w.ipv4.drop_not_for_us).sum();
        assert_eq!(
            (at_b, l.fwd().forwarded, not_ours),
            if forwarding { (1, 1, 0) } else { (0, 0, 1) },
            "forwarding {forwarding}"
        );
        l.finish();
    }
}

/// `[icmp] echo_rate_limit`: 20 echo requests at once get that many replies at most (the
/// limit is also the burst); 0 answers every one.
#[test]
fn echo_rate_limit_caps_the_replies() {
    for (replies, tweak) in [
        (
            20usize,
            (|c: &mut NodeConfig| c.icmp = from_file("").icmp) as fn(&mut NodeConfig),
        ),
        (5, |c: &mut NodeConfig| {
            c.icmp = from_file("[icmp]\necho_rate_limit = 5\n").icmp;
        }),
        (20, |c: &mut NodeConfig| {
            c.icmp = from_file("[icmp]\necho_rate_limit = 0\n").icmp;
        }),
    ] {
        let mut l = host(tweak);
        for seq in 0..20 {
            l.send_from_a(&echo_from_a(seq));
        }
        l.run_for(Nanos::from_millis(30));
        assert_eq!(ttls(&l, 0).0.len(), replies, "{:?}", l.node.workers[0].icmp);
        l.finish();
    }
}

/// `[icmp] error_rate_limit` and `error_burst`: 20 datagrams to a closed port at once get
/// `error_burst` port unreachables; a second 20 one second later get what the rate refilled;
/// a rate of 0 is unlimited whatever the burst.
#[test]
fn error_rate_limit_and_error_burst_cap_icmp_errors() {
    for (want, tweak) in [
        (
            (20usize, 20usize),
            (|c: &mut NodeConfig| c.icmp = from_file("").icmp) as fn(&mut NodeConfig),
        ),
        ((3, 2), |c: &mut NodeConfig| {
            c.icmp = from_file("[icmp]\nerror_rate_limit = 2\nerror_burst = 3\n").icmp;
        }),
        ((10, 2), |c: &mut NodeConfig| {
            c.icmp = from_file("[icmp]\nerror_rate_limit = 2\nerror_burst = 10\n").icmp;
        }),
        ((20, 20), |c: &mut NodeConfig| {
            c.icmp = from_file("[icmp]\nerror_rate_limit = 0\nerror_burst = 3\n").icmp;
        }),
    ] {
        let mut l = host(tweak);
        let unreachables = |l: &Lab| l.icmp_seen(0).iter().filter(|(_, m)| m[0] == 3).count();
        let burst = |l: &mut Lab| {
            for _ in 0..20 {
                l.send_from_a(&udp_datagram(A, R_A_IP, 8, 64, false));
            }
            l.run_for(Nanos::from_millis(30));
        };
        burst(&mut l);
        let first = unreachables(&l);
        l.run_for(Nanos::from_millis(970));
        burst(&mut l);
        assert_eq!((first, unreachables(&l) - first), want);
        l.finish();
    }
}
