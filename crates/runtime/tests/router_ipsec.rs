//! IPsec on burst's packet paths, on the in-memory router lab (virtual clock): host A on port a
//! (198.18.1.0/24), host B on port b (198.18.2.0/24, with 198.19.0.0/16 behind it). B is the
//! IPsec peer, using burst-ipsec's engine directly (`common/ipsec_peer.rs`): transport mode
//! between B and burst's own address, tunnel mode between B (gateway of 198.19.0.0/16) and
//! burst (gateway of A's subnet). Configured from TOML as `burst run` reads it.

mod common;

use std::net::Ipv4Addr;

use burst_ipsec::Algorithm;
use burst_port::Nanos;
use burst_runtime::ctl::{Request, Response};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::udp;
use common::ipsec_peer::*;
use common::router_lab::*;

/// Also with the router's ports giving NIC checksum verdicts: those are about the ESP datagram,
/// and the decrypted one is checked again in software.
#[test]
fn transport_mode_ping_and_udp_both_ways() {
    for rx_checksums in [false, true] {
        transport_mode_both_ways(rx_checksums);
    }
}

fn transport_mode_both_ways(rx_checksums: bool) {
    let mut l = ipsec_lab_with(transport(""), 1, rx_checksums);
    let (mut to_burst, mut from_burst) = transport_peer();
    // B pings burst over ESP: the answer comes back over ESP, SPI 0x2001.
    from_b(&mut l, &seal(&mut to_burst, &echo_request(B, R_B_IP, 1)));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(proto(&got[0]), 50);
    assert_eq!(spi_seq(&got[0]), (0x2001, 1));
    let reply = open(&mut from_burst, &got[0]).unwrap();
    let p = ipv4::Packet::new_checked(&reply[..]).unwrap();
    assert_eq!((p.src_addr(), p.dst_addr()), (R_B_IP, B));
    assert_eq!(p.protocol(), Protocol::ICMP);
    assert_eq!(p.payload()[0], 0, "an echo reply");
    assert!(p.payload().ends_with(b"burst ipsec ping"));
    // UDP echo (port 7), both ways over ESP.
    from_b(
        &mut l,
        &seal(&mut to_burst, &udp_dg(B, 40000, R_B_IP, 7, b"over esp")),
    );
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(spi_seq(&got[0]), (0x2001, 2));
    let reply = open(&mut from_burst, &got[0]).unwrap();
    let p = ipv4::Packet::new_checked(&reply[..]).unwrap();
    let u = udp::Packet::new_checked(p.payload()).unwrap();
    assert_eq!((u.src_port(), u.dst_port()), (7, 40000));
    assert_eq!(u.payload(), b"over esp");
    l.run_for(Nanos::from_millis(100)); // counters published
    assert_eq!(counter(&l, "ipsec.in_decrypted"), 2);
    assert_eq!(counter(&l, "ipsec.out_secured"), 2);
    assert_eq!(counter(&l, "esp.in_packets"), 2);
    l.finish();
}

