//! The `[[ipsec.sa]]` and `[[ipsec.policy]]` keys, each changed and its effect observed on the
//! in-memory router lab (virtual clock), host B being the IPsec peer with burst-ipsec's engine
//! (`common/ipsec_peer.rs`). The basic keys (spi, direction, mode, tunnel addresses, algorithm,
//! key, src, dst, action, sa) are exercised by `router_ipsec.rs`.

mod common;

use burst_ipsec::{Algorithm, DfPolicy, DropReason, Mode, Sa, SaParams, Tunnel};
use burst_port::Nanos;
use burst_wire::ipv4::{self, Protocol};
use burst_wire::udp;
use common::ipsec_peer::*;
use common::router_lab::*;

const CHACHA_IN: &str = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263";
const CHACHA_OUT: &str = "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f90919293";
const CBC_KEY: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
const AUTH: &str = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf";

fn peer(spi: u32, alg: Algorithm, key: &str, auth: &str, esn: bool, mode: Mode) -> Sa {
    Sa::new(&SaParams {
        spi,
        protocol: burst_ipsec::IpsecProtocol::Esp,
        mode,
        algorithm: alg,
        key: hex(key),
        auth_key: hex(auth),
        esn,
        replay_window: 64,
        max_packets: 0,
    })
    .unwrap()
}

/// Transport mode SAs with these extra lines on the inbound and the outbound SA.
fn transport_with(in_extra: &str, out_extra: &str) -> String {
    transport("")
        .replacen(
            "key = \"000102030405060708090a0b0c0d0e0f10111213\"\n",
            &format!("key = \"{K_IN}\"\n{in_extra}\n"),
            1,
        )
        .replacen(
            "key = \"202122232425262728292a2b2c2d2e2f30313233\"\n",
            &format!("key = \"{K_OUT}\"\n{out_extra}\n"),
            1,
        )
}

fn ping_from_b(l: &mut Lab, to_burst: &mut Sa, seq: u16) {
    from_b(l, &seal(to_burst, &echo_request(B, R_B_IP, seq)));
}

#[test]
fn ttl_df_and_algorithm_shape_the_tunnel_packets() {
    // Defaults (gcm_tunnel): outer TTL 64, DF copied from the inner datagram (clear here).
    let mut l = ipsec_lab(gcm_tunnel(), 1);
    l.send_from_a(&udp_datagram(A, C, 100, 64, false));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    let p = ipv4::Packet::new_checked(&got[0][..]).unwrap();
    assert_eq!((p.ttl(), p.dont_frag()), (64, false));
    l.finish();
    // ttl = 17, df = "set", ChaCha20-Poly1305.
    let file = tunnel(
        "chacha20-poly1305",
        &format!("key = \"{CHACHA_IN}\""),
        &format!("key = \"{CHACHA_OUT}\"\nttl = 17\ndf = \"set\""),
        "",
    );
    let mut l = ipsec_lab(file, 1);
    let mut from_burst = peer(
        0x2002,
        Algorithm::ChaCha20Poly1305,
        CHACHA_OUT,
        "",
        false,
        Mode::Tunnel(Tunnel {
            src: R_B_IP,
            dst: B,
            ttl: 64,
            df: DfPolicy::Copy,
        }),
    );
    l.send_from_a(&udp_datagram(A, C, 100, 64, false));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    let p = ipv4::Packet::new_checked(&got[0][..]).unwrap();
    assert_eq!((p.ttl(), p.dont_frag()), (17, true));
    let inner = open(&mut from_burst, &got[0]).unwrap();
    let p = ipv4::Packet::new_checked(&inner[..]).unwrap();
    assert_eq!((p.src_addr(), p.dst_addr()), (A, C));
    // The GCM peer cannot open it: another transform.
    let (_, mut gcm) = tunnel_peer();
    assert_eq!(open(&mut gcm, &got[0]), Err(DropReason::Icv));
    l.finish();
}

