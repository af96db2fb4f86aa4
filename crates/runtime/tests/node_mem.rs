//! A whole node (2 workers + the control thread, stepped by hand) on the in-memory wire with a
//! virtual clock, against a scripted peer: duplicate address detection and conflicts, ARP
//! resolution with retries and failure, pending-queue overflow, cache aging at 2 and 10
//! minutes, and an ARP answer received by one worker releasing packets another queued.

use std::net::Ipv4Addr;
use std::sync::mpsc;

use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig};
use burst_port::{Batch, Capabilities, Nanos, PacketBuf, Port, Queue};
use burst_runtime::control::Command;
use burst_runtime::ctl::{EchoOutcome, Request, Response};
use burst_runtime::node::{Node, NodeConfig, NodePort};
use burst_stack::arp::{AddrState, ArpConfig};
use burst_stack::filter::{Direction, Rule};
use burst_stack::icmp::IcmpConfig;
use burst_stack::ipv4::Ipv4Config;
use burst_stack::PortId;
use burst_wire::dissect::{self, Network, Transport};
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{arp, icmpv4, ChecksumCheck, ChecksumMode};

const NODE_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 2);
const PEER_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 1);
const NODE_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const STEP: Nanos = Nanos::from_millis(10);

/// How the scripted peer behaves.
#[derive(Default, Clone, Copy)]
struct PeerMode {
    /// Answer ARP requests for PEER_IP.
    answer_arp: bool,
    /// Answer echo requests.
    answer_echo: bool,
    /// Claim NODE_IP: answer probes/requests for it (a host already holding our address).
    claim_node_ip: bool,
}

struct Lab {
    clock: VirtualClock,
    wire: Wire,
    pool: MemPool,
    node: Node<MemPort>,
    peer: MemQueue,
    _peer_port: MemPort,
    mode: PeerMode,
    /// Every frame the peer received, dissected summaries.
    seen: Vec<Vec<u8>>,
}

fn lab(mode: PeerMode, workers: usize) -> Lab {
    lab_with(mode, workers, Default::default())
}

fn lab_with(mode: PeerMode, workers: usize, filtering: burst_stack::udp::Filtering) -> Lab {
    lab_full(mode, workers, filtering, vec![])
}

fn lab_full(
    mode: PeerMode,
    workers: usize,
    filtering: burst_stack::udp::Filtering,
    routes: Vec<burst_runtime::node::NodeRoute>,
) -> Lab {
    lab_filters(mode, workers, filtering, routes, vec![])
}

fn lab_filters(
    mode: PeerMode,
    workers: usize,
    filtering: burst_stack::udp::Filtering,
    routes: Vec<burst_runtime::node::NodeRoute>,
    filters: Vec<(String, Direction, Rule)>,
) -> Lab {
    let cfg = NodeConfig {
        ports: vec![NodePort {
            name: "p0".into(),
            addrs: vec!["198.18.0.2/24".parse().unwrap()],
            groups: vec![Ipv4Addr::new(239, 1, 2, 3)],
            partial_checksums: None,
        }],
        routes,
        static_arp: vec![],
        workers,
        arp: ArpConfig::default(),
        ipv4: Ipv4Config::default(),
        icmp: IcmpConfig::default(),
        lpm_tbl8_groups: 64,
        max_next_hops: 64,
        // The UDP echo service (an application on the node, `burst_runtime::app::services`).
        services: vec![burst_stack::udp::Service::Echo],
        filtering,
        send_redirects: true,
        tcp: Default::default(),
        filters,
        ..NodeConfig::default()
    };
    build(mode, &cfg)
}

/// The node as `burst run` would configure it from a file with port p0 (198.18.0.2/24) and
/// `sections` (e.g. `"[arp_tunables]\nretry_count = 5\n"`), on the in-memory backend.
fn lab_from_file(mode: PeerMode, sections: &str) -> Lab {
    let text = format!(
        "[backend]\nkind = \"mem\"\n[[port]]\nname = \"p0\"\naddresses = [\"198.18.0.2/24\"]\n\
         {sections}"
    );
    let c = burst_runtime::config::Config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    build(mode, &NodeConfig::from(&c))
}

/// A node with `cfg` (one port, p0) on a wire shared with the scripted peer.
fn build(mode: PeerMode, cfg: &NodeConfig) -> Lab {
    let clock = VirtualClock::new();
    clock.advance(Nanos::from_secs(1));
    let wire = Wire::new(&clock, WireConfig::default());
    let pool = MemPool::new(4096, burst_port::mem::DEFAULT_BUF_SIZE);
    let mut pc = MemPortConfig::new("p0", NODE_MAC);
    pc.queues = cfg.workers as u16;
    pc.caps = Capabilities {
        rss: true,
        ..Capabilities::NONE
    };
    let port = MemPort::new(&wire, &pool, pc);
    let mut peer_port = MemPort::new(&wire, &pool, MemPortConfig::new("peer", PEER_MAC));
    let peer = peer_port.take_queue(0).unwrap();
    let node = Node::build(cfg, vec![port], clock.now()).unwrap();
    Lab {
        clock,
        wire,
        pool,
        node,
        peer,
        _peer_port: peer_port,
        mode,
        seen: Vec::new(),
    }
}

fn frame(dst: MacAddr, ethertype: EtherType, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + body.len()];
    ethernet::Repr {
        src_addr: PEER_MAC,
        dst_addr: dst,
        vlan: None,
        ethertype,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    f[14..].copy_from_slice(body);
    f
}

fn arp_frame(dst: MacAddr, r: arp::Repr) -> Vec<u8> {
    let mut b = [0u8; 28];
    r.emit(&mut arp::Packet::new_unchecked(&mut b[..]));
    frame(dst, EtherType::ARP, &b)
}

fn icmp_frame(msg: icmpv4::Repr<'_>, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut d = vec![0u8; 20 + msg.buffer_len()];
    burst_stack::icmp::emit(&msg, src, dst, 64, false, &mut d);
    frame(NODE_MAC, EtherType::IPV4, &d)
}

impl Lab {
    fn now(&self) -> Nanos {
        self.clock.now()
    }

    fn send(&mut self, bytes: &[u8]) {
        let mut b = self.peer.alloc().unwrap();
        b.append(bytes.len()).unwrap().copy_from_slice(bytes);
        let mut batch = Batch::new();
        batch.push(b).unwrap();
        assert_eq!(self.peer.tx_burst(&mut batch), 1);
    }

