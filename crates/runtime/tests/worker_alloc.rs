//! "No allocation in the packet path", checked: a worker polled on the router lab (in-memory
//! wire) allocates nothing while it forwards (fast and full path), fragments for a small
//! egress MTU, answers pings and the UDP daytime service, answers ARP on a port with many
//! addresses, releases a neighbour's pending queue longer than 16 packets, and answers a
//! `netstat -a` request. Allocations are counted on the test's thread only, and only inside
//! the worker's `poll` (the control thread, which may allocate, is stepped outside).

mod common;
#[path = "../../tcp/tests/counting/mod.rs"]
mod counting;

use std::net::Ipv4Addr;

use burst_port::{Nanos, PacketBuf, Queue};
use burst_runtime::node::NodeConfig;
use burst_stack::udp::Service;
use burst_wire::arp;
use burst_wire::ethernet::{EtherType, MacAddr};
use burst_wire::icmpv4;
use common::router_lab::*;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

fn tweak(c: &mut NodeConfig) {
    // Eight addresses on port a (ARP answers used to collect them into 4 inline slots), and
    // pending queues of 32 (released through 16 inline slots before).
    c.ports[0].addrs = (0..8)
        .map(|i| format!("198.18.1.{}/24", 254 - i).parse().unwrap())
        .collect();
    c.arp.pending_per_neighbor = 32;
    // B's MAC is not static: packets to it wait for ARP.
    c.static_arp.retain(|(_, ip, _)| *ip != B);
}

/// Polls worker 0 with allocation counting on, then lets the wires and hosts move (counting
/// off, host B answering ARP); returns the allocations counted.
fn poll_counted(l: &mut Lab, rounds: usize) -> u64 {
    let mut total = 0;
    for _ in 0..rounds {
        let now = l.now();
        let before = counting::allocs();
        counting::set_counting(true);
        l.node.workers[0].poll(now);
        counting::set_counting(false);
        total += counting::allocs() - before;
        l.run_for(STEP);
        answer_arp_as_b(l);
    }
    total
}

/// Host B answers the router's ARP requests for its address.
fn answer_arp_as_b(l: &mut Lab) {
    let asks: Vec<arp::Repr> = l.seen[1]
        .drain(..)
        .filter_map(|f| {
            let e = burst_wire::ethernet::Frame::new_checked(&f[..]).ok()?;
            if e.ethertype() != EtherType::ARP {
                return None;
            }
            arp::Repr::parse(&arp::Packet::new_checked(e.payload()).ok()?).ok()
        })
        .filter(|r| r.operation == arp::Operation::REQUEST && r.target_protocol_addr == B)
        .collect();
    for r in asks {
        let reply = arp::Repr::reply(B_MAC, B, r.source_hardware_addr, r.source_protocol_addr);
        let mut b = [0u8; 28];
        reply.emit(&mut arp::Packet::new_unchecked(&mut b[..]));
        let mut f = vec![0u8; 14];
        burst_wire::ethernet::Repr {
            src_addr: B_MAC,
            dst_addr: r.source_hardware_addr,
            vlan: None,
            ethertype: EtherType::ARP,
        }
        .emit(&mut burst_wire::ethernet::Frame::new_unchecked(&mut f[..]));
        f.extend_from_slice(&b);
        l.send(1, &f);
    }
}

fn arp_frame(r: arp::Repr) -> Vec<u8> {
    let mut b = [0u8; 28];
    r.emit(&mut arp::Packet::new_unchecked(&mut b[..]));
    let mut f = vec![0u8; 14];
    burst_wire::ethernet::Repr {
        src_addr: A_MAC,
        dst_addr: MacAddr::BROADCAST,
        vlan: None,
        ethertype: EtherType::ARP,
    }
    .emit(&mut burst_wire::ethernet::Frame::new_unchecked(&mut f[..]));
    f.extend_from_slice(&b);
    f
}

fn echo_to(dst: Ipv4Addr, data: &[u8]) -> Vec<u8> {
    let m = icmpv4::Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data,
    };
    let mut d = vec![0u8; 20 + m.buffer_len()];
    burst_stack::icmp::emit(&m, A, dst, 64, false, &mut d);
    d
}