#[test]
fn replayed_forged_unknown_and_plain_packets_are_dropped_and_counted() {
    let mut l = ipsec_lab(transport(""), 1);
    let (mut to_burst, _) = transport_peer();
    let good = seal(&mut to_burst, &echo_request(B, R_B_IP, 1));
    from_b(&mut l, &good);
    l.run_for(Nanos::from_millis(50));
    assert_eq!(take(&mut l, 1).len(), 1, "the original is answered");
    // The same packet again: a replay.
    from_b(&mut l, &good);
    // A flipped byte in the ciphertext: the ICV fails.
    let mut forged = seal(&mut to_burst, &echo_request(B, R_B_IP, 2));
    let n = forged.len();
    forged[n - 20] ^= 1;
    from_b(&mut l, &forged);
    // An SPI burst does not know.
    let mut other = sa(0x1999, Algorithm::AesGcm128, &hex(K_IN), &[], None);
    from_b(&mut l, &seal(&mut other, &echo_request(B, R_B_IP, 3)));
    // An authentic ESP packet whose next header is 4 (an IPv4 datagram inside), which a
    // transport SA cannot carry: esp.in_bad_next_header.
    let inner = echo_request(B, R_B_IP, 5);
    let mut ipip = udp_dg(B, 1, R_B_IP, 2, &inner);
    ipip.drain(20..28); // the IPv4 header of a UDP datagram, then the inner datagram
    let total = ipip.len() as u16;
    {
        let mut p = ipv4::Packet::new_unchecked(&mut ipip[..]);
        p.set_protocol(Protocol(4));
        p.set_total_len(total);
        p.fill_checksum();
    }
    from_b(&mut l, &seal(&mut to_burst, &ipip));
    // Plain traffic the inbound policy wants protected.
    from_b(&mut l, &echo_request(B, R_B_IP, 4));
    from_b(&mut l, &udp_dg(B, 40000, R_B_IP, 7, b"plain"));
    l.run_for(Nanos::from_millis(50));
    assert!(
        take(&mut l, 1).is_empty(),
        "nothing delivered, nothing answered"
    );
    assert_eq!(counter(&l, "esp.in_replay"), 1);
    assert_eq!(counter(&l, "esp.in_icv"), 1);
    assert_eq!(counter(&l, "esp.in_unknown_spi"), 1);
    assert_eq!(counter(&l, "esp.in_bad_next_header"), 1);
    assert_eq!(counter(&l, "ipsec.drop_plain_to_protected"), 2);
    assert_eq!(counter(&l, "ipsec.in_decrypted"), 1);
    // Traffic no secure policy covers still passes plain (A's ping to burst).
    l.send_from_a(&echo_request(A, Ipv4Addr::new(198, 18, 1, 254), 9));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(take(&mut l, 0).len(), 1);
    l.finish();
}

#[test]
fn an_outbound_block_policy_drops_what_it_covers() {
    let mut l = ipsec_lab(
        transport(
            "[[ipsec.policy]]\ndirection = \"out\"\ndst = \"198.18.1.0/24\"\nprotocol = 1\naction = \"block\"\n",
        ),
        1,
    );
    // A's ping is answered... by a reply the outbound block policy drops.
    l.send_from_a(&echo_request(A, Ipv4Addr::new(198, 18, 1, 254), 1));
    // UDP to A is not covered (protocol 1 only).
    l.send_from_a(&udp_dg(A, 40000, Ipv4Addr::new(198, 18, 1, 254), 7, b"u"));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 0);
    assert_eq!(got.len(), 1);
    assert_eq!(proto(&got[0]), 17);
    assert_eq!(counter(&l, "ipsec.drop_out_block"), 1);
    l.finish();
}

#[test]
fn tunnel_mode_between_protected_subnets_both_ways() {
    let mut l = ipsec_lab(gcm_tunnel(), 1);
    let (mut to_burst, mut from_burst) = tunnel_peer();
    // A pings C behind B: burst seals the forwarded datagram into the tunnel.
    l.send_from_a(&echo_request(A, C, 1));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1);
    let outer = ipv4::Packet::new_checked(&got[0][..]).unwrap();
    assert_eq!((outer.src_addr(), outer.dst_addr()), (R_B_IP, B));
    assert_eq!(outer.protocol(), Protocol::ESP);
    let inner = open(&mut from_burst, &got[0]).unwrap();
    let p = ipv4::Packet::new_checked(&inner[..]).unwrap();
    assert_eq!((p.src_addr(), p.dst_addr()), (A, C));
    assert_eq!(p.ttl(), 63, "forwarded: TTL down by one before sealing");
    // C answers through the tunnel: burst opens it and forwards the inner datagram to A.
    let reply = echo(0, C, A, 1);
    from_b(&mut l, &seal(&mut to_burst, &reply));
    // UDP from C to A too, and a plain copy of it, which the inbound policy refuses.
    let u = udp_dg(C, 5000, A, 6000, b"through the tunnel");
    from_b(&mut l, &seal(&mut to_burst, &u));
    from_b(&mut l, &u);
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 0);
    assert_eq!(
        got.len(),
        2,
        "the reply and the sealed UDP, not the plain copy"
    );
    let p = ipv4::Packet::new_checked(&got[0][..]).unwrap();
    assert_eq!(
        (p.src_addr(), p.dst_addr(), p.protocol()),
        (C, A, Protocol::ICMP)
    );
    let p = ipv4::Packet::new_checked(&got[1][..]).unwrap();
    assert_eq!(p.protocol(), Protocol::UDP);
    assert!(p.payload().ends_with(b"through the tunnel"));
    assert_eq!(counter(&l, "ipsec.drop_plain_to_protected"), 1);
    // A to B (not between the protected subnets) passes plain.
    l.send_from_a(&udp_dg(A, 1, B, 2, b"plain"));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(proto(&got[0]), 17);
    l.finish();
}