    /// The peer's side of one step: receive, record, answer per its mode.
    fn peer_step(&mut self) {
        let mut rx = Batch::new();
        self.peer.rx_burst(&mut rx);
        let frames: Vec<Vec<u8>> = rx
            .drain(..)
            .map(|b| {
                let mut v = vec![0u8; b.pkt_len()];
                b.copy_to(&mut v);
                v
            })
            .collect();
        for f in frames {
            let d = dissect::parse(&f, ChecksumCheck::Verify).expect("the node sends valid frames");
            match d.network {
                Network::Arp(a) if a.operation == arp::Operation::REQUEST => {
                    if self.mode.answer_arp && a.target_protocol_addr == PEER_IP {
                        let r = arp::Repr::reply(
                            PEER_MAC,
                            PEER_IP,
                            a.source_hardware_addr,
                            a.source_protocol_addr,
                        );
                        self.send(&arp_frame(a.source_hardware_addr, r));
                    }
                    if self.mode.claim_node_ip
                        && a.target_protocol_addr == NODE_IP
                        && a.source_hardware_addr != PEER_MAC
                    {
                        // Linux answers a probe (sender 0.0.0.0) to the broadcast-free unicast of the asker.
                        let r = arp::Repr::reply(
                            PEER_MAC,
                            NODE_IP,
                            a.source_hardware_addr,
                            a.source_protocol_addr,
                        );
                        self.send(&arp_frame(a.source_hardware_addr, r));
                    }
                }
                Network::Ipv4 {
                    header,
                    transport:
                        Transport::Icmpv4(icmpv4::Repr::EchoRequest {
                            ident,
                            seq_no,
                            data,
                        }),
                } if self.mode.answer_echo => {
                    let reply = icmp_frame(
                        icmpv4::Repr::EchoReply {
                            ident,
                            seq_no,
                            data,
                        },
                        PEER_IP,
                        header.src_addr,
                    );
                    self.send(&reply);
                }
                _ => {}
            }
            self.seen.push(f);
        }
    }

    /// Runs the node and the peer for `d` of virtual time, in 10 ms steps.
    fn run_for(&mut self, d: Nanos) {
        let end = self.now() + d;
        while self.now() < end {
            self.node.step(self.now());
            self.wire.deliver_due();
            self.peer_step();
            self.node.step(self.now());
            self.clock.advance(STEP);
        }
    }

    fn request(&mut self, req: Request) -> mpsc::Receiver<Response> {
        let (tx, rx) = mpsc::channel();
        self.node
            .commands
            .send(Command {
                req,
                reply: tx.into(),
            })
            .unwrap();
        rx
    }

    fn arp_entries(&mut self) -> Vec<(Ipv4Addr, String)> {
        let rx = self.request(Request::ArpShow);
        self.run_for(STEP);
        match rx.try_recv().unwrap() {
            Response::Arp { entries } => entries.into_iter().map(|e| (e.ip, e.kind)).collect(),
            r => panic!("{r:?}"),
        }
    }

    fn arp_frames_seen(&self, pred: impl Fn(&arp::Repr) -> bool) -> usize {
        self.seen
            .iter()
            .filter(|f| matches!(dissect::parse(f, ChecksumCheck::Verify), Ok(dissect::Frame { network: Network::Arp(a), .. }) if pred(&a)))
            .count()
    }

    fn echo_requests_seen(&self) -> usize {
        self.seen
            .iter()
            .filter(|f| {
                matches!(
                    dissect::parse(f, ChecksumCheck::Verify),
                    Ok(dissect::Frame {
                        network: Network::Ipv4 {
                            transport: Transport::Icmpv4(icmpv4::Repr::EchoRequest { .. }),
                            ..
                        },
                        ..
                    })
                )
            })
            .count()
    }

    fn ping_from_peer(&mut self, seq: u16) {
        let f = icmp_frame(
            icmpv4::Repr::EchoRequest {
                ident: 7,
                seq_no: seq,
                data: b"abcdefgh",
            },
            PEER_IP,
            NODE_IP,
        );
        self.send(&f);
    }

    fn echo_replies_seen(&self) -> usize {
        self.seen
            .iter()
            .filter(|f| {
                matches!(
                    dissect::parse(f, ChecksumCheck::Verify),
                    Ok(dissect::Frame {
                        network: Network::Ipv4 {
                            transport: Transport::Icmpv4(icmpv4::Repr::EchoReply { ident: 7, .. }),
                            ..
                        },
                        ..
                    })
                )
            })
            .count()
    }

    fn finish(self) {
        let Lab {
            node,
            peer,
            pool,
            wire,
            ..
        } = self;
        drop(node);
        drop(peer);
        wire.clear();
        assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
    }
}

#[test]
fn dad_resolution_echo_and_aging_at_2_and_10_minutes() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        2,
    );
    // Duplicate address detection: three rounds (probe + gratuitous) one second apart.
    l.run_for(Nanos::from_millis(3500));
    assert_eq!(
        l.arp_frames_seen(|a| a.is_probe() && a.target_protocol_addr == NODE_IP),
        3
    );
    assert_eq!(
        l.arp_frames_seen(|a| a.is_gratuitous() && a.source_protocol_addr == NODE_IP),
        3
    );
    assert_eq!(
        l.node.control.address_state(PortId(0), NODE_IP),
        Some(AddrState::Preferred)
    );

    // The peer pings us: we resolve its MAC (request → its reply) and answer.
    l.ping_from_peer(1);
    l.run_for(Nanos::from_millis(100));
    assert_eq!(l.echo_replies_seen(), 1);
    assert_eq!(l.arp_entries(), [(PEER_IP, "dynamic".to_string())]);
    let learned = l.now();

    // Unused for two minutes: removed.
    l.run_for(Nanos::from_secs(119));
    assert_eq!(l.arp_entries().len(), 1, "still there before two minutes");
    l.run_for(Nanos::from_secs(3));
    assert!(
        l.arp_entries().is_empty(),
        "aged out after two minutes unused"
    );

    // Used all the time: still removed ten minutes after it was learned.
    l.ping_from_peer(2);
    l.run_for(Nanos::from_millis(100));
    let relearned = l.now();
    assert!(relearned > learned);
    let mut seq = 3;
    while l.now() < relearned + Nanos::from_secs(590) {
        l.ping_from_peer(seq);
        seq += 1;
        l.run_for(Nanos::from_secs(10));
    }
    assert_eq!(l.arp_entries().len(), 1, "in use: kept before ten minutes");
    let requests_before = l.arp_frames_seen(|a| {
        a.operation == arp::Operation::REQUEST && a.target_protocol_addr == PEER_IP
    });
    l.run_for(Nanos::from_secs(12));
    // Gone at ten minutes even though used; the next reply re-resolves it.
    l.ping_from_peer(seq);
    l.run_for(Nanos::from_millis(200));
    let requests_after = l.arp_frames_seen(|a| {
        a.operation == arp::Operation::REQUEST && a.target_protocol_addr == PEER_IP
    });
    assert_eq!(
        requests_after,
        requests_before + 1,
        "re-resolved after the ten-minute limit"
    );
    assert_eq!(l.echo_replies_seen(), usize::from(seq) - 1 + 1);
    l.finish();
}