#[test]
fn cbc_with_auth_key_and_esn_both_ways() {
    let sa_lines = format!(
        "algorithm = \"aes-cbc-128-hmac-sha256\"\nkey = \"{CBC_KEY}\"\nauth_key = \"{AUTH}\"\nesn = true"
    );
    let file = transport("")
        .replace(
            "algorithm = \"aes-gcm-128\"\nkey = \"000102030405060708090a0b0c0d0e0f10111213\"",
            &sa_lines,
        )
        .replace(
            "algorithm = \"aes-gcm-128\"\nkey = \"202122232425262728292a2b2c2d2e2f30313233\"",
            &sa_lines,
        );
    let mut l = ipsec_lab(file, 1);
    let cbc = Algorithm::AesCbc128HmacSha256;
    let mut to_burst = peer(0x1001, cbc, CBC_KEY, AUTH, true, Mode::Transport);
    let mut from_burst = peer(0x2001, cbc, CBC_KEY, AUTH, true, Mode::Transport);
    ping_from_b(&mut l, &mut to_burst, 1);
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1);
    let reply = open(&mut from_burst, &got[0]).unwrap();
    assert_eq!(reply[9], 1, "an ICMP reply");
    // A peer without ESN leaves the high half out of the ICV: burst (esn = true) refuses it.
    let mut no_esn = peer(0x1001, cbc, CBC_KEY, AUTH, false, Mode::Transport);
    no_esn.set_last_seq_out(5);
    ping_from_b(&mut l, &mut no_esn, 2);
    // Another integrity key: refused too.
    let other_auth = AUTH.replace("b0", "00");
    let mut wrong = peer(0x1001, cbc, CBC_KEY, &other_auth, true, Mode::Transport);
    wrong.set_last_seq_out(6);
    ping_from_b(&mut l, &mut wrong, 3);
    l.run_for(Nanos::from_millis(100));
    assert!(take(&mut l, 1).is_empty());
    assert_eq!(counter(&l, "esp.in_icv"), 2);
    l.finish();
}

#[test]
fn replay_window_decides_how_late_a_packet_may_come() {
    for (window, late_ok) in [(64u32, true), (32, false)] {
        let mut l = ipsec_lab(transport_with(&format!("replay_window = {window}"), ""), 1);
        let (mut to_burst, _) = transport_peer();
        let pings: Vec<Vec<u8>> = (1..=40)
            .map(|s| seal(&mut to_burst, &echo_request(B, R_B_IP, s)))
            .collect();
        // Number 40 first, then number 5: 35 behind.
        from_b(&mut l, &pings[39]);
        from_b(&mut l, &pings[4]);
        l.run_for(Nanos::from_millis(100));
        let answered = take(&mut l, 1).len();
        assert_eq!(answered, if late_ok { 2 } else { 1 }, "window {window}");
        assert_eq!(counter(&l, "esp.in_replay"), u64::from(!late_ok));
        l.finish();
    }
}

#[test]
fn max_packets_ends_an_outbound_sa() {
    let mut l = ipsec_lab(transport_with("", "max_packets = 2"), 1);
    let (mut to_burst, mut from_burst) = transport_peer();
    for s in 1..=3 {
        ping_from_b(&mut l, &mut to_burst, s);
    }
    l.run_for(Nanos::from_millis(100));
    let got = take(&mut l, 1);
    assert_eq!(
        got.len(),
        2,
        "the third answer would need a third sequence number"
    );
    for d in &got {
        open(&mut from_burst, d).unwrap();
    }
    assert_eq!(counter(&l, "esp.out_seq_exhausted"), 1);
    l.finish();
}