/// The router's fast path seals tunnel traffic and forwards what comes out of the tunnel
/// (`worker/ipsec/fast.rs`), counted as the full path counts it: once the neighbours are
/// resolved every datagram takes it, and plain traffic from the tunnel's far side is still
/// refused there.
#[test]
fn the_fast_path_seals_and_opens_with_the_full_paths_counters() {
    let mut l = ipsec_lab(gcm_tunnel(), 1);
    let (mut to_burst, mut from_burst) = tunnel_peer();
    let n = 20u16;
    for i in 0..n {
        l.send_from_a(&udp_dg(A, 1000 + i, C, 9, b"out"));
        l.run_for(Nanos::from_millis(5));
    }
    let got = take(&mut l, 1);
    assert_eq!(got.len(), usize::from(n));
    for (i, g) in got.iter().enumerate() {
        assert_eq!(spi_seq(g).1, i as u32 + 1, "sequence numbers in order");
        let inner = open(&mut from_burst, g).unwrap();
        let p = ipv4::Packet::new_checked(&inner[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!((p.src_addr(), p.dst_addr(), p.ttl()), (A, C, 63));
        let u = udp::Packet::new_checked(p.payload()).unwrap();
        assert_eq!(u.src_port(), 1000 + i as u16);
    }
    let fast_out = counter(&l, "fwd.fast_path");
    assert!(fast_out >= u64::from(n) - 1, "fast path: {fast_out}");
    for i in 0..n {
        from_b(
            &mut l,
            &seal(&mut to_burst, &udp_dg(C, 9, A, 2000 + i, b"in")),
        );
        l.run_for(Nanos::from_millis(5));
    }
    let got = take(&mut l, 0);
    assert_eq!(got.len(), usize::from(n));
    for (i, g) in got.iter().enumerate() {
        let p = ipv4::Packet::new_checked(&g[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!((p.src_addr(), p.dst_addr(), p.ttl()), (C, A, 63));
        let u = udp::Packet::new_checked(p.payload()).unwrap();
        assert_eq!(u.dst_port(), 2000 + i as u16);
    }
    let fast = counter(&l, "fwd.fast_path") - fast_out;
    assert!(fast >= u64::from(n) - 1, "fast path: {fast}");
    let n = u64::from(n);
    assert_eq!(counter(&l, "fwd.forwarded"), 2 * n);
    assert_eq!(counter(&l, "ipsec.out_secured"), n);
    assert_eq!(counter(&l, "ipsec.in_plain"), n);
    assert_eq!(counter(&l, "ipsec.in_decrypted"), n);
    assert_eq!(counter(&l, "esp.out_packets"), n);
    assert_eq!(counter(&l, "esp.in_packets"), n);
    // A plain datagram from the far side: refused by the inbound policy, counted by name.
    from_b(&mut l, &udp_dg(C, 9, A, 1, b"plain"));
    l.run_for(Nanos::from_millis(5));
    assert!(take(&mut l, 0).is_empty());
    assert_eq!(counter(&l, "ipsec.drop_plain_to_protected"), 1);
    l.finish();
}

/// The port's receive checksum verdict is about the outer header: a tunnel's inner datagram
/// has its own header checksum checked in software after decryption (a peer that sealed a
/// datagram with a wrong one gets it dropped and counted, on the fast path and the full path).
#[test]
fn the_inner_header_checksum_is_checked_after_decryption() {
    for rx_checksums in [false, true] {
        inner_header_checksum_checked(rx_checksums);
    }
}

fn inner_header_checksum_checked(rx_checksums: bool) {
    let mut l = ipsec_lab_with(gcm_tunnel(), 1, rx_checksums);
    let (mut to_burst, _) = tunnel_peer();
    // One good datagram first, so the neighbours are resolved and the fast path is open.
    from_b(&mut l, &seal(&mut to_burst, &udp_dg(C, 9, A, 1, b"good")));
    l.run_for(Nanos::from_millis(5));
    assert_eq!(take(&mut l, 0).len(), 1);
    let before = counter(&l, "ipv4.drop_checksum");
    for i in 0..3u16 {
        let mut bad = udp_dg(C, 9, A, 2 + i, b"bad");
        bad[10] ^= 0x5a;
        from_b(&mut l, &seal(&mut to_burst, &bad));
        l.run_for(Nanos::from_millis(5));
    }
    assert!(
        take(&mut l, 0).is_empty(),
        "no datagram with a wrong header checksum delivered (NIC verdicts: {rx_checksums})"
    );
    assert_eq!(counter(&l, "ipv4.drop_checksum") - before, 3);
    assert_eq!(
        counter(&l, "ipsec.in_decrypted"),
        4,
        "decrypted, then refused by IPv4"
    );
    l.finish();
}

#[test]
fn tunnel_overhead_answers_frag_needed_or_fragments_after_sealing() {
    let mut l = ipsec_lab(gcm_tunnel(), 1);
    let (_, mut from_burst) = tunnel_peer();
    // 1500 bytes with DF: no room for ESP on b's 1500-byte link → fragmentation needed,
    // with the MTU left once ESP's overhead is paid.
    l.send_from_a(&udp_datagram(A, C, 1472, 64, true));
    l.run_for(Nanos::from_millis(50));
    let icmp_a = l.icmp_seen(0);
    assert_eq!(icmp_a.len(), 1);
    let (t, code, mtu) = (
        icmp_a[0].1[0],
        icmp_a[0].1[1],
        u16::from_be_bytes([icmp_a[0].1[6], icmp_a[0].1[7]]),
    );
    assert_eq!((t, code), (3, 4));
    // Outer header 20, ESP header 8, IV 8, at most 3 bytes of padding, 2 of trailer, ICV 16.
    assert_eq!(mtu, 1500 - 57);
    assert_eq!(counter(&l, "ipsec.drop_frag_needed"), 1);
    take(&mut l, 0);
    assert!(take(&mut l, 1).is_empty());
    // A datagram that fits the advertised MTU goes through whole.
    l.send_from_a(&udp_datagram(A, C, usize::from(mtu) - 28, 64, true));
    // Without DF: sealed, then the outer datagram is fragmented.
    l.send_from_a(&udp_datagram(A, C, 1472, 64, false));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 3, "one whole, two fragments");
    assert!(got.iter().all(|d| d.len() <= 1500));
    let inner = open(&mut from_burst, &got[0]).unwrap();
    assert_eq!(inner.len(), usize::from(mtu));
    let f = ipv4::Packet::new_checked(&got[1][..]).unwrap();
    assert!(f.more_frags() && f.protocol() == Protocol::ESP);
    l.finish();
}

#[test]
fn two_workers_never_repeat_a_sequence_number() {
    let mut l = ipsec_lab(gcm_tunnel(), 2);
    let (_, mut from_burst) = tunnel_peer();
    // Flows from A's subnet land on both workers (the ports' hash of the addresses); both
    // seal with SA 0x2002.
    let n = 64u16;
    for p in 0..n {
        let src = Ipv4Addr::new(198, 18, 1, 10 + p as u8);
        l.send_from_a(&udp_dg(src, 1000 + p, C, 2000 + p, b"x"));
    }
    l.run_for(Nanos::from_millis(100));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), usize::from(n));
    let mut seqs: Vec<u32> = got.iter().map(|d| spi_seq(d).1).collect();
    seqs.sort();
    let want: Vec<u32> = (1..=u32::from(n)).collect();
    assert_eq!(seqs, want, "each number once");
    let per_worker: Vec<u64> = l
        .node
        .workers
        .iter()
        .map(|w| {
            w.shared_stats()
                .snapshot()
                .into_iter()
                .find(|(k, _)| k == "ipsec.out_secured")
                .unwrap()
                .1
        })
        .collect();
    assert!(
        per_worker.iter().all(|&x| x > 0),
        "both workers sealed: {per_worker:?}"
    );
    // B's window accepts them all in any order (reordered within 64).
    for d in &got {
        open(&mut from_burst, d).unwrap();
    }
    l.finish();
}

#[test]
fn esp_is_decrypted_by_the_worker_owning_its_sa() {
    // SPI 0x1002: owned by worker 0 (SPI % 2). The one outer flow (B to burst) hashes to
    // queue 1 on these ports: worker 1 hands every packet to worker 0, which decrypts.
    let mut l = ipsec_lab(gcm_tunnel(), 2);
    let (mut to_burst, _) = tunnel_peer();
    for s in 0..16u16 {
        let u = udp_dg(
            Ipv4Addr::new(198, 19, 0, s as u8 + 1),
            5000 + s,
            A,
            6000,
            b"in",
        );
        from_b(&mut l, &seal(&mut to_burst, &u));
    }
    l.run_for(Nanos::from_millis(100));
    assert_eq!(take(&mut l, 0).len(), 16);
    let handed = counter(&l, "ipsec.handed_to_owner");
    let decrypted: Vec<u64> = l
        .node
        .workers
        .iter()
        .map(|w| {
            w.shared_stats()
                .snapshot()
                .into_iter()
                .find(|(k, _)| k == "ipsec.in_decrypted")
                .unwrap()
                .1
        })
        .collect();
    assert_eq!(decrypted, [16, 0]);
    assert_eq!(handed, 16);
    assert_eq!(counter(&l, "esp.in_replay"), 0);
    l.finish();
}

#[test]
fn the_trace_shows_the_ipsec_verdicts() {
    let mut l = ipsec_lab(gcm_tunnel(), 1);
    let (mut to_burst, _) = tunnel_peer();
    let rx = l.request(Request::Trace {
        count: 2,
        timeout_ms: 5000,
    });
    l.run_for(STEP);
    l.send_from_a(&echo_request(A, C, 1));
    l.run_for(Nanos::from_millis(50));
    from_b(&mut l, &seal(&mut to_burst, &echo(0, C, A, 1)));
    l.run_for(Nanos::from_millis(50));
    let Ok(Response::Trace { packets }) = rx.try_recv() else {
        panic!("no trace answer");
    };
    let out = packets[0].steps.join(" | ");
    assert!(out.contains("ipsec: secure (ESP, SA 0x2002)"), "{out}");
    let back = packets[1].steps.join(" | ");
    assert!(back.contains("ipsec: decrypted (ESP, SA 0x1002)"), "{back}");
    l.finish();
}

/// IPv4 fragments of `d` with `first` bytes of payload in the first.
fn split(d: &[u8], first: usize) -> [Vec<u8>; 2] {
    let piece = |off: usize, body: &[u8], more: bool| {
        let mut f = d[..20].to_vec();
        f.extend_from_slice(body);
        let n = f.len() as u16;
        f[2..4].copy_from_slice(&n.to_be_bytes());
        let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        f[6..8].copy_from_slice(&fo.to_be_bytes());
        f[10..12].copy_from_slice(&[0, 0]);
        let c = !burst_wire::checksum::sum(&f[..20]);
        f[10..12].copy_from_slice(&c.to_be_bytes());
        f
    };
    [
        piece(0, &d[20..20 + first], true),
        piece(first, &d[20 + first..], false),
    ]
}

#[test]
fn fragmented_esp_is_reassembled_then_decrypted() {
    let mut l = ipsec_lab(transport(""), 1);
    let (mut to_burst, mut from_burst) = transport_peer();
    // A 1450-byte UDP echo over ESP, the ESP datagram in two fragments.
    let payload: Vec<u8> = (0..1450u32).map(|i| i as u8).collect();
    let e = seal(&mut to_burst, &udp_dg(B, 40000, R_B_IP, 7, &payload));
    let [f1, f2] = split(&e, 800);
    from_b(&mut l, &f2);
    from_b(&mut l, &f1);
    l.run_for(Nanos::from_millis(100));
    // The answer: a 1478-byte datagram exceeds the MTU left for it (1500 less transport
    // mode's 37 bytes at most), so burst seals it whole and fragments the ESP datagram.
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 2, "two fragments of one ESP datagram");
    let mut whole = got[0][..20].to_vec();
    whole.extend_from_slice(&got[0][20..]);
    whole.extend_from_slice(&got[1][20..]);
    let tl = whole.len() as u16;
    whole[2..4].copy_from_slice(&tl.to_be_bytes());
    whole[6..8].copy_from_slice(&[0, 0]);
    whole[10..12].copy_from_slice(&[0, 0]);
    let c = !burst_wire::checksum::sum(&whole[..20]);
    whole[10..12].copy_from_slice(&c.to_be_bytes());
    let reply = open(&mut from_burst, &whole).unwrap();
    let p = ipv4::Packet::new_checked(&reply[..]).unwrap();
    assert_eq!(
        udp::Packet::new_checked(p.payload()).unwrap().payload(),
        &payload[..]
    );
    l.finish();
}