#[test]
fn silent_neighbour_retries_overflows_and_fails() {
    let mut l = lab(
        PeerMode {
            answer_arp: false,
            answer_echo: false,
            claim_node_ip: false,
        },
        1,
    );
    l.run_for(Nanos::from_millis(3500));
    // 20 echo requests at once to a neighbour that never answers ARP: 16 wait, 4 are dropped.
    let rx = l.request(Request::Ping {
        dst: PEER_IP,
        count: 20,
        size: 8,
        dont_frag: false,
        ttl: None,
        timeout_ms: 10_000,
        interval_ms: 0,
    });
    l.run_for(Nanos::from_millis(200));
    assert_eq!(l.node.workers[0].l2.arp_queued, 16);
    assert_eq!(l.node.workers[0].l2.drop_pending_full, 4);
    // Requests at 0, 1 and 3 s; the resolution fails at 7 s and the 16 are dropped.
    l.run_for(Nanos::from_secs(8));
    let requests = l.arp_frames_seen(|a| {
        a.operation == arp::Operation::REQUEST && a.target_protocol_addr == PEER_IP
    });
    assert_eq!(requests, 3, "three ARP requests (ArpRetryCount)");
    assert_eq!(l.node.workers[0].l2.drop_resolution_failed, 16);
    assert_eq!(l.echo_requests_seen(), 0);
    l.run_for(Nanos::from_secs(3));
    let lines: Vec<Response> = rx.try_iter().collect();
    assert!(
        matches!(
            lines.last(),
            Some(Response::PingDone {
                sent: 20,
                received: 0
            })
        ),
        "{lines:?}"
    );
    // The 16 that waited learn "host unreachable"; the 4 dropped at once just time out.
    let unreachable = lines
        .iter()
        .filter(|r| matches!(r, Response::Echo { outcome: EchoOutcome::IcmpError { message, .. }, .. } if message == "Destination host unreachable"))
        .count();
    assert_eq!(unreachable, 16, "{lines:?}");
    let timeouts = lines
        .iter()
        .filter(|r| {
            matches!(
                r,
                Response::Echo {
                    outcome: EchoOutcome::Timeout,
                    ..
                }
            )
        })
        .count();
    assert_eq!(timeouts, 4);
    l.finish();
}

#[test]
fn a_host_holding_our_address_disables_it() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: true,
        },
        1,
    );
    l.run_for(Nanos::from_millis(3500));
    assert_eq!(
        l.node.control.address_state(PortId(0), NODE_IP),
        Some(AddrState::Conflict { mac: PEER_MAC })
    );
    // The seeds' restoring announcement: sender NODE_IP with the defender's MAC.
    assert_eq!(
        l.arp_frames_seen(|a| a.source_protocol_addr == NODE_IP
            && a.source_hardware_addr == PEER_MAC
            && a.operation == arp::Operation::REQUEST),
        1
    );
    // A disabled address is not answered.
    l.ping_from_peer(1);
    l.run_for(Nanos::from_millis(200));
    assert_eq!(l.echo_replies_seen(), 0);
    assert_eq!(l.node.workers[0].ipv4.drop_address_disabled, 1);
    l.finish();
}

#[test]
fn an_arp_answer_on_one_worker_releases_packets_another_queued() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        2,
    );
    l.run_for(Nanos::from_millis(3500));
    // The control thread hands echo requests to the workers in turn, so both queue one for
    // the unresolved peer; the peer's ARP reply (not IP: RSS puts it on queue 0) reaches worker
    // 0 only, and the control thread's "resolved" must release worker 1's packet too.
    let rx = l.request(Request::Ping {
        dst: PEER_IP,
        count: 2,
        size: 8,
        dont_frag: false,
        ttl: None,
        timeout_ms: 2000,
        interval_ms: 0,
    });
    l.run_for(Nanos::from_millis(500));
    assert_eq!(l.node.workers[0].l2.arp_queued, 1);
    assert_eq!(l.node.workers[1].l2.arp_queued, 1);
    assert_eq!(
        l.node.workers[1].l2.arp_rx, 0,
        "the ARP reply arrived at worker 0"
    );
    assert_eq!(l.echo_requests_seen(), 2, "both queued requests left");
    l.run_for(Nanos::from_secs(1));
    let lines: Vec<Response> = rx.try_iter().collect();
    assert!(
        matches!(
            lines.last(),
            Some(Response::PingDone {
                sent: 2,
                received: 2
            })
        ),
        "{lines:?}"
    );
    l.finish();
}

#[test]
fn ip_input_drops_are_counted_by_reason() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
    );
    l.run_for(Nanos::from_millis(3500));
    let good = {
        let mut d = vec![0u8; 28];
        let r = ipv4::Repr::new(PEER_IP, NODE_IP, Protocol(99), 8, 64);
        r.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..]),
            ChecksumMode::Compute,
        );
        d
    };
    let mut bad_csum = good.clone();
    bad_csum[10] ^= 0xff;
    let mut martian = good.clone();
    martian[12..16].copy_from_slice(&[127, 0, 0, 1]);
    ipv4::Packet::new_unchecked(&mut martian[..]).fill_checksum();
    let mut not_ours = good.clone();
    not_ours[16..20].copy_from_slice(&[198, 18, 0, 99]);
    ipv4::Packet::new_unchecked(&mut not_ours[..]).fill_checksum();
    for d in [&good, &bad_csum, &martian, &not_ours] {
        l.send(&frame(NODE_MAC, EtherType::IPV4, d));
    }
    l.send(&frame(
        MacAddr::new(2, 9, 9, 9, 9, 9),
        EtherType::IPV4,
        &good,
    ));
    l.send(&frame(NODE_MAC, EtherType(0x86dd), &good));
    l.run_for(Nanos::from_millis(200));
    let w = &l.node.workers[0];
    assert_eq!(w.ipv4.drop_checksum, 1);
    assert_eq!(w.ipv4.drop_martian_source, 1);
    assert_eq!(w.ipv4.drop_not_for_us, 1);
    assert_eq!(w.ipv4.drop_unknown_protocol, 1);
    assert_eq!(w.l2.drop_not_our_mac, 1);
    assert_eq!(w.l2.drop_ethertype, 1);
    // Protocol 99 got a protocol unreachable quoting it.
    let unreach = l
        .seen
        .iter()
        .filter(|f| {
            matches!(
                dissect::parse(f, ChecksumCheck::Verify),
                Ok(dissect::Frame {
                    network: Network::Ipv4 {
                        transport: Transport::Icmpv4(icmpv4::Repr::DstUnreachable {
                            reason: icmpv4::DstUnreachable::ProtoUnreachable,
                            ..
                        }),
                        ..
                    },
                    ..
                })
            )
        })
        .count();
    assert_eq!(unreach, 1);
    l.finish();
}