#[test]
fn the_worker_allocates_nothing_on_the_packet_path() {
    let mut l = lab(Opts {
        mtu_b: 576,
        buf_size: 8192,
        mtu_host_a: 4100,
        // Port a takes A's 4000-byte datagram whole (as af_packet hands over a datagram the
        // kernel reassembled).
        rx_max_frame_a: Some(8000),
        services: vec![Service::Daytime, Service::Echo],
        tweak,
        ..Opts::default()
    });
    let r_a = Ipv4Addr::new(198, 18, 1, 254);
    let traffic = |l: &mut Lab| {
        // ARP for the last of port a's eight addresses.
        l.send(
            0,
            &arp_frame(arp::Repr::request(A_MAC, A, Ipv4Addr::new(198, 18, 1, 247))),
        );
        // Pings to the router, and daytime.
        l.send_from_a(&echo_to(r_a, b"ping"));
        let mut day = udp_datagram(A, r_a, 4, 64, false);
        day[22..24].copy_from_slice(&13u16.to_be_bytes());
        let mut u = burst_wire::udp::Packet::new_unchecked(&mut day[20..]);
        u.fill_checksum(A, r_a);
        l.send_from_a(&day);
        // 40 datagrams to B, whose MAC is unknown: 32 wait for ARP, then leave together.
        for _ in 0..40 {
            l.send_from_a(&udp_datagram(A, B, 100, 64, false));
        }
    };
    // A 4000-byte datagram fragmented for B's 576-byte MTU (8 fragments), once B resolved.
    let big = |l: &mut Lab| l.send_from_a(&udp_datagram(A, B, 4000, 64, false));
    // Once to warm up whatever is sized on first use; then counted, after B's entry aged out
    // of the neighbour table (so the second round queues and releases again).
    traffic(&mut l);
    for _ in 0..30 {
        l.run_for(Nanos::from_millis(20));
        answer_arp_as_b(&mut l);
    }
    big(&mut l);
    l.run_for(Nanos::from_millis(20));
    let warm = l.node.workers[0].l2.arp_queued;
    assert!(warm >= 32, "the warm-up queued for ARP ({warm})");
    l.run_for(Nanos::from_secs(11 * 60));
    traffic(&mut l);
    let before_b = l.node.workers[0].fwd.forwarded;
    let mut n = poll_counted(&mut l, 40);
    big(&mut l);
    n += poll_counted(&mut l, 5);
    assert_eq!(n, 0, "allocations on the worker");
    // The work really happened: the second round queued 32 for ARP again and released them,
    // and fragmented the large datagram.
    let w = &l.node.workers[0];
    assert!(w.l2.arp_queued >= warm + 32, "{} queued", w.l2.arp_queued);
    assert!(w.fwd.forwarded >= before_b + 32, "{}", w.fwd.forwarded);
    assert!(w.fwd.fragmented >= 2);
    // netstat -a: the worker fills its preallocated rows.
    let rx = l.request(burst_runtime::ctl::Request::Netstat);
    l.node.control.poll(l.now());
    let n = poll_counted(&mut l, 3);
    assert_eq!(n, 0, "allocations answering netstat");
    l.run_for(STEP);
    assert!(matches!(
        rx.try_recv(),
        Ok(burst_runtime::ctl::Response::Netstat { .. })
    ));
    let _ = l.hosts[0].alloc().map(|b| b.pkt_len());
    l.finish();
}

