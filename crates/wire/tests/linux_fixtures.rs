//! Real packets from a peer we did not write: frames the Linux kernel sent inside network
//! namespaces (`scripts/capture-fixtures.sh`). Every frame must parse with checksums verified
//! and re-emit byte-exact; each file's content is then checked for what it was captured to show.

mod support;

use std::net::Ipv4Addr;

use burst_wire::dissect::{self, Frame, Network, Transport};
use burst_wire::icmpv4::{self, DstUnreachable};
use burst_wire::ipv4::Protocol;
use burst_wire::{arp, igmp, tcp, ChecksumCheck};
use support::fixtures::{self, Captured};

/// Parses with verification and checks the byte-exact re-emit; returns the dissection.
#[track_caller]
fn verified(c: &Captured) -> Frame<'_> {
    let f = dissect::parse(&c.data, ChecksumCheck::Verify)
        .unwrap_or_else(|e| panic!("{} frame {}: {e}", c.file, c.number));
    let mut buf = vec![0xa5u8; f.buffer_len()];
    let n = f.emit(&mut buf);
    assert_eq!(
        &buf[..n],
        &c.data[..],
        "{} frame {}: re-emit differs",
        c.file,
        c.number
    );
    f
}

fn transport<'a, 'b>(f: &'b Frame<'a>) -> Option<&'b Transport<'a>> {
    match &f.network {
        Network::Ipv4 { transport, .. } => Some(transport),
        _ => None,
    }
}

#[test]
fn every_frame_parses_verifies_and_re_emits_byte_exact() {
    let all = fixtures::all();
    assert!(all.len() >= 50, "only {} fixture frames", all.len());
    for c in &all {
        verified(c);
    }
    // A corrupted copy of every frame must not verify (each checksum is really checked), unless
    // the flipped byte is covered by no checksum (Ethernet header, ARP, trailer, fragments).
    for c in &all {
        let f = verified(c);
        if let Some(
            Transport::Icmpv4(_)
            | Transport::Igmp { .. }
            | Transport::Udp { .. }
            | Transport::Tcp { .. },
        ) = transport(&f)
        {
            let mut bad = c.data.clone();
            let last = bad.len() - 1 - f.trailer.len();
            bad[last] ^= 0x01;
            assert!(
                dissect::parse(&bad, ChecksumCheck::Verify).is_err(),
                "{} frame {}: flipped payload byte still verifies",
                c.file,
                c.number
            );
        }
    }
}

#[test]
fn arp_request_reply_and_gratuitous() {
    let frames = fixtures::load("arp.pcap");
    let arps: Vec<arp::Repr> = frames
        .iter()
        .filter_map(|c| match verified(c).network {
            Network::Arp(a) => Some(a),
            _ => None,
        })
        .collect();
    let req = arps
        .iter()
        .find(|a| a.operation == arp::Operation::REQUEST && !a.is_gratuitous())
        .expect("a request");
    let rep = arps
        .iter()
        .find(|a| a.operation == arp::Operation::REPLY && !a.is_gratuitous())
        .expect("a reply");
    assert_eq!(rep.target_protocol_addr, req.source_protocol_addr);
    assert_eq!(rep.source_protocol_addr, req.target_protocol_addr);
    assert_eq!(rep.target_hardware_addr, req.source_hardware_addr);
    assert!(arps.iter().any(|a| a.is_gratuitous()), "a gratuitous ARP");
}

#[test]
fn ping_echo_pairs_match() {
    let frames = fixtures::load("ping.pcap");
    let mut requests = Vec::new();
    let mut replies = Vec::new();
    for c in &frames {
        let f = verified(c);
        match transport(&f) {
            Some(Transport::Icmpv4(icmpv4::Repr::EchoRequest {
                ident,
                seq_no,
                data,
            })) => requests.push((*ident, *seq_no, data.to_vec())),
            Some(Transport::Icmpv4(icmpv4::Repr::EchoReply {
                ident,
                seq_no,
                data,
            })) => replies.push((*ident, *seq_no, data.to_vec())),
            _ => {}
        }
    }
    assert!(!requests.is_empty());
    assert_eq!(
        requests, replies,
        "every reply echoes its request's id, seq and data"
    );
}

#[test]
fn fragmented_ping_fragments_tile_the_datagram() {
    let frames = fixtures::load("ping-frag.pcap");
    let mut by_id: std::collections::BTreeMap<u16, Vec<(u16, bool, usize)>> = Default::default();
    for c in &frames {
        let f = verified(c);
        let Network::Ipv4 {
            header,
            transport: Transport::Fragment(p),
        } = f.network
        else {
            panic!("{} frame {} is not a fragment", c.file, c.number)
        };
        assert_eq!(header.protocol, Protocol::ICMP);
        by_id.entry(header.ident).or_default().push((
            header.frag_offset,
            header.more_frags,
            p.len(),
        ));
    }
    assert_eq!(by_id.len(), 2, "one datagram each way");
    for frags in by_id.values_mut() {
        frags.sort();
        let mut next = 0u16;
        for &(off, _, len) in frags.iter() {
            assert_eq!(off, next, "fragments are contiguous");
            next += len as u16;
        }
        assert!(!frags.last().unwrap().1, "the last fragment has MF clear");
        // 4000 bytes of ping data + 8 bytes of ICMP header.
        assert_eq!(next, 4008);
    }
}