fn udp_frame(dport: u16, payload: &[u8]) -> Vec<u8> {
    let u = burst_wire::udp::Repr {
        src_port: 40000,
        dst_port: dport,
        payload_len: payload.len(),
    };
    let ip = ipv4::Repr::new(PEER_IP, NODE_IP, Protocol::UDP, u.buffer_len(), 64);
    let mut d = vec![0u8; ip.buffer_len()];
    d[28..].copy_from_slice(payload);
    u.emit(
        &mut burst_wire::udp::Packet::new_unchecked(&mut d[20..]),
        PEER_IP,
        NODE_IP,
        ChecksumMode::Compute,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..]),
        ChecksumMode::Compute,
    );
    frame(NODE_MAC, EtherType::IPV4, &d)
}

#[test]
fn udp_sockets_services_and_filtering() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
    );
    l.run_for(Nanos::from_millis(3500));
    let now = l.clock.now();
    // A socket of the node's application; its datagrams wait for the app to read them.
    let sock = l
        .node
        .with_app(0, now, |_, cx| cx.udp_bind(None, 5000))
        .unwrap();
    // A user socket receives the datagram in its own buffer (zero-copy).
    l.send(&udp_frame(5000, b"for the socket"));
    l.send(&udp_frame(5000, b"and another"));
    l.send(&udp_frame(7, b"echo me"));
    l.send(&udp_frame(4444, b"nobody here"));
    l.run_for(Nanos::from_millis(200));
    let now = l.clock.now();
    let got = l.node.with_app(0, now, |_, cx| {
        let mut v = Vec::new();
        while let Some(d) = cx.udp_recv(sock) {
            assert_eq!(d.from(), std::net::SocketAddrV4::new(PEER_IP, 40000));
            v.push(d.payload().unwrap().to_vec());
        }
        v
    });
    assert_eq!(
        got,
        vec![b"for the socket".to_vec(), b"and another".to_vec()]
    );
    let w = &mut l.node.workers[0];
    assert_eq!(w.udp.stats.no_ports, 1);
    // The echo came back to the peer; the closed port got a port unreachable quoting it.
    let echoed = l
        .seen
        .iter()
        .filter(|f| matches!(dissect::parse(f, ChecksumCheck::Verify), Ok(dissect::Frame { network: Network::Ipv4 { transport: Transport::Udp { header, payload }, .. }, .. }) if header.src_port == 7 && payload == b"echo me"))
        .count();
    assert_eq!(echoed, 1);
    let unreachable = l
        .seen
        .iter()
        .filter(|f| {
            matches!(
                dissect::parse(f, ChecksumCheck::Verify),
                Ok(dissect::Frame {
                    network: Network::Ipv4 {
                        transport: Transport::Icmpv4(icmpv4::Repr::DstUnreachable {
                            reason: icmpv4::DstUnreachable::PortUnreachable,
                            ..
                        }),
                        ..
                    },
                    ..
                })
            )
        })
        .count();
    assert_eq!(unreachable, 1);
    l.finish();

    // Filtering: only UDP port 7 and the ICMP and UDP protocols are permitted; the rest
    // vanishes silently (no port or protocol unreachable), counted.
    let f = burst_stack::udp::Filtering {
        udp_ports: Some(vec![7]),
        protocols: Some(vec![1, 17]),
        tcp_ports: None,
    };
    let mut l = lab_with(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
        f,
    );
    l.run_for(Nanos::from_millis(3500));
    let seen_before = l.seen.len();
    l.send(&udp_frame(4444, b"filtered port"));
    let mut gre = vec![0u8; 28];
    ipv4::Repr::new(PEER_IP, NODE_IP, Protocol(47), 8, 64).emit(
        &mut ipv4::Packet::new_unchecked(&mut gre[..]),
        ChecksumMode::Compute,
    );
    l.send(&frame(NODE_MAC, EtherType::IPV4, &gre));
    l.send(&udp_frame(7, b"permitted"));
    l.ping_from_peer(1);
    l.run_for(Nanos::from_millis(200));
    assert_eq!(l.node.workers[0].filtered, 2);
    assert_eq!(
        l.node.workers[0].ipv4.drop_unknown_protocol, 0,
        "filtered before protocol handling"
    );
    // Only the echo reply and the UDP echo came back: nothing about the filtered two.
    let answers = l.seen[seen_before..]
        .iter()
        .filter(|f| {
            matches!(
                dissect::parse(f, ChecksumCheck::Verify),
                Ok(dissect::Frame {
                    network: Network::Ipv4 { .. },
                    ..
                })
            )
        })
        .count();
    assert_eq!(answers, 2, "no ICMP error for silently filtered traffic");
    assert_eq!(l.echo_replies_seen(), 1);
    l.finish();
}

fn igmp_records(f: &[u8]) -> Option<Vec<(burst_wire::igmp::RecordType, Ipv4Addr)>> {
    match dissect::parse(f, ChecksumCheck::Verify).ok()?.network {
        Network::Ipv4 {
            transport:
                Transport::Igmp {
                    message: burst_wire::igmp::Repr::MembershipReportV3 { records },
                    ..
                },
            ..
        } => Some(
            records
                .iter()
                .map(|r| (r.record_type(), r.group_addr()))
                .collect(),
        ),
        _ => None,
    }
}