#[test]
fn policy_selectors_pick_the_traffic_to_secure() {
    // Only UDP to and from the echo port is secured; everything else between B and burst
    // stays plain.
    let file = transport("")
        .replace(
            "dst = \"198.18.2.254/32\"\naction = \"secure\"",
            "dst = \"198.18.2.254/32\"\nprotocol = 17\ndst_port = 7\naction = \"secure\"",
        )
        .replace(
            "dst = \"198.18.2.1/32\"\naction = \"secure\"",
            "dst = \"198.18.2.1/32\"\nprotocol = 17\nsrc_port = \"7-7\"\naction = \"secure\"",
        );
    let mut l = ipsec_lab(file, 1);
    let (mut to_burst, mut from_burst) = transport_peer();
    // A plain ping is not covered: answered plain.
    from_b(&mut l, &echo_request(B, R_B_IP, 1));
    // Plain UDP to the echo port is: dropped.
    from_b(&mut l, &udp_dg(B, 40000, R_B_IP, 7, b"plain"));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][9], Protocol::ICMP.0);
    assert_eq!(counter(&l, "ipsec.drop_plain_to_protected"), 1);
    // Over ESP it is answered over ESP (from source port 7).
    from_b(
        &mut l,
        &seal(&mut to_burst, &udp_dg(B, 40000, R_B_IP, 7, b"sealed")),
    );
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1);
    let reply = open(&mut from_burst, &got[0]).unwrap();
    let p = ipv4::Packet::new_checked(&reply[..]).unwrap();
    assert_eq!(
        udp::Packet::new_checked(p.payload()).unwrap().payload(),
        b"sealed"
    );
    // A ping over ESP came through an SA whose policy does not cover ICMP: refused.
    from_b(&mut l, &seal(&mut to_burst, &echo_request(B, R_B_IP, 2)));
    l.run_for(Nanos::from_millis(100));
    assert!(take(&mut l, 1).is_empty());
    assert_eq!(counter(&l, "ipsec.drop_wrong_sa"), 1);
    l.finish();
}

/// B's AH half: HMAC-SHA-256-128 with `AUTH`.
fn ah_peer(spi: u32, mode: Mode) -> Sa {
    Sa::new(&SaParams {
        spi,
        protocol: burst_ipsec::IpsecProtocol::Ah,
        mode,
        algorithm: Algorithm::NullHmacSha256,
        key: vec![],
        auth_key: hex(AUTH),
        esn: false,
        replay_window: 64,
        max_packets: 0,
    })
    .unwrap()
}

/// `file` with every SA's `algorithm` and `key` lines turned into `protocol = "ah"` with
/// `AUTH` as its key.
fn as_ah(file: &str) -> String {
    let mut s = file.to_string();
    for k in [K_IN, K_OUT] {
        s = s.replace(
            &format!("algorithm = \"aes-gcm-128\"\nkey = \"{k}\""),
            &format!("protocol = \"ah\"\nauth_key = \"{AUTH}\""),
        );
    }
    assert!(!s.contains("aes-gcm"), "{s}");
    s
}