#[test]
fn tcp_handshake_negotiates_options() {
    let frames = fixtures::load("tcp-handshake.pcap");
    let segs: Vec<tcp::Repr> = frames
        .iter()
        .filter_map(|c| match transport(&verified(c)) {
            Some(Transport::Tcp { header, .. }) => Some(*header),
            _ => None,
        })
        .collect();
    let syn = segs
        .iter()
        .find(|s| s.flags.contains(tcp::Flags::SYN) && !s.flags.contains(tcp::Flags::ACK))
        .expect("SYN");
    let synack = segs
        .iter()
        .find(|s| s.flags.contains(tcp::Flags::SYN | tcp::Flags::ACK))
        .expect("SYN-ACK");
    for s in [syn, synack] {
        assert!(s.options.mss().is_some_and(|m| m >= 536));
        assert!(s.options.sack_permitted());
        assert!(s.options.window_scale().is_some());
        assert!(s.options.timestamp().is_some());
    }
    assert_eq!(synack.ack(), Some(syn.seq + 1));
    assert_eq!(
        synack.options.timestamp().unwrap().1,
        syn.options.timestamp().unwrap().0,
        "TSecr echoes TSval"
    );
    assert!(
        segs.iter().any(|s| s.flags.contains(tcp::Flags::FIN)),
        "the connection closes"
    );
}

#[test]
fn tcp_sack_blocks_lie_above_the_cumulative_ack() {
    let frames = fixtures::load("tcp-sack.pcap");
    let mut seen = 0;
    for c in &frames {
        if let Some(Transport::Tcp { header, .. }) = transport(&verified(c)) {
            if let Some(blocks) = header.options.sack_blocks() {
                let ack = header.ack().expect("SACK rides on an ACK");
                for &(l, r) in blocks.iter() {
                    assert!(tcp::SeqNumber(l) < tcp::SeqNumber(r), "block edges ordered");
                    // D-SACK (RFC 2883) may report a block at or below the ACK; others lie above.
                    if tcp::SeqNumber(r) > ack {
                        assert!(tcp::SeqNumber(l) > ack, "{} frame {}", c.file, c.number);
                    }
                }
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "at least one ACK carries SACK blocks");
}

#[test]
fn udp_to_closed_port_gets_port_unreachable_quoting_it() {
    let frames = fixtures::load("udp-unreach.pcap");
    let fs: Vec<Frame<'_>> = frames.iter().map(verified).collect();
    let (udp_src, udp_dst, ports) = fs
        .iter()
        .find_map(|f| match &f.network {
            Network::Ipv4 {
                header,
                transport: Transport::Udp { header: u, .. },
            } => Some((header.src_addr, header.dst_addr, (u.src_port, u.dst_port))),
            _ => None,
        })
        .expect("the UDP datagram");
    let icmp = fs
        .iter()
        .find_map(|f| match transport(f) {
            Some(Transport::Icmpv4(
                r @ icmpv4::Repr::DstUnreachable {
                    reason: DstUnreachable::PortUnreachable,
                    ..
                },
            )) => Some(*r),
            _ => None,
        })
        .expect("port unreachable");
    let inv = icmp
        .invoking_datagram()
        .expect("quotes a datagram")
        .expect("quote parses");
    assert_eq!(
        (inv.header.src_addr, inv.header.dst_addr),
        (udp_src, udp_dst)
    );
    assert_eq!(inv.header.protocol, Protocol::UDP);
    assert_eq!(inv.ports(), Some(ports));
}

#[test]
fn udp_datagrams_including_odd_lengths() {
    let frames = fixtures::load("udp.pcap");
    let lens: Vec<usize> = frames
        .iter()
        .filter_map(|c| match transport(&verified(c)) {
            Some(Transport::Udp { payload, .. }) => Some(payload.len()),
            _ => None,
        })
        .collect();
    assert!(lens.len() >= 2);
    assert!(
        lens.iter().any(|l| l % 2 == 1),
        "an odd payload length exercises checksum padding"
    );
}

#[test]
fn igmpv3_join_query_and_leave() {
    let frames = fixtures::load("igmpv3.pcap");
    let mut kinds = Vec::new();
    for c in &frames {
        let f = verified(c);
        let Network::Ipv4 {
            header,
            transport: Transport::Igmp { message: r, .. },
        } = f.network
        else {
            continue;
        };
        assert_eq!(header.ttl, 1, "IGMP is link-local (RFC 3376 §4)");
        assert!(header
            .options
            .iter()
            .any(|o| matches!(o, Ok(burst_wire::ipv4::Ipv4Option::RouterAlert(0)))));
        match r {
            igmp::Repr::MembershipReportV3 { records } => {
                assert_eq!(header.dst_addr, Ipv4Addr::new(224, 0, 0, 22));
                for rec in records.iter() {
                    kinds.push(rec.record_type());
                }
            }
            igmp::Repr::MembershipQuery { version, .. } => {
                kinds.push(igmp::RecordType(0x80 | version as u8))
            }
            _ => {}
        }
    }
    assert!(
        kinds.contains(&igmp::RecordType::CHANGE_TO_EXCLUDE_MODE),
        "join"
    );
    assert!(
        kinds.contains(&igmp::RecordType::CHANGE_TO_INCLUDE_MODE),
        "leave"
    );
    assert!(
        kinds.contains(&igmp::RecordType::MODE_IS_EXCLUDE),
        "answer to a query"
    );
}

#[test]
fn vlan_tagged_frames_carry_vid_100() {
    let frames = fixtures::load("vlan.pcap");
    assert!(!frames.is_empty());
    for c in &frames {
        let f = verified(c);
        assert_eq!(
            f.ethernet.vlan.map(|v| v.vid),
            Some(100),
            "frame {}",
            c.number
        );
    }
}