#[test]
fn igmp_join_report_multicast_delivery_and_query_answer() {
    use burst_wire::igmp::{self, RecordType};
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
    );
    l.node.workers[0]
        .udp
        .bind_service(burst_stack::udp::Service::Discard)
        .unwrap();
    l.run_for(Nanos::from_millis(3500));
    let group = Ipv4Addr::new(239, 1, 2, 3);
    // The configured join went out as v3 state-change reports (robustness 2).
    let joins = l
        .seen
        .iter()
        .filter_map(|f| igmp_records(f))
        .filter(|r| r.contains(&(RecordType::CHANGE_TO_EXCLUDE_MODE, group)))
        .count();
    assert_eq!(joins, 2);
    // Datagrams to the joined group are delivered; to another group (same MAC mapping or not)
    // they are dropped.
    let mcast = |dst: Ipv4Addr| {
        let u = burst_wire::udp::Repr {
            src_port: 40000,
            dst_port: 9,
            payload_len: 4,
        };
        let ip = ipv4::Repr::new(PEER_IP, dst, Protocol::UDP, u.buffer_len(), 1);
        let mut d = vec![0u8; ip.buffer_len()];
        u.emit(
            &mut burst_wire::udp::Packet::new_unchecked(&mut d[20..]),
            PEER_IP,
            dst,
            ChecksumMode::Compute,
        );
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..]),
            ChecksumMode::Compute,
        );
        frame(
            MacAddr::from_ipv4_multicast(dst).unwrap(),
            EtherType::IPV4,
            &d,
        )
    };
    l.send(&mcast(group));
    l.send(&mcast(Ipv4Addr::new(239, 129, 2, 3))); // same 01:00:5e:01:02:03, not joined
    l.run_for(Nanos::from_millis(100));
    assert_eq!(l.node.workers[0].ipv4.multicast_in, 1);
    assert_eq!(l.node.workers[0].ipv4.drop_not_member, 1);
    // A general v3 query (max response 2 s) from the peer: a MODE_IS_EXCLUDE report within it.
    let q = igmp::Repr::MembershipQuery {
        version: igmp::Version::V3,
        max_resp_code: 20,
        group_addr: Ipv4Addr::UNSPECIFIED,
        s_flag: false,
        qrv: 2,
        qqic: 125,
        sources: igmp::SourceList::EMPTY,
    };
    let mut m = vec![0u8; q.buffer_len()];
    q.emit(&mut igmp::Packet::new_unchecked(&mut m[..]));
    let ip = burst_stack::igmp::ipv4_header(PEER_IP, Ipv4Addr::new(224, 0, 0, 1), m.len());
    let mut d = vec![0u8; ip.buffer_len()];
    d[ip.header_len()..].copy_from_slice(&m);
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..]),
        ChecksumMode::Compute,
    );
    let before = l.seen.len();
    l.send(&frame(
        MacAddr::from_ipv4_multicast(Ipv4Addr::new(224, 0, 0, 1)).unwrap(),
        EtherType::IPV4,
        &d,
    ));
    l.run_for(Nanos::from_millis(2000));
    let answers = l.seen[before..]
        .iter()
        .filter_map(|f| igmp_records(f))
        .filter(|r| r.contains(&(RecordType::MODE_IS_EXCLUDE, group)))
        .count();
    assert_eq!(answers, 1, "answered within the 2 s max response time");
    l.finish();
}

#[test]
fn redirect_from_the_gateway_installs_an_expiring_host_route_and_pmtu_is_learned() {
    use burst_runtime::node::NodeRoute;
    let default = NodeRoute {
        prefix: "0.0.0.0/0".parse().unwrap(),
        via: Some(PEER_IP),
        port: PortId(0),
        metric: 1,
    };
    let mut l = lab_full(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
        Default::default(),
        vec![default],
    );
    l.run_for(Nanos::from_millis(3500));
    let far = Ipv4Addr::new(198, 19, 0, 5);
    let better = Ipv4Addr::new(198, 18, 0, 7);
    // A datagram we sent to `far` (through the default gateway, the peer), as the peer quotes it.
    let quoted = {
        let ip = ipv4::Repr::new(NODE_IP, far, Protocol::UDP, 8, 64);
        let mut d = vec![0u8; 28];
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..]),
            ChecksumMode::Compute,
        );
        d
    };
    let routes = |l: &mut Lab| {
        let rx = l.request(Request::RoutePrint);
        l.run_for(STEP);
        match rx.try_recv().unwrap() {
            Response::Routes { routes } => routes,
            r => panic!("{r:?}"),
        }
    };
    // From the current first hop, for an on-link gateway: accepted.
    let redirect = icmpv4::Repr::Redirect {
        reason: icmpv4::Redirect::Host,
        gateway: better,
        invoking: &quoted,
    };
    l.send(&icmp_frame(redirect, PEER_IP, NODE_IP));
    l.run_for(Nanos::from_millis(100));
    let r = routes(&mut l);
    let host = r
        .iter()
        .find(|e| e.network == far)
        .expect("host route installed");
    assert_eq!(
        (host.gateway.as_str(), host.kind.as_str()),
        ("198.18.0.7", "redirect")
    );
    // Expires after 10 minutes (seeds).
    l.run_for(Nanos::from_secs(599));
    assert!(routes(&mut l).iter().any(|e| e.network == far));
    l.run_for(Nanos::from_secs(2));
    assert!(
        !routes(&mut l).iter().any(|e| e.network == far),
        "gone after 10 minutes"
    );
    // From someone who is not our gateway: rejected.
    let mut l2 = l;
    let stranger = icmp_frame(
        icmpv4::Repr::Redirect {
            reason: icmpv4::Redirect::Host,
            gateway: better,
            invoking: &quoted,
        },
        Ipv4Addr::new(198, 18, 0, 99),
        NODE_IP,
    );
    l2.send(&stranger);
    l2.run_for(Nanos::from_millis(100));
    assert!(
        !routes(&mut l2).iter().any(|e| e.network == far),
        "not from the current gateway"
    );
    // Fragmentation needed with next-hop MTU 576 (the seeds' example) → path MTU 576.
    let big = {
        let ip = ipv4::Repr {
            dont_frag: true,
            ..ipv4::Repr::new(NODE_IP, far, Protocol::UDP, 980, 64)
        };
        let mut d = vec![0u8; 28];
        let mut full = vec![0u8; 1000];
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut full[..]),
            ChecksumMode::Compute,
        );
        d.copy_from_slice(&full[..28]);
        d
    };
    let fneed = icmpv4::Repr::dst_unreachable(icmpv4::DstUnreachable::FragRequired, 576, &big);
    l2.send(&icmp_frame(fneed, PEER_IP, NODE_IP));
    l2.run_for(Nanos::from_millis(100));
    let now = l2.now();
    assert_eq!(l2.node.control.path_mtu(far, now), Some(576));
    l2.run_for(Nanos::from_secs(601));
    let now = l2.now();
    assert_eq!(
        l2.node.control.path_mtu(far, now),
        None,
        "aged out after 10 minutes"
    );
    l2.finish();
}

