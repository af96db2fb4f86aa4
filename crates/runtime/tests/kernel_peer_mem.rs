//! A local kernel as the peer on port a (`[[port]] partial_checksums`): what a Linux host with
//! its default offloads sends through a veth — partial TCP/UDP checksums, TSO super-frames,
//! datagrams the kernel reassembled — is delivered, forwarded and cut exactly as the peer's
//! missing NIC would have, on the in-memory wire with real packets; and with the setting off,
//! the old behaviour (dropped as bad, or forwarded untouched) shows the setting matters.

mod common;

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::worker::PortCounters;
use burst_stack::udp::Service;
use burst_wire::icmpv4::{self, DstUnreachable};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::tcp::{self, Flags, SeqNumber};
use burst_wire::{udp, ChecksumMode};
use common::router_lab::*;

/// Port a's counters summed over workers.
fn port_a(l: &Lab) -> PortCounters {
    let mut c = PortCounters::default();
    for w in &l.node.workers {
        let p = &w.port_counters[0];
        c.rx_partial_csum += p.rx_partial_csum;
        c.rx_super_frames += p.rx_super_frames;
        c.drop_unsegmentable += p.drop_unsegmentable;
        c.rx_truncated += p.rx_truncated;
    }
    c
}

/// Sums of one UDP counter over workers.
fn udp_in_errors(l: &Lab) -> u64 {
    l.node.workers.iter().map(|w| w.udp.stats.in_errors).sum()
}

/// A UDP datagram from `src` to `dst`:`dport` with `payload`, its checksum as `mode` leaves it
/// (`Offload`: the pseudo-header sum, what a kernel with checksum offload sends).
fn udp_to(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dport: u16,
    payload: &[u8],
    mode: ChecksumMode,
    df: bool,
) -> Vec<u8> {
    let u = udp::Repr {
        src_port: 40000,
        dst_port: dport,
        payload_len: payload.len(),
    };
    let ip = ipv4::Repr {
        dont_frag: df,
        ..ipv4::Repr::new(src, dst, Protocol::UDP, u.buffer_len(), 64)
    };
    let mut d = vec![0u8; ip.buffer_len()];
    d[28..].copy_from_slice(payload);
    u.emit(
        &mut udp::Packet::new_unchecked(&mut d[20..]),
        src,
        dst,
        mode,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..20]),
        ChecksumMode::Compute,
    );
    d
}

/// A TCP segment (ACK|PSH, timestamps-free) from A to B carrying `payload` at `seq`, with the
/// checksum field as `mode` leaves it.
fn tcp_to(payload: &[u8], seq: u32, mode: ChecksumMode, df: bool) -> Vec<u8> {
    tcp_segment(A, B, payload, seq, mode, df)
}