/// NAT and conntrack: new sessions (mappings, port choice), translation both ways, ICMP
/// errors, sessions aging out with their mappings, a `ctl conntrack` listing, a flush — all
/// without an allocation on the worker.
#[test]
fn nat_and_conntrack_allocate_nothing_on_the_worker() {
    let mut l = lab(Opts {
        file: Some(
            "[ipv4]\nforwarding = true\n\
             [[arp]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:0a:02\"\nport = \"a\"\n\
             [[arp]]\nip = \"198.18.2.1\"\nmac = \"02:00:00:00:0b:02\"\nport = \"b\"\n\
             [conntrack]\nmax_sessions = 512\nudp = \"120s\"\n\
             [nat]\noutside = [\"b\"]\npool = [\"198.18.2.254\"]\nmax_mappings = 512\n\
             [firewall]\nports = [\"b\"]\n"
                .into(),
        ),
        ..Opts::default()
    });
    let p = Ipv4Addr::new(198, 18, 2, 254);
    let round = |l: &mut Lab, base: u16| {
        for i in 0..100u16 {
            let mut d = udp_datagram(A, B, 8, 64, false);
            d[20..22].copy_from_slice(&(base + i).to_be_bytes());
            let mut u = burst_wire::udp::Packet::new_unchecked(&mut d[20..]);
            u.fill_checksum(A, B);
            l.send_from_a(&d);
            let mut r = udp_datagram(B, p, 8, 64, false);
            r[20..22].copy_from_slice(&5001u16.to_be_bytes());
            r[22..24].copy_from_slice(&(base + i).to_be_bytes());
            let mut u = burst_wire::udp::Packet::new_unchecked(&mut r[20..]);
            u.fill_checksum(B, p);
            l.send(1, &frame(B_MAC, R_B, &r));
        }
    };
    // Warm up, let everything expire, then count a second round on a used table.
    round(&mut l, 20000);
    l.run_for(Nanos::from_millis(50));
    l.run_for(Nanos::from_secs(130));
    round(&mut l, 30000);
    let n = poll_counted(&mut l, 20);
    assert_eq!(n, 0, "allocations translating");
    let w = &l.node.workers[0];
    let s: std::collections::HashMap<String, u64> =
        w.shared_stats().snapshot().into_iter().collect();
    assert!(s["nat.sessions_out"] >= 200, "{s:?}");
    assert!(s["conntrack.expired"] >= 100);
    // Aging out a full round's sessions and their mappings.
    l.run_for(Nanos::from_secs(125));
    round(&mut l, 40000);
    let n = poll_counted(&mut l, 20);
    assert_eq!(n, 0, "allocations aging and translating");
    // ctl conntrack: the worker fills its preallocated rows; then a flush.
    let rx = l.request(burst_runtime::ctl::Request::Conntrack { flush: false });
    l.node.control.poll(l.now());
    assert_eq!(poll_counted(&mut l, 3), 0, "allocations listing sessions");
    l.run_for(STEP);
    assert!(matches!(
        rx.try_recv(),
        Ok(burst_runtime::ctl::Response::Conntrack { .. })
    ));
    let _rx = l.request(burst_runtime::ctl::Request::Conntrack { flush: true });
    l.node.control.poll(l.now());
    assert_eq!(poll_counted(&mut l, 10), 0, "allocations flushing");
    l.finish();
}

#[test]
fn ipsec_allocates_nothing_on_the_worker() {
    use common::ipsec_peer::*;
    // Tunnel mode both ways (seal A's datagrams, open B's, forward the inner ones), transport
    // mode pings answered over ESP, replays and plain traffic refused.
    let mut l = ipsec_lab(tunnel_and_transport(), 1);
    let (mut tin, _) = tunnel_peer();
    let (mut pin, _) = transport_peer();
    let round = |l: &mut Lab, tin: &mut burst_ipsec::Sa, pin: &mut burst_ipsec::Sa| {
        for i in 0..20u16 {
            l.send_from_a(&udp_datagram(A, C, 64, 64, false));
            let e = seal(tin, &udp_datagram(C, A, 64 + usize::from(i), 64, false));
            l.send(1, &frame(B_MAC, R_B, &e));
            l.send(1, &frame(B_MAC, R_B, &e));
            let p = seal(pin, &echo_request(B, R_B_IP, i));
            l.send(1, &frame(B_MAC, R_B, &p));
            l.send(1, &frame(B_MAC, R_B, &echo_request(B, R_B_IP, i)));
        }
    };
    round(&mut l, &mut tin, &mut pin);
    l.run_for(Nanos::from_millis(100));
    // The second round waits in the router's receive queues; only counted polls take it.
    round(&mut l, &mut tin, &mut pin);
    for w in &l.wires {
        w.deliver_due();
    }
    let before = l.node.workers[0].ipv4.received;
    let mut n = 0;
    for _ in 0..4 {
        let now = l.now();
        let a = counting::allocs();
        counting::set_counting(true);
        l.node.workers[0].poll(now);
        counting::set_counting(false);
        n += counting::allocs() - a;
    }
    let taken = l.node.workers[0].ipv4.received - before;
    assert_eq!(taken, 100, "the counted polls took the whole round");
    assert_eq!(n, 0, "allocations sealing, opening and refusing");
    l.run_for(Nanos::from_millis(100));
    let w = &l.node.workers[0];
    let s: std::collections::HashMap<String, u64> =
        w.shared_stats().snapshot().into_iter().collect();
    assert!(s["ipsec.out_secured"] >= 80, "{s:?}");
    assert!(s["ipsec.in_decrypted"] >= 80, "{s:?}");
    assert!(s["esp.in_replay"] >= 40, "{s:?}");
    assert!(s["ipsec.drop_plain_to_protected"] >= 40, "{s:?}");
    l.finish();
}