#[test]
fn tcp_over_esp_advertises_an_mss_that_leaves_room_for_esp() {
    let mut l = ipsec_lab(transport(""), 1);
    let (mut to_burst, mut from_burst) = transport_peer();
    // A SYN to the TCP echo service over ESP: the SYN-ACK comes back over ESP.
    from_b(&mut l, &seal(&mut to_burst, &tcp_syn(B, 40000, R_B_IP, 7)));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1);
    let synack = open(&mut from_burst, &got[0]).unwrap();
    let p = ipv4::Packet::new_checked(&synack[..]).unwrap();
    let t = p.payload();
    assert_eq!(t[13] & 0x12, 0x12, "SYN-ACK");
    // MSS: 1500 less ESP's largest overhead here (transport, AES-GCM: 8 + 8 + 3 + 2 + 16 = 37)
    // less 40 bytes of IP and TCP headers; a full segment still fits once sealed.
    let opts = &t[20..usize::from(t[12] >> 4) * 4];
    let at = opts.iter().position(|&b| b == 2).unwrap();
    assert_eq!(opts[at + 1], 4);
    let mss = u16::from_be_bytes([opts[at + 2], opts[at + 3]]);
    assert_eq!(mss, 1500 - 37 - 40);
    l.finish();
}

/// A Linux peer with its default offloads (partial checksums, TSO) behind the tunnel: ESP
/// seals whole datagrams, so burst completes a partial checksum and cuts a super-frame into
/// segments that fit once sealed, in software, before sealing each (no fragmentation-needed
/// for a super-frame: how to cut TCP is burst's to choose).
#[test]
fn a_kernel_peers_partial_checksums_and_super_frames_are_finished_before_sealing() {
    use burst_wire::tcp::{self, SeqNumber};
    let mut l = lab(Opts {
        file: Some(gcm_tunnel()),
        // Port a's peer is a kernel (the file leaves `partial_checksums` to its default, which
        // the in-memory NIC has off).
        tweak: |c| c.ports[0].partial_checksums = Some(true),
        rx_max_frame_a: Some(65_000),
        mtu_host_a: 60_000,
        buf_size: 64 * 1024,
        ..Opts::default()
    });
    l.verify = false;
    let (_, mut from_burst) = tunnel_peer();
    let data: Vec<u8> = (0..20_000).map(|i| (i * 7 + i / 251) as u8).collect();
    // One partial-checksum segment that fits, then a 20,000-byte super-frame.
    l.send_from_a(&tcp_segment(
        A,
        C,
        &data[..1000],
        100,
        burst_wire::ChecksumMode::Offload,
        true,
    ));
    l.send_from_a(&tcp_segment(
        A,
        C,
        &data,
        1100,
        burst_wire::ChecksumMode::Offload,
        true,
    ));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    let mut payload = Vec::new();
    let mut next = 100u32;
    for d in &got {
        assert!(d.len() <= 1500, "every sealed datagram fits b's link");
        let outer = ipv4::Packet::new_checked(&d[..]).unwrap();
        assert_eq!(outer.protocol(), Protocol::ESP);
        assert!(
            !outer.more_frags() && outer.frag_offset() == 0,
            "not fragmented"
        );
        let inner = open(&mut from_burst, d).unwrap();
        let p = ipv4::Packet::new_checked(&inner[..]).unwrap();
        assert!(p.verify_checksum());
        let t = tcp::Packet::new_checked(p.payload()).unwrap();
        assert!(
            t.verify_checksum(A, C),
            "TCP checksum complete inside ESP (datagram of {} bytes, seq {})",
            inner.len(),
            t.seq_number().0
        );
        assert_eq!(t.seq_number(), SeqNumber(next));
        next = next.wrapping_add(t.payload().len() as u32);
        payload.extend_from_slice(t.payload());
    }
    assert_eq!(payload.len(), 21_000);
    assert_eq!(&payload[..1000], &data[..1000]);
    assert_eq!(&payload[1000..], &data[..], "byte-exact, in order");
    // 1 + ceil(20,000 / (1443 - 40)) segments, none lost.
    assert_eq!(got.len(), 1 + 20_000usize.div_ceil(1443 - 40));
    assert_eq!(counter(&l, "ipsec.drop_frag_needed"), 0);
    assert_eq!(counter(&l, "ipsec.drop_no_buffer"), 0);
    l.finish();
}