/// The packet filter table through the control socket's requests: configured rules, add (append
/// and insert), list with hit counts, delete, and every error an operator can make.
#[test]
fn filter_rules_through_ctl_requests() {
    let configured = vec![(
        "p0".to_string(),
        Direction::In,
        "--proto tcp --flags syn count".parse::<Rule>().unwrap(),
    )];
    let mut l = lab_filters(
        PeerMode::default(),
        2,
        Default::default(),
        vec![],
        configured,
    );
    let ask = |l: &mut Lab, req: Request| -> Response {
        let rx = l.request(req);
        l.run_for(STEP);
        rx.try_recv().unwrap()
    };
    let add = |port: &str, dir: &str, rule: &str, index: Option<usize>| Request::FilterAdd {
        port: port.into(),
        dir: dir.into(),
        rule: rule.into(),
        index,
    };
    let list = |l: &mut Lab| -> Vec<(String, String, usize, String, u64)> {
        match ask(l, Request::FilterList) {
            Response::Filters { rules } => rules
                .into_iter()
                .map(|r| (r.port, r.dir, r.index, r.rule, r.hits))
                .collect(),
            r => panic!("{r:?}"),
        }
    };
    let row = |dir: &str, index: usize, rule: &str, hits: u64| {
        (
            "p0".to_string(),
            dir.to_string(),
            index,
            rule.to_string(),
            hits,
        )
    };
    assert_eq!(
        list(&mut l),
        [row("in", 0, "--proto tcp --flags syn count", 0)]
    );
    assert_eq!(
        ask(
            &mut l,
            add(
                "p0",
                "in",
                "--dport 80 --proto 6 --dst 198.18.0.9/24 deny",
                None
            )
        ),
        Response::FilterAdded {
            index: 1,
            rule: "--dst 198.18.0.0/24 --proto tcp --dport 80 deny".into()
        }
    );
    assert_eq!(
        ask(&mut l, add("p0", "in", "--src 198.18.0.1 permit", Some(0))),
        Response::FilterAdded {
            index: 0,
            rule: "--src 198.18.0.1/32 permit".into()
        }
    );
    assert_eq!(
        ask(
            &mut l,
            add("p0", "out", "--proto udp --sport 1000-2000 count", None)
        ),
        Response::FilterAdded {
            index: 0,
            rule: "--proto udp --sport 1000-2000 count".into()
        }
    );

    // Hits: what the workers' readers count shows in the list (summed over both workers).
    let syn = {
        let t = burst_wire::tcp::Repr {
            src_port: 40000,
            dst_port: 80,
            seq: burst_wire::tcp::SeqNumber(1),
            ack_number: burst_wire::tcp::SeqNumber(0),
            flags: burst_wire::tcp::Flags::SYN,
            reserved: 0,
            window: 1024,
            urgent: 0,
            options: burst_wire::tcp::Options::EMPTY,
            payload_len: 0,
        };
        let src = Ipv4Addr::new(198, 18, 0, 77);
        let ip = ipv4::Repr::new(src, NODE_IP, Protocol::TCP, t.buffer_len(), 64);
        let mut d = vec![0u8; ip.buffer_len()];
        t.emit(
            &mut burst_wire::tcp::Packet::new_unchecked(&mut d[20..]),
            src,
            NODE_IP,
            ChecksumMode::Compute,
        );
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..]),
            ChecksumMode::Compute,
        );
        d
    };
    let reader = l.node.control.filters().reader();
    for worker in [0, 1] {
        let g = reader.domain().pin();
        assert!(reader.is_active(PortId(0), Direction::In, &g));
        let v = reader.evaluate(PortId(0), Direction::In, &syn, worker, &g);
        assert_eq!((v.permit, v.rule), (false, Some(2)), "counted, then denied");
    }
    assert_eq!(
        list(&mut l),
        [
            row("in", 0, "--src 198.18.0.1/32 permit", 0),
            row("in", 1, "--proto tcp --flags syn count", 2),
            row(
                "in",
                2,
                "--dst 198.18.0.0/24 --proto tcp --dport 80 deny",
                2
            ),
            row("out", 0, "--proto udp --sport 1000-2000 count", 0),
        ]
    );

    // Errors, each leaving the table as it was.
    let err = |l: &mut Lab, req: Request| match ask(l, req) {
        Response::Error { message } => message,
        r => panic!("{r:?}"),
    };
    assert_eq!(
        err(&mut l, add("p9", "in", "deny", None)),
        "no port named p9"
    );
    assert_eq!(
        err(&mut l, add("p0", "both", "deny", None)),
        "bad direction both (expected in or out)"
    );
    assert_eq!(
        err(&mut l, add("p0", "in", "--dport 10-5 deny", None)),
        "port range 10-5 is reversed"
    );
    assert_eq!(
        err(&mut l, add("p0", "in", "--proto tcp", None)),
        "missing action (permit, deny or count)"
    );
    assert!(err(&mut l, add("p0", "in", "--foo 1 deny", None)).starts_with("unknown option --foo"));
    assert_eq!(
        err(&mut l, add("p0", "out", "deny", Some(2))),
        "port p0 out has no rule at index 2 (it has 1 rule)"
    );
    let del = |dir: &str, index: usize| Request::FilterDelete {
        port: "p0".into(),
        dir: dir.into(),
        index,
    };
    assert_eq!(
        err(&mut l, del("in", 3)),
        "port p0 in has no rule at index 3 (it has 3 rules)"
    );
    assert_eq!(
        err(
            &mut l,
            Request::FilterDelete {
                port: "p7".into(),
                dir: "in".into(),
                index: 0
            }
        ),
        "no port named p7"
    );
    assert_eq!(list(&mut l).len(), 4);

    // Delete: later rules move up and keep their hits.
    assert_eq!(
        ask(&mut l, del("in", 0)),
        Response::FilterDeleted {
            rule: "--src 198.18.0.1/32 permit".into()
        }
    );
    assert_eq!(
        ask(&mut l, del("out", 0)),
        Response::FilterDeleted {
            rule: "--proto udp --sport 1000-2000 count".into()
        }
    );
    assert_eq!(
        list(&mut l),
        [
            row("in", 0, "--proto tcp --flags syn count", 2),
            row(
                "in",
                1,
                "--dst 198.18.0.0/24 --proto tcp --dport 80 deny",
                2
            ),
        ]
    );
    let g = reader.domain().pin();
    assert!(!reader.is_active(PortId(0), Direction::Out, &g));
    drop(g);
    l.finish();
}

