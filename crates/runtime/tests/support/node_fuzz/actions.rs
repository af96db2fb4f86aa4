//! The script's actions, one method each: frames of every protocol, clock advances, ctl
//! requests, the node's own sockets, the peers' modes.

use super::*;

impl Lab {
    pub(super) fn raw(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let len = usize::from(inp.u16()) % 2100;
        let mut body = inp.bytes(len.min(96));
        body.extend(pattern(len.saturating_sub(body.len()), 0x3c));
        let peer = &self.peers[p];
        let frame = match inp.pick(&[0u8, 1, 2, 3, 4]) {
            0 => eth(peer.node_mac, peer.mac, EtherType::IPV4, &body),
            1 => eth(peer.node_mac, peer.mac, EtherType(0x8100), &body),
            2 => eth(MacAddr::BROADCAST, peer.mac, EtherType::ARP, &body),
            3 => eth(peer.node_mac, peer.mac, EtherType(0x86dd), &body),
            _ => body,
        };
        self.peers[p].send(&frame);
    }

    pub(super) fn arp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let peer = &self.peers[p];
        let [a, b, c] = peer.net;
        let op = inp.pick(&[1u16, 2, 1, 2, 3, 0]);
        let sha = inp.pick(&[
            peer.mac,
            peer.mac,
            MacAddr::new(2, 0x55, 0, 0, 0, 5),
            peer.node_mac,
            MacAddr::BROADCAST,
            MacAddr::ZERO,
        ]);
        let spa = inp.pick(&[
            peer.ip,
            Ipv4Addr::new(a, b, c, 5),
            Ipv4Addr::UNSPECIFIED,
            peer.node_ip,
            Ipv4Addr::new(198, 19, 0, 1),
            Ipv4Addr::new(a, b, c, 255),
            Ipv4Addr::new(224, 0, 0, 1),
        ]);
        let tha = inp.pick(&[MacAddr::ZERO, peer.node_mac, MacAddr::BROADCAST]);
        let tpa = inp.pick(&[
            peer.node_ip,
            peer.ip,
            Ipv4Addr::new(a, b, c, 5),
            spa,
            Ipv4Addr::new(198, 19, 0, 1),
        ]);
        let dst = inp.pick(&[
            MacAddr::BROADCAST,
            peer.node_mac,
            MacAddr::new(2, 0x99, 0, 0, 0, 1),
        ]);
        let mut r = vec![0u8; 28];
        r[..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
        match inp.pick(&[0u8, 0, 0, 0, 1, 2, 3]) {
            0 => {}
            1 => r[1] = 6,
            2 => r[4] = 8,
            _ => r.truncate(usize::from(inp.u8()) % 28),
        }
        if r.len() == 28 {
            r[6..8].copy_from_slice(&op.to_be_bytes());
            r[8..14].copy_from_slice(&sha.0);
            r[14..18].copy_from_slice(&spa.octets());
            r[18..24].copy_from_slice(&tha.0);
            r[24..28].copy_from_slice(&tpa.octets());
        }
        let f = eth(dst, sha, EtherType::ARP, &r);
        self.peers[p].send(&f);
    }

    /// A datagram of any protocol, with options and fragments as the input asks.
    pub(super) fn ip(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let src = self.src_choice(inp, p);
        let dst = self.dst_choice(inp, p);
        let proto = inp.pick(&[17u8, 6, 1, 2, 47, 50, 99, 0]);
        let body = payload(inp);
        let seg = match proto {
            17 => {
                let dport = inp_port(inp, &[7, 9, 5000, 4444]);
                udp_segment(inp, src, dst, 40000, dport, &body)
            }
            6 => {
                let sport = 40000 + u16::from(inp.u8() % 4);
                let dport = inp_port(inp, &[80, 7, 5001, 81]);
                let flags = inp.pick(&[0x02u8, 0x10, 0x12, 0x04, 0x18, 0x11]);
                let seq = inp.u32();
                tcp_segment(inp, src, dst, sport, dport, seq, 0, flags, 8192, &[], &body)
            }
            1 => icmp_message(8, 0, [0, 7, 0, 1], &body),
            _ => body,
        };
        let h = IpHdr::fuzz(inp, src, dst, proto);
        let ds = h.datagrams(inp, &seg);
        let mac = self.dst_mac(inp, p, dst);
        self.peers[p].send_ip(mac, ds);
    }