#[test]
fn protocol_ah_authenticates_both_ways_in_transport_and_tunnel_mode() {
    // Transport: B pings burst with AH; the answer comes back with AH (protocol 51), the ICMP
    // in the clear behind the AH header, and verifies with B's SA.
    let mut l = ipsec_lab(as_ah(&transport("")), 1);
    let (mut to_burst, mut from_burst) = (
        ah_peer(0x1001, Mode::Transport),
        ah_peer(0x2001, Mode::Transport),
    );
    let ping = echo_request(B, R_B_IP, 1);
    let sealed = seal(&mut to_burst, &ping);
    assert_eq!(proto(&sealed), 51);
    from_b(&mut l, &sealed);
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(proto(&got[0]), 51, "answered with AH");
    assert_eq!(got[0][20], 1, "AH's next header: ICMP");
    assert_eq!(
        &got[0][48..49],
        &[0],
        "an echo reply, readable: AH does not encrypt"
    );
    let reply = open(&mut from_burst, &got[0]).unwrap();
    let p = ipv4::Packet::new_checked(&reply[..]).unwrap();
    assert_eq!(
        (p.src_addr(), p.dst_addr(), p.protocol()),
        (R_B_IP, B, Protocol::ICMP)
    );
    assert!(p.payload().ends_with(b"burst ipsec ping"));
    // A replay, a changed payload byte, the same ping without AH: none answered.
    from_b(&mut l, &sealed);
    let mut forged = seal(&mut to_burst, &echo_request(B, R_B_IP, 2));
    let n = forged.len();
    forged[n - 1] ^= 1;
    from_b(&mut l, &forged);
    from_b(&mut l, &ping);
    l.run_for(Nanos::from_millis(50));
    assert!(take(&mut l, 1).is_empty());
    l.run_for(Nanos::from_millis(100)); // counters published
    assert_eq!(counter(&l, "esp.in_replay"), 1);
    assert_eq!(counter(&l, "esp.in_icv"), 1);
    assert_eq!(counter(&l, "ipsec.drop_plain_to_protected"), 1);
    assert_eq!(counter(&l, "ipsec.in_decrypted"), 1);
    l.finish();

    // Tunnel: A's ping to C leaves in an AH tunnel (outer 198.18.2.254 > 198.18.2.1, next
    // header 4); C's answer through the tunnel reaches A.
    let mut l = ipsec_lab(as_ah(&gcm_tunnel()), 1);
    let (mut to_burst, mut from_burst) = (
        ah_peer(
            0x1002,
            Mode::Tunnel(Tunnel {
                src: B,
                dst: R_B_IP,
                ttl: 64,
                df: DfPolicy::Copy,
            }),
        ),
        ah_peer(
            0x2002,
            Mode::Tunnel(Tunnel {
                src: R_B_IP,
                dst: B,
                ttl: 64,
                df: DfPolicy::Copy,
            }),
        ),
    );
    let rx = l.request(burst_runtime::ctl::Request::Trace {
        count: 2,
        timeout_ms: 5000,
    });
    l.run_for(STEP);
    l.send_from_a(&echo_request(A, C, 1));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 1);
    assert_eq!(got.len(), 1);
    let outer = ipv4::Packet::new_checked(&got[0][..]).unwrap();
    assert_eq!(
        (outer.src_addr(), outer.dst_addr(), outer.protocol()),
        (R_B_IP, B, Protocol::AH)
    );
    assert_eq!(got[0][20], 4, "AH's next header: IPv4");
    let inner = open(&mut from_burst, &got[0]).unwrap();
    let p = ipv4::Packet::new_checked(&inner[..]).unwrap();
    assert_eq!((p.src_addr(), p.dst_addr(), p.ttl()), (A, C, 63));
    from_b(&mut l, &seal(&mut to_burst, &echo(0, C, A, 1)));
    l.run_for(Nanos::from_millis(50));
    let got = take(&mut l, 0);
    assert_eq!(got.len(), 1);
    let p = ipv4::Packet::new_checked(&got[0][..]).unwrap();
    assert_eq!(
        (p.src_addr(), p.dst_addr(), p.protocol()),
        (C, A, Protocol::ICMP)
    );
    // `ctl trace` names AH in both verdicts.
    let Ok(burst_runtime::ctl::Response::Trace { packets }) = rx.try_recv() else {
        panic!("no trace answer");
    };
    let out = packets[0].steps.join(" | ");
    assert!(out.contains("ipsec: secure (AH, SA 0x2002)"), "{out}");
    let back = packets[1].steps.join(" | ");
    assert!(back.contains("ipsec: decrypted (AH, SA 0x1002)"), "{back}");
    l.run_for(Nanos::from_millis(100));
    assert_eq!(counter(&l, "ipsec.out_secured"), 1);
    assert_eq!(counter(&l, "ipsec.in_decrypted"), 1);
    l.finish();
}