#[test]
fn configured_filters_reach_the_node() {
    let text = "[backend]\nkind = \"mem\"\n[[port]]\nname = \"p0\"\naddresses = [\"198.18.0.2/24\"]\n\
        [[filter]]\nport = \"p0\"\ndirection = \"out\"\nproto = \"udp\"\ndport = \"5000-5010\"\naction = \"deny\"\n";
    let c = burst_runtime::config::Config::parse(text, "t.toml").unwrap();
    let n = NodeConfig::from(&c);
    assert_eq!(
        n.filters,
        [(
            "p0".to_string(),
            Direction::Out,
            "--proto udp --dport 5000-5010 deny"
                .parse::<Rule>()
                .unwrap()
        )]
    );
    // A rule for a port the node does not have is refused at build time.
    let clock = VirtualClock::new();
    let wire = Wire::new(&clock, WireConfig::default());
    let pool = MemPool::new(64, burst_port::mem::DEFAULT_BUF_SIZE);
    let port = MemPort::new(&wire, &pool, MemPortConfig::new("p0", NODE_MAC));
    let mut bad = n.clone();
    bad.filters[0].0 = "p3".into();
    let e = Node::build(&bad, vec![port], clock.now()).err().unwrap();
    assert_eq!(
        e,
        "filter out --proto udp --dport 5000-5010 deny: no port named p3"
    );
    // The refused build dropped the port it was given: nothing was taken from the pool.
    assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
}

/// `ctl stats` reports a registered pool's occupancy (`pool`: size, in_use, available), read
/// when asked: buffers held by the test show up, and come back.
#[test]
fn ctl_stats_shows_the_pool_occupancy() {
    let mut l = lab(PeerMode::default(), 1);
    l.node.control.add_pool(
        "pool",
        burst_runtime::control::PoolFigures::mem_reader(&l.pool),
    );
    let held: Vec<_> = (0..5).map(|_| l.pool.alloc().unwrap()).collect();
    let pool_figures = |l: &mut Lab| -> Vec<(String, u64)> {
        let rx = l.request(Request::Stats);
        l.run_for(STEP);
        match rx.try_recv().unwrap() {
            Response::Stats { groups } => groups
                .into_iter()
                .find(|g| g.title == "pool")
                .expect("a pool section")
                .counters
                .into_iter()
                .map(|c| (c.name, c.value))
                .collect(),
            r => panic!("{r:?}"),
        }
    };
    let f = pool_figures(&mut l);
    let get = |f: &[(String, u64)], k: &str| f.iter().find(|(n, _)| n == k).unwrap().1;
    assert_eq!(get(&f, "size"), 4096);
    assert!(get(&f, "in_use") >= 5, "{f:?}");
    assert_eq!(get(&f, "in_use") + get(&f, "available"), 4096);
    drop(held);
    let f = pool_figures(&mut l);
    assert_eq!(get(&f, "in_use"), l.pool.in_use() as u64);
    assert_eq!(get(&f, "in_use") + get(&f, "available"), 4096);
    l.finish();
}

const ANSWERING: PeerMode = PeerMode {
    answer_arp: true,
    answer_echo: true,
    claim_node_ip: false,
};

const SILENT: PeerMode = PeerMode {
    answer_arp: false,
    answer_echo: false,
    claim_node_ip: false,
};

impl Lab {
    /// ARP requests the node sent for the peer.
    fn requests_for_peer(&self) -> usize {
        self.arp_frames_seen(|a| {
            a.operation == arp::Operation::REQUEST && a.target_protocol_addr == PEER_IP
        })
    }
}

/// `[arp_tunables] cache_life_unused`: an entry nobody uses is removed after it (2 minutes by
/// default); `cache_life_max`: one in use is still removed after it (10 minutes by default)
/// and resolved again.
#[test]
fn cache_life_unused_and_cache_life_max_age_the_neighbours() {
    // Unused for 40 s: kept by default, gone with a 30 s life.
    for (sections, kept) in [
        ("", true),
        ("[arp_tunables]\ncache_life_unused = \"30s\"\n", false),
    ] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        l.ping_from_peer(1);
        l.run_for(Nanos::from_millis(100));
        assert_eq!(l.arp_entries().len(), 1, "learned ({sections:?})");
        l.run_for(Nanos::from_secs(40));
        assert_eq!(l.arp_entries().len() == 1, kept, "{sections:?}");
        l.finish();
    }
    // In use (an echo reply every 10 s) for 75 s: resolved once by default, again after a
    // 1-minute maximum life.
    for (sections, requests) in [
        ("", 1),
        (
            "[arp_tunables]\ncache_life_unused = \"30s\"\ncache_life_max = \"1m\"\n",
            2,
        ),
    ] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        for seq in 1..=8 {
            l.ping_from_peer(seq);
            l.run_for(Nanos::from_secs(10));
        }
        assert_eq!(l.echo_replies_seen(), 8);
        assert_eq!(l.requests_for_peer(), requests, "{sections:?}");
        l.finish();
    }
}

/// When each ARP request for the silent peer left (ms after the ping), and when the
/// resolution failed.
fn resolution_timeline(sections: &str) -> (Vec<u64>, u64) {
    let mut l = lab_from_file(SILENT, sections);
    // Duplicate address detection takes `retry_count` rounds a second apart.
    l.run_for(Nanos::from_secs(6));
    let start = l.now();
    let _rx = l.request(Request::Ping {
        dst: PEER_IP,
        count: 1,
        size: 8,
        dont_frag: false,
        ttl: None,
        timeout_ms: 20_000,
        interval_ms: 0,
    });
    let (mut sent, mut failed) = (Vec::new(), None);
    while l.now() < start + Nanos::from_secs(15) {
        l.run_for(STEP);
        let at = (l.now() - start).as_millis();
        while sent.len() < l.requests_for_peer() {
            sent.push(at);
        }
        if failed.is_none() && l.node.workers[0].l2.drop_resolution_failed > 0 {
            failed = Some(at);
        }
    }
    l.finish();
    (sent, failed.expect("the resolution failed"))
}