#[test]
fn ctl_ipsec_lists_policies_with_hits_and_sas_with_counters() {
    // Two workers: ESP for SA 0x1001 is opened on its owner, replies are sealed by whichever
    // worker answers; `ctl ipsec` sums them.
    let file = transport("").replacen(
        &format!("key = \"{K_OUT}\"\n"),
        &format!("key = \"{K_OUT}\"\nmax_packets = 100\n"),
        1,
    );
    let mut l = ipsec_lab(file, 2);
    let (mut to_burst, _) = transport_peer();
    let first = seal(&mut to_burst, &echo_request(B, R_B_IP, 1));
    from_b(&mut l, &first);
    from_b(&mut l, &seal(&mut to_burst, &echo_request(B, R_B_IP, 2)));
    from_b(&mut l, &first); // a replay
    let mut forged = seal(&mut to_burst, &echo_request(B, R_B_IP, 3));
    let n = forged.len();
    forged[n - 1] ^= 1; // an ICV failure
    from_b(&mut l, &forged);
    l.run_for(Nanos::from_millis(50));
    assert_eq!(take(&mut l, 1).len(), 2, "two answers over ESP");
    let rx = l.request(Request::Ipsec);
    l.run_for(Nanos::from_millis(50));
    let Ok(Response::Ipsec {
        policies,
        sas,
        missing_cores,
        aes_gcm,
    }) = rx.try_recv()
    else {
        panic!("no ipsec answer");
    };
    assert!(missing_cores.is_empty());
    // ring without the `ipsec-mb` feature, intel-ipsec-mb with it (`--features dpdk`).
    let want = if cfg!(feature = "dpdk") {
        "intel-ipsec-mb"
    } else {
        "ring"
    };
    assert!(aes_gcm.starts_with(want), "{aes_gcm}");
    let p: Vec<_> = policies
        .iter()
        .map(|p| {
            (
                p.direction.as_str(),
                p.index,
                p.selector.as_str(),
                p.action.as_str(),
                p.hits,
            )
        })
        .collect();
    assert_eq!(
        p[..2],
        [
            (
                "in",
                0,
                "src 198.18.2.1/32 dst 198.18.2.254/32",
                "secure sa 0x1001",
                2
            ),
            (
                "out",
                0,
                "src 198.18.2.254/32 dst 198.18.2.1/32",
                "secure sa 0x2001",
                2
            ),
        ]
    );
    assert_eq!((p[2].0, p[2].1, p[2].2, p[2].3), ("in", 1, "any", "permit"));
    assert_eq!(sas.len(), 2);
    let (i, o) = (&sas[0], &sas[1]);
    assert_eq!(
        (
            i.spi,
            i.direction.as_str(),
            i.protocol.as_str(),
            i.mode.as_str(),
            i.algorithm.as_str()
        ),
        (0x1001, "in", "esp", "transport", "aes-gcm-128")
    );
    assert_eq!(
        (
            i.packets,
            i.replay_drops,
            i.icv_failures,
            i.drops,
            i.lifetime_used
        ),
        (2, 1, 1, 2, 2)
    );
    assert_eq!(i.bytes, 2 * 44, "the two plain pings");
    assert_eq!((o.spi, o.direction.as_str(), o.packets), (0x2001, "out", 2));
    assert_eq!((o.lifetime_used, o.lifetime_limit, o.drops), (2, 100, 0));
    l.finish();
}