fn kernel_lab(partial: Option<bool>) -> Lab {
    lab(Opts {
        partial_a: partial,
        rx_max_frame_a: Some(65_000),
        mtu_host_a: 60_000,
        buf_size: 64 * 1024,
        services: vec![Service::Echo],
        ..Opts::default()
    })
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn partial_checksums_are_completed_on_forwarding_and_accepted_locally() {
    let mut l = kernel_lab(Some(true));
    // Transit: a partial UDP and a partial TCP segment reach B with full, correct checksums
    // (run_for verifies every frame B gets), everything else unchanged; a complete one takes
    // the fast path as before.
    let u = udp_to(A, B, 5001, b"partial udp", ChecksumMode::Offload, false);
    let t = tcp_to(b"partial tcp", 1000, ChecksumMode::Offload, true);
    let full = udp_to(A, B, 5001, b"complete", ChecksumMode::Compute, false);
    l.send_from_a(&u);
    l.send_from_a(&t);
    l.send_from_a(&full);
    l.run_for(Nanos::from_millis(50));
    let at_b = l.ipv4_seen(1);
    assert_eq!(at_b.len(), 3);
    let want_u = udp_to(A, B, 5001, b"partial udp", ChecksumMode::Compute, false);
    let want_t = tcp_to(b"partial tcp", 1000, ChecksumMode::Compute, true);
    for want in [&want_u, &want_t, &full] {
        // The fast path's frame may leave before the full path's: match by content.
        let got = at_b
            .iter()
            .map(|x| &x.2)
            .find(|g| g[9] == want[9] && g[20..24] == want[20..24] && g.len() == want.len())
            .expect("forwarded");
        assert_eq!(
            got[20..],
            want[20..],
            "L4 exactly as a NIC would have sent it"
        );
        assert_eq!(got[8], 63);
    }
    assert_eq!(port_a(&l).rx_partial_csum, 2);
    assert_eq!(
        l.fwd().fast_path,
        1,
        "only the complete one on the fast path"
    );
    // Local: the echo service answers a partial datagram (with a complete checksum).
    let r_a = Ipv4Addr::new(198, 18, 1, 254);
    l.send_from_a(&udp_to(A, r_a, 7, b"echo me", ChecksumMode::Offload, false));
    l.run_for(Nanos::from_millis(50));
    let back: Vec<_> = l
        .ipv4_seen(0)
        .into_iter()
        .filter(|(_, _, d)| d[9] == Protocol::UDP.0)
        .collect();
    assert_eq!(back.len(), 1);
    assert_eq!(&back[0].2[28..], b"echo me");
    assert_eq!(port_a(&l).rx_partial_csum, 3);
    assert_eq!(udp_in_errors(&l), 0);
    l.finish();
}

#[test]
fn with_partial_checksums_off_they_are_bad_locally_and_untouched_in_transit() {
    let mut l = kernel_lab(Some(false));
    l.verify = false;
    let u = udp_to(A, B, 5001, b"partial udp", ChecksumMode::Offload, false);
    l.send_from_a(&u);
    let r_a = Ipv4Addr::new(198, 18, 1, 254);
    for _ in 0..3 {
        l.send_from_a(&udp_to(A, r_a, 7, b"echo me", ChecksumMode::Offload, false));
    }
    l.run_for(Nanos::from_millis(50));
    let at_b = l.ipv4_seen(1);
    assert_eq!(at_b.len(), 1);
    assert_eq!(
        at_b[0].2[20..],
        u[20..],
        "forwarded as it came (a router does not look)"
    );
    assert!(
        l.ipv4_seen(0)
            .iter()
            .all(|(_, _, d)| d[9] != Protocol::UDP.0),
        "no echo for a bad checksum"
    );
    assert_eq!(udp_in_errors(&l), 3);
    assert_eq!(port_a(&l).rx_partial_csum, 0);
    l.finish();
}

#[test]
fn tso_super_frames_are_cut_to_the_arrival_mtu() {
    let mut l = kernel_lab(Some(true));
    let data = payload(20_000);
    let seq = 0xfff0_0000u32;
    l.send_from_a(&tcp_to(&data, seq, ChecksumMode::Offload, true));
    l.run_for(Nanos::from_millis(50));
    let at_b = l.ipv4_seen(1);
    // MTU 1500 - 20 - 20: 1460 bytes a segment, 14 segments.
    assert_eq!(at_b.len(), 14);
    let mut got = Vec::new();
    for (i, (_, _, d)) in at_b.iter().enumerate() {
        let p = ipv4::Packet::new_checked(&d[..]).unwrap();
        assert!(usize::from(p.total_len()) <= 1500);
        assert!(p.dont_frag());
        let t = tcp::Packet::new_checked(p.payload()).unwrap();
        assert!(t.verify_checksum(A, B));
        assert_eq!(t.seq_number(), SeqNumber(seq.wrapping_add(1460 * i as u32)));
        assert_eq!(
            t.flags().contains(Flags::PSH),
            i == 13,
            "PSH on the last only"
        );
        assert_eq!(t.ack_number(), SeqNumber(7));
        got.extend_from_slice(t.payload());
    }
    assert_eq!(got, data, "payload byte-exact");
    let c = port_a(&l);
    assert_eq!((c.rx_super_frames, c.rx_partial_csum), (1, 1));
    l.finish();
}

#[test]
fn super_frames_meet_a_smaller_egress_mtu_like_their_segments_would() {
    let mut l = lab(Opts {
        mtu_b: 1280,
        ..kernel_opts()
    });
    // DF (what TCP sends): fragmentation needed, with the egress MTU, as for any segment
    // that does not fit.
    l.send_from_a(&tcp_to(&payload(8000), 1, ChecksumMode::Offload, true));
    l.run_for(Nanos::from_millis(50));
    assert!(l.ipv4_seen(1).is_empty());
    let errs = l.icmp_seen(0);
    assert_eq!(errs.len(), 1);
    match icmpv4::Repr::parse(
        &icmpv4::Packet::new_checked(&errs[0].1[..]).unwrap(),
        burst_wire::ChecksumCheck::Verify,
    )
    .unwrap()
    {
        icmpv4::Repr::DstUnreachable {
            reason,
            next_hop_mtu,
            ..
        } => {
            assert_eq!(reason, DstUnreachable::FragRequired);
            assert_eq!(next_hop_mtu, 1280);
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(l.fwd().drop_frag_needed, 1);
    // Without DF: smaller segments (1240 bytes), never fragments of segments.
    let data = payload(5000);
    l.send_from_a(&tcp_to(&data, 1, ChecksumMode::Offload, false));
    l.run_for(Nanos::from_millis(50));
    let at_b = l.ipv4_seen(1);
    assert_eq!(at_b.len(), 5);
    let mut got = Vec::new();
    for (_, _, d) in &at_b {
        let p = ipv4::Packet::new_checked(&d[..]).unwrap();
        assert!(!p.is_fragment() && usize::from(p.total_len()) <= 1280);
        got.extend_from_slice(tcp::Packet::new_checked(p.payload()).unwrap().payload());
    }
    assert_eq!(got, data);
    // A partial datagram that fits the arrival link but must be fragmented for B's: its
    // checksum is completed before fragmentation (fragments cannot leave it to the port).
    l.send_from_a(&udp_to(
        A,
        B,
        5001,
        &payload(1400),
        ChecksumMode::Offload,
        false,
    ));
    l.run_for(Nanos::from_millis(50));
    let at_b = l.ipv4_seen(1);
    assert_eq!(at_b.len(), 5 + 2);
    let mut whole = Vec::new();
    for (_, _, d) in &at_b[5..] {
        let p = ipv4::Packet::new_checked(&d[..]).unwrap();
        assert!(p.is_fragment());
        whole.extend_from_slice(p.payload());
    }
    assert!(udp::Packet::new_checked(&whole[..])
        .unwrap()
        .verify_checksum(A, B));
    assert_eq!(port_a(&l).rx_partial_csum, 3);
    l.finish();
}

fn kernel_opts() -> Opts {
    Opts {
        partial_a: Some(true),
        rx_max_frame_a: Some(65_000),
        mtu_host_a: 60_000,
        buf_size: 64 * 1024,
        services: vec![Service::Echo],
        ..Opts::default()
    }
}

#[test]
fn kernel_reassembled_datagrams_are_fragmented_and_udp_gso_is_refused() {
    let mut l = kernel_lab(Some(true));
    // What af_packet's defragmenting fanout hands over: a whole 4000-byte datagram with a
    // complete checksum. Forwarded like any other (fragmented for B's link).
    let big = payload(4000);
    l.send_from_a(&udp_to(A, B, 5001, &big, ChecksumMode::Compute, false));
    // A kernel peer's UDP segmentation offload: beyond the MTU with a partial checksum. Its
    // datagram boundaries are lost: refused, counted.
    l.send_from_a(&udp_to(A, B, 5001, &big, ChecksumMode::Offload, false));
    l.run_for(Nanos::from_millis(50));
    let at_b = l.ipv4_seen(1);
    assert_eq!(at_b.len(), 3, "one datagram in three fragments");
    let mut got = Vec::new();
    for (_, _, d) in &at_b {
        let p = ipv4::Packet::new_checked(&d[..]).unwrap();
        assert!(p.is_fragment());
        got.extend_from_slice(p.payload());
    }
    assert_eq!(&got[8..], &big[..], "fragments carry the datagram");
    assert_eq!(l.fwd().fragmented, 1);
    assert_eq!(port_a(&l).drop_unsegmentable, 1);
    l.finish();
}

#[test]
fn truncated_frames_are_counted_per_port() {
    let mut l = kernel_lab(Some(true));
    let mut d = udp_to(A, B, 5001, &payload(1000), ChecksumMode::Compute, false);
    // The device cut it (an af_packet slot too small): the IPv4 total length runs past the end.
    d.truncate(600);
    l.send_from_a(&d);
    l.run_for(Nanos::from_millis(30));
    assert!(l.ipv4_seen(1).is_empty());
    assert_eq!(port_a(&l).rx_truncated, 1);
    let drops: u64 = l.node.workers.iter().map(|w| w.ipv4.drop_truncated).sum();
    assert_eq!(drops, 1);
    l.finish();
}