/// `[arp_tunables] retry_count` requests for an unresolved neighbour, the first
/// `retry_interval` apart and doubling, before it is declared unreachable.
#[test]
fn retry_count_and_retry_interval_pace_the_resolution() {
    // Seen a step (10 ms) late or early: to the nearest 100 ms.
    let round = |ms: u64| (ms + 50) / 100 * 100;
    let gaps = |t: &[u64]| t.windows(2).map(|w| round(w[1] - w[0])).collect::<Vec<_>>();
    let (sent, failed) = resolution_timeline("");
    assert_eq!(gaps(&sent), [1000, 2000], "{sent:?}");
    assert_eq!(round(failed - sent[0]), 7000);
    let (sent, failed) =
        resolution_timeline("[arp_tunables]\nretry_count = 5\nretry_interval = \"200ms\"\n");
    assert_eq!(gaps(&sent), [200, 400, 800, 1600], "{sent:?}");
    assert_eq!(round(failed - sent[0]), 6200);
}

/// `[arp_tunables] pending_per_neighbor`: datagrams waiting for one neighbour's resolution;
/// the rest are dropped at once.
#[test]
fn pending_per_neighbor_bounds_what_waits_for_resolution() {
    for (sections, queued) in [("", 16), ("[arp_tunables]\npending_per_neighbor = 4\n", 4)] {
        let mut l = lab_from_file(SILENT, sections);
        l.run_for(Nanos::from_millis(3500));
        let _rx = l.request(Request::Ping {
            dst: PEER_IP,
            count: 20,
            size: 8,
            dont_frag: false,
            ttl: None,
            timeout_ms: 10_000,
            interval_ms: 0,
        });
        l.run_for(Nanos::from_millis(200));
        let l2 = &l.node.workers[0].l2;
        assert_eq!(
            (l2.arp_queued, l2.drop_pending_full),
            (queued, 20 - queued),
            "{sections:?}"
        );
        l.finish();
    }
}

/// `[arp_tunables] max_entries`: the neighbour table holds that many; later neighbours are
/// not learned.
#[test]
fn max_entries_bounds_the_neighbour_table() {
    for (sections, entries) in [("", 20), ("[arp_tunables]\nmax_entries = 16\n", 16)] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        // Twenty hosts ask for our address: each asker is learned (RFC 826).
        for i in 0..20u8 {
            let r = arp::Repr::request(PEER_MAC, Ipv4Addr::new(198, 18, 0, 100 + i), NODE_IP);
            l.send(&arp_frame(MacAddr::BROADCAST, r));
        }
        l.run_for(Nanos::from_millis(200));
        assert_eq!(l.arp_entries().len(), entries, "{sections:?}");
        l.finish();
    }
}

/// `[arp_tunables] duplicate_detection`: with it, a host already holding our address gets
/// it disabled after the probes; without it, nothing is probed and the address is used.
#[test]
fn duplicate_detection_off_uses_the_address_without_probing() {
    let claimant = PeerMode {
        claim_node_ip: true,
        ..ANSWERING
    };
    for (sections, probes, state) in [
        // The claimant answers the first probe.
        ("", 1, AddrState::Conflict { mac: PEER_MAC }),
        (
            "[arp_tunables]\nduplicate_detection = false\n",
            0,
            AddrState::Preferred,
        ),
    ] {
        let mut l = lab_from_file(claimant, sections);
        l.run_for(Nanos::from_millis(3500));
        assert_eq!(
            l.arp_frames_seen(|a| a.is_probe() && a.target_protocol_addr == NODE_IP),
            probes,
            "{sections:?}"
        );
        assert_eq!(
            l.node.control.address_state(PortId(0), NODE_IP),
            Some(state),
            "{sections:?}"
        );
        l.finish();
    }
}

/// The UDP side of `[services]`: each service answers on its port when on (the quote is
/// `qotd_text`), and the port is closed (port unreachable) when off.
#[test]
fn udp_services_follow_the_configuration() {
    let on = "[services]\necho = true\ndiscard = true\ndaytime = true\nqotd = true\n\
        chargen = true\nqotd_text = \"burst says hi\\r\\n\"\n";
    for (sections, enabled) in [(on, true), ("", false)] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        let before = l.seen.len();
        for port in [7, 9, 13, 17, 19] {
            l.send(&udp_frame(port, b"ping"));
        }
        l.run_for(Nanos::from_millis(200));
        let mut answers = std::collections::BTreeMap::new();
        let mut unreachable = 0;
        for f in &l.seen[before..] {
            match dissect::parse(f, ChecksumCheck::Verify) {
                Ok(dissect::Frame {
                    network:
                        Network::Ipv4 {
                            transport: Transport::Udp { header, payload },
                            ..
                        },
                    ..
                }) => {
                    answers.insert(header.src_port, payload.to_vec());
                }
                Ok(dissect::Frame {
                    network:
                        Network::Ipv4 {
                            transport:
                                Transport::Icmpv4(icmpv4::Repr::DstUnreachable {
                                    reason: icmpv4::DstUnreachable::PortUnreachable,
                                    ..
                                }),
                            ..
                        },
                    ..
                }) => unreachable += 1,
                _ => {}
            }
        }
        if enabled {
            assert_eq!(unreachable, 0);
            assert_eq!(answers.get(&7).map(Vec::as_slice), Some(&b"ping"[..]));
            assert!(!answers.contains_key(&9), "discard answers nothing");
            assert!(answers[&13].ends_with(b"-UTC\r\n"), "{:?}", answers[&13]);
            assert_eq!(answers[&17], b"burst says hi\r\n");
            let chargen = &answers[&19];
            assert!(
                chargen.len() > 72
                    && chargen.ends_with(b"\r\n")
                    && chargen[..72].iter().all(|b| (32..127).contains(b)),
                "{chargen:?}"
            );
        } else {
            assert!(answers.is_empty(), "{answers:?}");
            assert_eq!(unreachable, 5);
        }
        l.finish();
    }
}

/// `[eal] mbufs`: the pool a worker shares out; a quarter of its half of it is what its UDP
/// sockets may hold (`WorkerBudget`). Four unread sockets offered 60 datagrams each keep all
/// 240 with the default 16383 buffers, and 1023 / 2 / 4 = 127 with 1023 (the rest counted in
/// `udp.drop_budget`).
#[test]
fn mbufs_bound_what_unread_sockets_hold() {
    for (sections, kept) in [("", 240u64), ("[eal]\nmbufs = 1023\n", 127)] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        for i in 0..4 {
            l.node.workers[0]
                .udp
                .bind(Ipv4Addr::UNSPECIFIED, 6000 + i)
                .unwrap();
        }
        for _ in 0..60 {
            for i in 0..4 {
                l.send(&udp_frame(6000 + i, b"nobody reads this"));
            }
            l.run_for(STEP);
        }
        let s = &l.node.workers[0].udp.stats;
        assert_eq!(
            (s.in_datagrams, s.drop_budget),
            (kept, 240 - kept),
            "{sections:?}"
        );
        l.finish();
    }
}
