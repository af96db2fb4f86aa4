//! The lab: one node on the in-memory wire with a scripted peer, its builders and helpers.

pub(crate) use std::net::Ipv4Addr;
pub(crate) use std::sync::mpsc;

pub(crate) use burst_port::clock::{Clock, VirtualClock};
pub(crate) use burst_port::mem::{MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig};
pub(crate) use burst_port::{Batch, Capabilities, Nanos, PacketBuf, Port, Queue};
pub(crate) use burst_runtime::control::Command;
pub(crate) use burst_runtime::ctl::{EchoOutcome, Request, Response};
pub(crate) use burst_runtime::node::{Node, NodeConfig, NodePort};
pub(crate) use burst_stack::arp::{AddrState, ArpConfig};
pub(crate) use burst_stack::filter::{Direction, Rule};
pub(crate) use burst_stack::icmp::IcmpConfig;
pub(crate) use burst_stack::ipv4::Ipv4Config;
pub(crate) use burst_stack::PortId;
pub(crate) use burst_wire::dissect::{self, Network, Transport};
pub(crate) use burst_wire::ethernet::{self, EtherType, MacAddr};
pub(crate) use burst_wire::ipv4::{self, Protocol};
pub(crate) use burst_wire::{arp, icmpv4, ChecksumCheck, ChecksumMode};

pub(crate) const NODE_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 2);
pub(crate) const PEER_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 1);
pub(crate) const NODE_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub(crate) const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub(crate) const STEP: Nanos = Nanos::from_millis(10);

/// How the scripted peer behaves.
#[derive(Default, Clone, Copy)]
pub(crate) struct PeerMode {
    /// Answer ARP requests for PEER_IP.
    pub(crate) answer_arp: bool,
    /// Answer echo requests.
    pub(crate) answer_echo: bool,
    /// Claim NODE_IP: answer probes/requests for it (a host already holding our address).
    pub(crate) claim_node_ip: bool,
}

pub(crate) struct Lab {
    pub(crate) clock: VirtualClock,
    pub(crate) wire: Wire,
    pub(crate) pool: MemPool,
    pub(crate) node: Node<MemPort>,
    pub(crate) peer: MemQueue,
    pub(crate) _peer_port: MemPort,
    pub(crate) mode: PeerMode,
    /// Every frame the peer received, dissected summaries.
    pub(crate) seen: Vec<Vec<u8>>,
}

pub(crate) fn lab(mode: PeerMode, workers: usize) -> Lab {
    lab_with(mode, workers, Default::default())
}

pub(crate) fn lab_with(
    mode: PeerMode,
    workers: usize,
    filtering: burst_stack::udp::Filtering,
) -> Lab {
    lab_full(mode, workers, filtering, vec![])
}

pub(crate) fn lab_full(
    mode: PeerMode,
    workers: usize,
    filtering: burst_stack::udp::Filtering,
    routes: Vec<burst_runtime::node::NodeRoute>,
) -> Lab {
    lab_filters(mode, workers, filtering, routes, vec![])
}

pub(crate) fn lab_filters(
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
pub(crate) fn lab_from_file(mode: PeerMode, sections: &str) -> Lab {
    let text = format!(
        "[backend]\nkind = \"mem\"\n[[port]]\nname = \"p0\"\naddresses = [\"198.18.0.2/24\"]\n\
         {sections}"
    );
    let c = burst_runtime::config::Config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    build(mode, &NodeConfig::from(&c))
}

/// A node with `cfg` (one port, p0) on a wire shared with the scripted peer.
pub(crate) fn build(mode: PeerMode, cfg: &NodeConfig) -> Lab {
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

pub(crate) fn frame(dst: MacAddr, ethertype: EtherType, body: &[u8]) -> Vec<u8> {
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

pub(crate) fn arp_frame(dst: MacAddr, r: arp::Repr) -> Vec<u8> {
    let mut b = [0u8; 28];
    r.emit(&mut arp::Packet::new_unchecked(&mut b[..]));
    frame(dst, EtherType::ARP, &b)
}

pub(crate) fn icmp_frame(msg: icmpv4::Repr<'_>, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut d = vec![0u8; 20 + msg.buffer_len()];
    burst_stack::icmp::emit(&msg, src, dst, 64, false, &mut d);
    frame(NODE_MAC, EtherType::IPV4, &d)
}

impl Lab {
    pub(crate) fn now(&self) -> Nanos {
        self.clock.now()
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        let mut b = self.peer.alloc().unwrap();
        b.append(bytes.len()).unwrap().copy_from_slice(bytes);
        let mut batch = Batch::new();
        batch.push(b).unwrap();
        assert_eq!(self.peer.tx_burst(&mut batch), 1);
    }

    /// The peer's side of one step: receive, record, answer per its mode.
    pub(crate) fn peer_step(&mut self) {
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
    pub(crate) fn run_for(&mut self, d: Nanos) {
        let end = self.now() + d;
        while self.now() < end {
            self.node.step(self.now());
            self.wire.deliver_due();
            self.peer_step();
            self.node.step(self.now());
            self.clock.advance(STEP);
        }
    }

    pub(crate) fn request(&mut self, req: Request) -> mpsc::Receiver<Response> {
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

    pub(crate) fn arp_entries(&mut self) -> Vec<(Ipv4Addr, String)> {
        let rx = self.request(Request::ArpShow);
        self.run_for(STEP);
        match rx.try_recv().unwrap() {
            Response::Arp { entries } => entries.into_iter().map(|e| (e.ip, e.kind)).collect(),
            r => panic!("{r:?}"),
        }
    }

    pub(crate) fn arp_frames_seen(&self, pred: impl Fn(&arp::Repr) -> bool) -> usize {
        self.seen
            .iter()
            .filter(|f| matches!(dissect::parse(f, ChecksumCheck::Verify), Ok(dissect::Frame { network: Network::Arp(a), .. }) if pred(&a)))
            .count()
    }

    pub(crate) fn echo_requests_seen(&self) -> usize {
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

    pub(crate) fn ping_from_peer(&mut self, seq: u16) {
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

    pub(crate) fn echo_replies_seen(&self) -> usize {
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

    pub(crate) fn finish(self) {
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

pub(crate) const ANSWERING: PeerMode = PeerMode {
    answer_arp: true,
    answer_echo: true,
    claim_node_ip: false,
};

pub(crate) const SILENT: PeerMode = PeerMode {
    answer_arp: false,
    answer_echo: false,
    claim_node_ip: false,
};

impl Lab {
    /// ARP requests the node sent for the peer.
    pub(crate) fn requests_for_peer(&self) -> usize {
        self.arp_frames_seen(|a| {
            a.operation == arp::Operation::REQUEST && a.target_protocol_addr == PEER_IP
        })
    }
}