    pub(super) fn udp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let src = self.src_choice(inp, p);
        let dst = self.dst_choice(inp, p);
        let sport = inp.pick(&[40000u16, 7, 19, 0, 5000]);
        let dport = inp_port(inp, &[7, 9, 13, 17, 19, 5000, 4444, 0, 53, 5001]);
        let body = payload(inp);
        let seg = udp_segment(inp, src, dst, sport, dport, &body);
        let h = IpHdr::plain(src, dst, 17);
        let ds = if inp.bool() {
            IpHdr::fuzz(inp, src, dst, 17).datagrams(inp, &seg)
        } else {
            h.datagrams(inp, &seg)
        };
        let mac = self.dst_mac(inp, p, dst);
        self.peers[p].send_ip(mac, ds);
    }

    /// A TCP segment on a connection the peer tracks (sequence and acknowledgment numbers
    /// following the node's), or on a new one.
    pub(super) fn tcp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let existing = inp.pick(&[true, true, false]) && !self.peers[p].tcbs.is_empty();
        let t = if existing {
            let i = usize::from(inp.u8()) % self.peers[p].tcbs.len();
            self.peers[p].tcbs[i]
        } else {
            let peer_ip = self.src_choice(inp, p);
            let peer_port = 40000 + u16::from(inp.u8() % 4);
            let node_port = inp_port(inp, &[80, 7, 9, 13, 17, 19, 5001, 81, 5000]);
            let t = Tcb {
                peer_ip,
                peer_port,
                node_port,
                peer_nxt: inp.u32(),
                node_nxt: 0,
                node_ack: 0,
            };
            let peer = &mut self.peers[p];
            if peer.tcb(peer_ip, peer_port, node_port).is_none() {
                if peer.tcbs.len() >= MAX_HANDLES {
                    peer.tcbs.pop_front();
                }
                peer.tcbs.push_back(t);
            }
            t
        };
        let flags = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
            0 => 0x10, // ACK
            1 => 0x02, // SYN
            2 => 0x18, // PSH ACK
            3 => 0x11, // FIN ACK
            4 => 0x12, // SYN ACK
            5 => 0x04, // RST
            6 => 0x14, // RST ACK
            7 => 0x01, // FIN
            8 => 0x30, // URG ACK
            9 => 0,
            _ => inp.u8(),
        };
        let seq = match inp.pick(&[0u8, 0, 0, 1, 2, 3]) {
            0 => t.peer_nxt,
            1 => t
                .peer_nxt
                .wrapping_add((i32::from(inp.u8() as i8) * 64) as u32),
            2 => inp.u32(),
            _ => t.peer_nxt.wrapping_sub(1),
        };
        let ack = match inp.pick(&[0u8, 0, 0, 1, 2, 3]) {
            0 => t.node_nxt,
            1 => t
                .node_nxt
                .wrapping_add((i32::from(inp.u8() as i8) * 64) as u32),
            2 => inp.u32(),
            _ => t.node_ack,
        };
        let window = inp.pick(&[65535u16, 8192, 0, 1, 512]);
        let options: Vec<u8> = match inp.pick(&[0u8, 0, 1, 2, 3, 4, 5]) {
            // MSS 1460, window scale 7, SACK permitted (no timestamps: later segments of
            // the scripts carry none, and a connection that negotiated them drops those).
            0 if flags & 0x02 != 0 => vec![2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1],
            0 => Vec::new(),
            1 => vec![2, 4, inp.u8(), inp.u8()],
            2 => {
                let mut v = vec![1, 1, 8, 10];
                v.extend(inp.u32().to_be_bytes());
                v.extend(inp.u32().to_be_bytes());
                v
            }
            3 => {
                // SACK blocks around what the node sent.
                let l = t.node_nxt.wrapping_sub(u32::from(inp.u16()));
                let r = l.wrapping_add(u32::from(inp.u16()));
                let mut v = vec![1, 1, 5, 10];
                v.extend(l.to_be_bytes());
                v.extend(r.to_be_bytes());
                v
            }
            4 => vec![1, 3, 3, inp.u8(), 4, 2],
            _ => {
                let n = usize::from(inp.u8() % 41);
                inp.bytes(n)
            }
        };
        let body = if t.node_port == 80 && inp.pick(&[true, false]) {
            match inp.pick(&[0u8, 1, 2]) {
                0 => b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                1 => b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
                _ => b"GET / HTTP/1.0\r\n".to_vec(),
            }
        } else if flags & 0x07 != 0 && inp.pick(&[true, true, false]) {
            Vec::new()
        } else {
            payload(inp)
        };
        let seg = tcp_segment(
            inp,
            t.peer_ip,
            self.peers[p].node_ip,
            t.peer_port,
            t.node_port,
            seq,
            ack,
            flags,
            window,
            &options,
            &body,
        );
        let len = body.len() as u32 + u32::from(flags & 0x02 != 0) + u32::from(flags & 0x01 != 0);
        if std::env::var_os("BURST_FUZZ_DEBUG").is_some() {
            eprintln!(
                "    peer → :{} from {}:{} seq {seq} ack {ack} flags {flags:#x} len {len}",
                t.node_port, t.peer_ip, t.peer_port
            );
        }
        if let Some(t) = self.peers[p].tcb(t.peer_ip, t.peer_port, t.node_port) {
            t.peer_nxt = seq.wrapping_add(len);
        }
        let node_ip = self.peers[p].node_ip;
        let h = if inp.pick(&[false, false, false, true]) {
            IpHdr::fuzz(inp, t.peer_ip, node_ip, 6)
        } else {
            IpHdr::plain(t.peer_ip, node_ip, 6)
        };
        let ds = h.datagrams(inp, &seg);
        let mac = self.peers[p].node_mac;
        self.peers[p].send_ip(mac, ds);
    }

    pub(super) fn icmp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let src = self.src_choice(inp, p);
        let dst = self.dst_choice(inp, p);
        let data = payload(inp);
        let m = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6, 7]) {
            0 => icmp_message(8, 0, [0, 7, 0, 1], &data),
            // An echo reply with a ctl session's identifier.
            1 => icmp_message(0, 0, [0xb5, inp.u8(), 0, inp.u8()], &data),
            2 => icmp_message(13, 0, [0, 1, 0, 1], &[0u8; 12]),
            3 => icmp_message(
                inp.u8(),
                inp.u8(),
                [inp.u8(), inp.u8(), inp.u8(), inp.u8()],
                &data,
            ),
            4 => {
                let mut m = icmp_message(8, 0, [0, 7, 0, 2], &data);
                m[2] ^= 1;
                m
            }
            // Router discovery: an advertisement listing up to 3 routers (the peer, a
            // neighbour, anything) with any preference and lifetime, or a solicitation.
            6 => {
                let n = 1 + inp.u8() % 3;
                let mut entries = Vec::new();
                for _ in 0..n {
                    let addr = match inp.u8() % 3 {
                        0 => self.peers[p].ip,
                        1 => std::net::Ipv4Addr::new(198, 18, 1 + (inp.u8() % 2), inp.u8()),
                        _ => std::net::Ipv4Addr::from([inp.u8(), inp.u8(), inp.u8(), inp.u8()]),
                    };
                    entries.extend_from_slice(&addr.octets());
                    entries.extend_from_slice(&[inp.u8(), inp.u8(), inp.u8(), inp.u8()]);
                }
                let lifetime = [0, 0, inp.u8(), inp.u8()];
                icmp_message(9, 0, [n, 2, lifetime[2] % 4, lifetime[3]], &entries)
            }
            7 => icmp_message(10, 0, [0; 4], &[]),
            _ => data.get(..3).unwrap_or(&[]).to_vec(),
        };
        let h = IpHdr::fuzz(inp, src, dst, 1);
        let ds = h.datagrams(inp, &m);
        let mac = self.dst_mac(inp, p, dst);
        self.peers[p].send_ip(mac, ds);
    }

    /// An ICMP error quoting one of the node's own datagrams (or bytes), from the peer or a
    /// router-like address.
    pub(super) fn icmp_error(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let peer = &self.peers[p];
        let bytes_instead = inp.pick(&[false, false, false, true]);
        let quoted = if peer.from_node.is_empty() || bytes_instead {
            let n = usize::from(inp.u8() % 64);
            inp.bytes(n)
        } else {
            let i = usize::from(inp.u8()) % peer.from_node.len();
            let d = &peer.from_node[peer.from_node.len() - 1 - i];
            let hl = usize::from(d[0] & 0x0f) * 4;
            let n = match inp.pick(&[0u8, 1, 2, 3]) {
                0 => hl + 8,
                1 => d.len(),
                2 => usize::from(inp.u8()),
                _ => hl.saturating_sub(1),
            };
            d[..n.min(d.len())].to_vec()
        };
        let (typ, code, rest) = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6, 7]) {
            // Fragmentation needed with a next-hop MTU.
            0 => (3, 4, {
                let mtu = inp.pick(&[576u16, 1280, 68, 0, 1000, 9000, 300]);
                [0, 0, (mtu >> 8) as u8, mtu as u8]
            }),
            1 => (3, inp.u8() % 16, [0; 4]),
            2 => (11, inp.u8() % 2, [0; 4]),
            3 => {
                let [a, b, c] = peer.net;
                (
                    5,
                    inp.u8() % 4,
                    inp.pick(&[
                        [a, b, c, 7],
                        peer.ip.octets(),
                        peer.node_ip.octets(),
                        [198, 19, 0, 1],
                        [0, 0, 0, 0],
                    ]),
                )
            }
            4 => (4, 0, [0; 4]),
            5 => (12, 0, [inp.u8(), 0, 0, 0]),
            6 => (3, 3, [0; 4]),
            _ => (inp.u8(), inp.u8(), [0; 4]),
        };
        let m = icmp_message(typ, code, rest, &quoted);
        let src = inp.pick(&[
            peer.ip,
            Ipv4Addr::new(198, 19, 0, 1),
            Ipv4Addr::new(peer.net[0], peer.net[1], peer.net[2], 7),
        ]);
        let h = IpHdr::plain(src, peer.node_ip, 1);
        let ds = h.datagrams(inp, &m);
        let mac = peer.node_mac;
        self.peers[p].send_ip(mac, ds);
    }

    pub(super) fn igmp(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let src = self.src_choice(inp, p);
        let group = inp.pick(&[
            GROUP,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(239, 9, 9, 9),
            Ipv4Addr::new(224, 0, 0, 1),
        ]);
        let (m, dst) = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6]) {
            // v3 query with sources.
            0 => {
                let n = usize::from(inp.u8() % 5);
                let mut m = vec![0x11, inp.pick(&[20, 0, 100, 255]), 0, 0];
                m.extend(group.octets());
                m.extend([2, 125]);
                m.extend((n as u16).to_be_bytes());
                for i in 0..n {
                    m.extend([198, 18, 0, i as u8 + 1]);
                }
                (
                    m,
                    if group.is_unspecified() {
                        Ipv4Addr::new(224, 0, 0, 1)
                    } else {
                        group
                    },
                )
            }
            // v2 query.
            1 => {
                let mut m = vec![0x11, inp.u8(), 0, 0];
                m.extend(group.octets());
                (m, Ipv4Addr::new(224, 0, 0, 1))
            }
            // v1 query.
            2 => (vec![0x11, 0, 0, 0, 0, 0, 0, 0], Ipv4Addr::new(224, 0, 0, 1)),
            // v2 report, leave.
            3 => {
                let mut m = vec![0x16, 0, 0, 0];
                m.extend(group.octets());
                (m, group)
            }
            4 => {
                let mut m = vec![0x17, 0, 0, 0];
                m.extend(group.octets());
                (m, Ipv4Addr::new(224, 0, 0, 2))
            }
            // v3 report with a record.
            5 => {
                let mut m = vec![
                    0x22,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    1,
                    inp.pick(&[1, 2, 3, 4, 5, 6]),
                    0,
                    0,
                    0,
                ];
                m.extend(group.octets());
                (m, Ipv4Addr::new(224, 0, 0, 22))
            }
            _ => {
                let n = usize::from(inp.u8() % 32);
                (inp.bytes(n), Ipv4Addr::new(224, 0, 0, 1))
            }
        };
        let mut m = m;
        if m.len() >= 4 && inp.pick(&[true, true, true, false]) {
            m[2] = 0;
            m[3] = 0;
            let c = checksum::checksum(&m);
            m[2..4].copy_from_slice(&c.to_be_bytes());
        }
        let h = IpHdr {
            ttl: 1,
            options: vec![148, 4, 0, 0],
            ..IpHdr::plain(src, dst, 2)
        };
        let ds = h.datagrams(inp, &m);
        let mac = MacAddr::from_ipv4_multicast(dst).unwrap_or(MacAddr::BROADCAST);
        self.peers[p].send_ip(mac, ds);
    }

    pub(super) fn advance(&mut self, inp: &mut Input<'_>) {
        let d = inp.pick(&[
            Nanos::from_millis(10),
            Nanos::from_millis(1),
            Nanos::from_millis(100),
            Nanos::from_millis(250),
            Nanos::from_secs(1),
            Nanos::from_secs(3),
            Nanos::from_secs(10),
            Nanos::from_secs(61),
        ]);
        let d = d.min(MAX_SCRIPT_TIME.saturating_sub(self.script_time));
        self.script_time += d;
        let step = if d > Nanos::from_secs(5) {
            Nanos::from_millis(500)
        } else {
            Nanos::from_millis(50)
        };
        self.run_for(d, step);
    }

    pub(super) fn ctl(&mut self, inp: &mut Input<'_>) {
        let port = inp.pick(&self.port_names.clone());
        let dir = inp.pick(&["in", "out", "in", "both"]);
        let ip = |inp: &mut Input<'_>| {
            inp.pick(&[
                PEER_IP,
                B_IP,
                A_IP,
                Ipv4Addr::new(198, 18, 0, 77),
                Ipv4Addr::new(198, 19, 1, 1),
                NODE_IP,
                R_A_IP,
                Ipv4Addr::new(198, 18, 2, 77),
                Ipv4Addr::BROADCAST,
                GROUP,
            ])
        };
        let prefix = |inp: &mut Input<'_>| {
            inp.pick(&[
                "198.19.0.0/16",
                "198.19.1.0/24",
                "0.0.0.0/0",
                "198.18.0.0/24",
                "198.19.1.1/32",
                "198.19.254.0/23",
                "198.18.2.0/24",
                "not a prefix",
                "198.19.0.0/33",
            ])
            .to_string()
        };
        let req = match inp.u8() % 15 {
            0 => {
                let opts = [
                    "--proto tcp",
                    "--proto udp",
                    "--proto icmp",
                    "--proto 47",
                    "--dport 80",
                    "--dport 5000-5010",
                    "--sport 7",
                    "--src 198.18.0.1/32",
                    "--dst 198.18.2.0/24",
                    "--flags syn",
                    "--bogus",
                ];
                let mut rule = String::new();
                for _ in 0..usize::from(inp.u8() % 4) {
                    rule.push_str(inp.pick(&opts));
                    rule.push(' ');
                }
                rule.push_str(inp.pick(&["deny", "permit", "count", ""]));
                if dir != "in" {
                    self.out_filters = true;
                }
                Request::FilterAdd {
                    port: port.into(),
                    dir: dir.into(),
                    rule,
                    index: inp.pick(&[None, Some(0), Some(1), Some(5)]),
                }
            }
            1 => Request::FilterDelete {
                port: port.into(),
                dir: dir.into(),
                index: usize::from(inp.u8() % 4),
            },
            2 => Request::RouteAdd {
                prefix: prefix(inp),
                via: ip(inp),
                metric: inp.pick(&[None, Some(1), Some(0), Some(u32::MAX)]),
            },
            3 => Request::RouteDelete {
                prefix: prefix(inp),
            },
            4 => Request::ArpAdd {
                ip: ip(inp),
                mac: inp
                    .pick(&[
                        "02:00:00:00:00:77",
                        "02:77:c6:12:00:01",
                        "ff:ff:ff:ff:ff:ff",
                        "nonsense",
                    ])
                    .into(),
                port: match inp.u8() % 3 {
                    0 => None,
                    1 => Some(port.to_string()),
                    _ => Some("zz".to_string()),
                },
            },
            5 => Request::ArpDelete { ip: ip(inp) },
            6 => Request::Ping {
                dst: ip(inp),
                count: 1 + u32::from(inp.u8() % 3),
                size: inp.pick(&[8u16, 1000, 1473, 4000, 20000, 65507, 0]),
                dont_frag: inp.bool(),
                ttl: inp.pick(&[None, Some(1), Some(64)]),
                timeout_ms: inp.pick(&[1000, 100, 5000]),
                interval_ms: inp.pick(&[0, 100]),
            },
            7 => Request::Tracert {
                dst: ip(inp),
                max_hops: 1 + inp.u8() % 4,
                timeout_ms: 500,
            },
            8 => Request::Trace {
                count: 1 + u32::from(inp.u8() % 4),
                timeout_ms: 1000,
            },
            9 => Request::Stats,
            10 => Request::ArpShow,
            11 => Request::RoutePrint,
            12 => Request::FilterList,
            13 => Request::Igmp,
            _ => Request::Netstat,
        };
        // Now and then the client goes away before the answer.
        let keep = inp.pick(&[true, true, true, false]);
        self.request(req, keep);
    }

    /// The node's own sockets: connect, send, read, close, shut down, abort, accept, UDP.
    pub(super) fn app(&mut self, inp: &mut Input<'_>) {
        let nw = self.workers();
        let now = self.now();
        let w = usize::from(inp.u8()) % nw;
        let pick_handle = |lab: &Lab, inp: &mut Input<'_>| {
            let i = usize::from(inp.u8());
            (!lab.handles.is_empty()).then(|| lab.handles[i % lab.handles.len()])
        };
        match inp.u8() % 10 {
            0 => {
                let dst = if self.router {
                    inp.pick(&[B_IP, A_IP, Ipv4Addr::new(198, 19, 1, 1), R_A_IP])
                } else {
                    inp.pick(&[
                        PEER_IP,
                        Ipv4Addr::new(198, 19, 1, 1),
                        Ipv4Addr::new(198, 18, 0, 77),
                        NODE_IP,
                    ])
                };
                let port = inp.pick(&[5002u16, 80, 7, 81]);
                if self.handles.len() < MAX_HANDLES {
                    if let Ok(h) = self.node().workers[w].tcp_connect(now, (dst, port)) {
                        self.handles.push((w, h));
                    }
                }
            }
            1 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let n = inp.pick(&[100usize, 1, 1460, 5000, 40000]);
                    let data = pattern(n, 0x42);
                    let _ = self.node().workers[w].tcp().send(h, &data);
                }
            }
            2 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = self.node().workers[w].tcp().recv(h, &mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                }
            }
            3 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let _ = self.node().workers[w].tcp().close(h);
                }
            }
            4 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let _ = self.node().workers[w].tcp().shutdown_write(h);
                }
            }
            5 => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let _ = self.node().workers[w].tcp().abort(h);
                }
            }
            6 => {
                let ls = self.listeners.clone();
                for (w, l) in ls {
                    while self.handles.len() < MAX_HANDLES {
                        let Some(h) = self.node().workers[w].tcp().accept(l) else {
                            break;
                        };
                        self.handles.push((w, h));
                    }
                }
            }
            7 => self.drain_udp(),
            8 => {
                let dst = inp.pick(&[
                    PEER_IP,
                    B_IP,
                    Ipv4Addr::new(198, 18, 0, 255),
                    GROUP,
                    Ipv4Addr::new(198, 19, 1, 1),
                ]);
                let n = inp.pick(&[8usize, 1472, 3000, 0]);
                let data = pattern(n, 0x17);
                let _ = self.node().workers[w].udp_send(None, 5000, dst, 9, &data, now);
            }
            _ => {
                if let Some((w, h)) = pick_handle(self, inp) {
                    let ka = KeepAlive {
                        time: Nanos::from_secs(5),
                        interval: Nanos::from_secs(1),
                        probes: 2,
                    };
                    let on = inp.bool();
                    let _ = self.node().workers[w]
                        .tcp()
                        .set_keepalive(now, h, on.then_some(ka));
                }
            }
        }
    }

    pub(super) fn peer_mode(&mut self, inp: &mut Input<'_>) {
        let p = self.peer_choice(inp);
        let m = inp.u8();
        self.peers[p].answer_arp = m & 1 == 0;
        self.peers[p].answer_echo = m & 2 == 0;
    }
}