/// Sends `req` to the control thread and returns its answer.
fn ask(l: &mut Lab, req: Request) -> Response {
    let rx = l.request(req);
    l.run_for(Nanos::from_millis(20));
    rx.try_recv().expect("an answer")
}

#[test]
fn ctl_ipsec_sa_add_and_delete_republish_the_sad() {
    let mut l = ipsec_lab(transport(""), 1);
    let (mut to_burst, mut from_burst) = transport_peer();
    let first = seal(&mut to_burst, &echo_request(B, R_B_IP, 1));
    from_b(&mut l, &first);
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(spi_seq(&got[0]), (0x2001, 1));
    // Without the outbound SA, the answer its policy wants sealed is dropped, counted.
    let del = Request::IpsecSaDelete {
        spi: 0x2001,
        direction: None,
    };
    assert_eq!(ask(&mut l, del.clone()), Response::Ok);
    from_b(&mut l, &seal(&mut to_burst, &echo_request(B, R_B_IP, 2)));
    l.run_for(Nanos::from_millis(50));
    assert!(take(&mut l, 1).is_empty());
    assert_eq!(counter(&l, "ipsec.drop_out_block"), 1);
    assert!(matches!(ask(&mut l, del), Response::Error { message } if message.contains("no SA")));
    // The same SPI again with another key: a new SA, its sequence numbers from 1.
    let add = |key: &str| Request::IpsecSaAdd {
        sa: format!(
            "spi = 0x2001\ndirection = \"out\"\nalgorithm = \"aes-gcm-128\"\nkey = \"{key}\"\n"
        ),
    };
    let short = ask(&mut l, add("0001"));
    assert!(
        matches!(&short, Response::Error { message } if message.contains("20")),
        "{short:?}"
    );
    assert_eq!(ask(&mut l, add(K_IN)), Response::Ok);
    let dup = ask(&mut l, add(K_IN));
    assert!(
        matches!(&dup, Response::Error { message } if message.contains("in use")),
        "{dup:?}"
    );
    from_b(&mut l, &seal(&mut to_burst, &echo_request(B, R_B_IP, 3)));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(spi_seq(&got[0]), (0x2001, 1));
    assert_eq!(
        open(&mut from_burst, &got[0]),
        Err(burst_ipsec::DropReason::Icv),
        "not the old key"
    );
    let mut rekeyed = sa(0x2001, Algorithm::AesGcm128, &hex(K_IN), &[], None);
    let reply = open(&mut rekeyed, &got[0]).unwrap();
    assert_eq!(
        ipv4::Packet::new_checked(&reply[..]).unwrap().payload()[0],
        0,
        "an echo reply"
    );
    // Deleted and added again with the same key: its sequence numbers go on (an AEAD's IV is
    // the sequence number; starting again at 1 would repeat IVs under one key).
    let del_out = Request::IpsecSaDelete {
        spi: 0x2001,
        direction: Some("out".into()),
    };
    assert_eq!(ask(&mut l, del_out), Response::Ok);
    assert_eq!(ask(&mut l, add(K_IN)), Response::Ok);
    from_b(&mut l, &seal(&mut to_burst, &echo_request(B, R_B_IP, 5)));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(spi_seq(&got[0]), (0x2001, 2));
    assert!(open(&mut rekeyed, &got[0]).is_ok());
    // The inbound SA was carried over with its window: the first ping is still a replay.
    from_b(&mut l, &first);
    // Deleted, its SPI is unknown.
    let del_in = Request::IpsecSaDelete {
        spi: 0x1001,
        direction: Some("in".into()),
    };
    assert_eq!(ask(&mut l, del_in), Response::Ok);
    from_b(&mut l, &seal(&mut to_burst, &echo_request(B, R_B_IP, 6)));
    l.run_for(Nanos::from_millis(150));
    assert!(take(&mut l, 1).is_empty());
    assert_eq!(counter(&l, "esp.in_replay"), 1);
    assert_eq!(counter(&l, "esp.in_unknown_spi"), 1);
    // The listing shows the SAs now configured.
    let Response::Ipsec { sas, .. } = ask(&mut l, Request::Ipsec) else {
        panic!("no listing");
    };
    let listed: Vec<_> = sas
        .iter()
        .map(|s| (s.spi, s.direction.as_str(), s.packets))
        .collect();
    assert_eq!(listed, [(0x2001, "out", 1)]);
    l.finish();
}
