//! `burst gen` on the in-memory wire, deterministic (virtual clock, seeded impairments): every
//! packet accounted for, loss/duplicate/reorder detection against the wire's own counters,
//! latency exactly the wire's delay, rates exact per second, frames as configured, merges equal
//! to one run. Every test ends with the pool back where it started.

mod common;

use burst_gen::Report;
use burst_port::mem::Impairments;
use burst_port::Nanos;
use common::*;

fn run(text: &str, imp: Impairments) -> (Report, MemLab) {
    let mut l = lab(text, imp);
    let r = l.run();
    (r, l)
}

#[test]
fn every_packet_is_accounted_for_and_latency_is_the_wires_delay() {
    let imp = Impairments {
        delay: Nanos::from_micros(25),
        ..Impairments::NONE
    };
    let text = format!(
        "{}{}",
        ports(1),
        stream_ab("rate = \"1Mpps\"\ncount = 20000")
    );
    let (r, mut l) = run(&text, imp);
    let s = &r.streams[0];
    assert_eq!(
        (s.tx, s.rx, s.lost, s.duplicates, s.reordered, s.late),
        (20_000, 20_000, 0, 0, 0, 0)
    );
    assert_eq!(s.intended, 20_000);
    assert_eq!(s.tx_bytes, 20_000 * 64);
    let lat = &s.latency;
    assert_eq!(lat.count, 20_000);
    // 25 us exactly (HDR's 3 digits: within 0.1 %).
    assert!(lat.min_ns >= 24_975 && lat.max_ns <= 25_025, "{lat:?}");
    assert!(s.jitter_ns < 1.0, "{}", s.jitter_ns);
    let w = l.wires[0].counters(l.ports[0].endpoint());
    assert_eq!((w.sent, w.delivered), (20_000, 20_000));
    assert_eq!(r.ports[1].counters.rx, 20_000);
    assert_eq!(r.ports[0].counters.tx, 20_000);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    l.assert_no_leak();
}

#[test]
fn loss_duplicates_and_reordering_match_the_wire() {
    let imp = Impairments {
        loss: 0.01,
        duplicate: 0.01,
        reorder: 0.02,
        reorder_delay: Nanos::from_micros(40),
        delay: Nanos::from_micros(10),
        ..Impairments::NONE
    };
    let text = format!(
        "{}{}",
        ports(2),
        stream_ab("rate = \"1Mpps\"\ncount = 100000")
    );
    let (r, mut l) = run(&text, imp);
    let w = l.wires[0].counters(l.ports[0].endpoint());
    let s = &r.streams[0];
    assert_eq!(s.tx, 100_000);
    assert!(
        w.dropped_loss > 700 && w.duplicated > 700 && w.reordered > 1500,
        "{w:?}"
    );
    assert_eq!(s.lost as u64, w.dropped_loss, "loss is exact");
    assert_eq!(s.duplicates, w.duplicated, "every duplicate is seen");
    // A held-back packet arrives after later ones: reordered once (its duplicate, if any, is
    // a duplicate).
    assert_eq!(
        s.reordered, w.reordered,
        "every held-back packet is reordered"
    );
    assert_eq!(s.rx, s.tx - w.dropped_loss + w.duplicated);
    l.assert_no_leak();
}

#[test]
fn rate_is_exact_every_second_split_over_two_cores() {
    let text = format!(
        "{}{}\n[test]\nduration = \"3s\"\n",
        ports(2),
        stream_ab("rate = \"10007pps\"")
    );
    let (r, mut l) = run(&text, Impairments::NONE);
    // Three seconds of sending, then the drain's partial second with nothing sent.
    assert_eq!(
        r.series.len(),
        4,
        "{:?}",
        r.series.iter().map(|s| s.second).collect::<Vec<_>>()
    );
    assert_eq!(r.series[3].streams[0].tx, 0);
    for s in &r.series[..3] {
        assert_eq!(s.streams[0].tx, 10_007, "second {}", s.second);
        assert_eq!(s.streams[0].intended, 10_007);
        assert_eq!(s.ports[0].tx, 10_007);
    }
    assert_eq!(r.streams[0].tx, 3 * 10_007);
    assert_eq!(r.streams[0].lost, 0);
    l.assert_no_leak();
}

#[test]
fn l1_and_l2_bit_rates_count_the_right_bytes() {
    // 100 Mbit/s L1 of 1518-byte frames: 1538 × 8 bits each → 8127.4 pps; L2: 8234.5 pps.
    for (layer, want) in [("l1", 8127), ("l2", 8234)] {
        let text = format!(
            "{}{}\n[test]\nduration = \"1s\"\n",
            ports(1),
            stream_ab(&format!(
                "rate = \"100Mbps\"\nrate_layer = \"{layer}\"\nsize = 1518"
            ))
        );
        let (r, mut l) = run(&text, Impairments::NONE);
        let tx = r.streams[0].tx as i64;
        assert!((tx - want).abs() <= 1, "{layer}: {tx}");
        l.assert_no_leak();
    }
}

#[test]
fn merge_of_two_reports_equals_one_run() {
    let imp = [
        Impairments {
            delay: Nanos::from_micros(10),
            jitter: Nanos::from_micros(30),
            ..Impairments::NONE
        },
        Impairments {
            delay: Nanos::from_micros(100),
            jitter: Nanos::from_micros(5),
            loss: 0.01,
            ..Impairments::NONE
        },
    ];
    let base = r#"[backend]
kind = "mem"
[[port]]
name = "a0"
addresses = ["198.18.1.1/24"]
[[port]]
name = "b0"
addresses = ["198.18.2.1/24"]
[[port]]
name = "a1"
addresses = ["198.18.3.1/24"]
[[port]]
name = "b1"
addresses = ["198.18.4.1/24"]
[test]
duration = "200ms"
"#;
    let x = "[[stream]]\nname = \"x\"\nport = \"a0\"\ndst = \"198.18.2.1\"\ndst_mac = \"02:00:00:00:00:0b\"\nrate = \"100kpps\"\n";
    let y = "[[stream]]\nname = \"y\"\nport = \"a1\"\ndst = \"198.18.4.1\"\ndst_mac = \"02:00:00:00:01:0b\"\nrate = \"50kpps\"\nsize = \"imix\"\n";
    let mut only_x = two_wires(&format!("{base}{x}"), imp);
    let rx = only_x.run();
    let mut only_y = two_wires(&format!("{base}{y}"), imp);
    let ry = only_y.run();
    let mut both = two_wires(&format!("{base}{x}{y}"), imp);
    let rb = both.run();
    // Through JSON, as `burst gen merge a.json b.json` reads them.
    let back =
        |r: &Report| serde_json::from_str::<Report>(&serde_json::to_string(r).unwrap()).unwrap();
    let merged = Report::merge(&[back(&rx), back(&ry)]).unwrap();
    assert_eq!(merged.runs, 2);
    for name in ["x", "y"] {
        let m = merged.streams.iter().find(|s| s.name == name).unwrap();
        let b = rb.streams.iter().find(|s| s.name == name).unwrap();
        assert_eq!((m.tx, m.rx, m.lost), (b.tx, b.rx, b.lost), "{name}");
        assert_eq!(
            m.latency, b.latency,
            "{name}: the merged histogram is the one run's"
        );
    }
    let hm = merged.histogram(0).unwrap();
    assert!(hm.len() > 10_000 && hm.max() > hm.min());
    // Per-second series add up too.
    assert_eq!(merged.series.len(), rb.series.len());
    for (m, b) in merged.series.iter().zip(&rb.series) {
        for (pm, pb) in m.ports.iter().zip(&b.ports) {
            assert_eq!((pm.tx, pm.rx, pm.p99_ns), (pb.tx, pb.rx, pb.p99_ns));
        }
    }
    for mut l in [only_x, only_y, both] {
        l.assert_no_leak();
    }
}

#[test]
fn frames_carry_the_configured_fields_and_valid_checksums() {
    use burst_wire::ipv4;
    let text = format!(
        "{}{}",
        ports(1),
        stream_ab(
            "protocol = \"tcp\"\ntcp_flags = \"syn\"\nsrc_port = 4000\ndst_port = 80\ntos = 0xb8\nttl = 9\nvlan = 100\nsize = [78, 128]\ncount = 600\nrate = \"1Mpps\"\nvary = [\n  { field = \"src_ip\", min = \"198.18.1.10\", count = 5 },\n  { field = \"dst_port\", op = \"dec\", min = 1000, max = 1002 },\n  { field = \"ip_id\", op = \"random\", min = 0, max = 65535 },\n]"
        )
    );
    let mut l = lab_with(&text, Impairments::NONE, &[true, false]);
    let r = l.run();
    assert_eq!(r.streams[0].tx, 600);
    let frames = l.frames(1);
    assert_eq!(frames.len(), 600);
    let mut srcs = std::collections::BTreeSet::new();
    let mut ports_seen = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.len() + 4, if i % 2 == 0 { 78 } else { 128 });
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x00, 100]);
        let ip = ipv4::Packet::new_checked(&f[18..]).unwrap();
        assert!(ip.verify_checksum(), "frame {i}: IPv4 checksum");
        assert_eq!((ip.dscp() << 2 | ip.ecn(), ip.ttl()), (0xb8, 9));
        let t = burst_wire::tcp::Packet::new_checked(ip.payload()).unwrap();
        assert!(
            t.verify_checksum(ip.src_addr(), ip.dst_addr()),
            "frame {i}: TCP checksum"
        );
        assert!(t.flags().contains(burst_wire::tcp::Flags::SYN));
        srcs.insert(ip.src_addr());
        ports_seen.push(t.dst_port());
        assert_eq!(t.src_port(), 4000);
    }
    assert_eq!(srcs.len(), 5);
    assert_eq!(&ports_seen[..4], &[1002, 1001, 1000, 1002]);
    l.assert_no_leak();
}

#[test]
fn udp_and_icmp_checksums_hold_for_every_size_and_variation() {
    use burst_wire::{icmpv4, ipv4, udp};
    for proto in ["udp", "icmp"] {
        let vary = if proto == "udp" {
            "{ field = \"src_port\", op = \"random\", min = 1, max = 65535 }, { field = \"size\", min = 64, max = 1518, step = 7 }"
        } else {
            "{ field = \"dst_ip\", op = \"random\", min = \"198.18.2.0\", max = \"198.18.2.255\" }, { field = \"ttl\", min = 1, max = 255 }"
        };
        let text = format!(
            "{}{}",
            ports(1),
            stream_ab(&format!(
                "protocol = \"{proto}\"\ncount = 3000\nrate = \"1Mpps\"\nvary = [{vary}]"
            ))
        );
        let mut l = lab_with(&text, Impairments::NONE, &[true, false]);
        l.run();
        let frames = l.frames(1);
        assert_eq!(frames.len(), 3000);
        for f in &frames {
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.verify_checksum());
            if proto == "udp" {
                let u = udp::Packet::new_checked(ip.payload()).unwrap();
                assert!(
                    u.verify_checksum(ip.src_addr(), ip.dst_addr()),
                    "{proto} len {}",
                    f.len()
                );
            } else {
                let m = icmpv4::Packet::new_checked(ip.payload()).unwrap();
                assert!(m.verify_checksum(), "icmp");
            }
        }
        l.assert_no_leak();
    }
}

#[test]
fn the_bulk_path_at_max_rate_sends_valid_numbered_frames() {
    use burst_gen::signature::Signature;
    use burst_gen::template::find_signature;
    use burst_wire::{ipv4, tcp, udp};
    for (proto, size) in [("udp", 64), ("tcp", 128), ("udp", 1518)] {
        let text = format!(
            "{}{}",
            ports(1),
            stream_ab(&format!(
                "protocol = \"{proto}\"\nsize = {size}\nrate = \"max\"\ncount = 3000"
            ))
        );
        let mut l = lab_with(&text, Impairments::NONE, &[true, false]);
        let r = l.run();
        assert_eq!(r.streams[0].tx, 3000);
        let frames = l.frames(1);
        assert_eq!(frames.len(), 3000);
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.len() + 4, size);
            let sig = Signature::read(&f[find_signature(f).unwrap()..]).unwrap();
            assert_eq!(sig.seq, i as u32, "{proto}: in order, numbered from 0");
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.verify_checksum());
            let ok = if proto == "udp" {
                udp::Packet::new_checked(ip.payload())
                    .unwrap()
                    .verify_checksum(ip.src_addr(), ip.dst_addr())
            } else {
                tcp::Packet::new_checked(ip.payload())
                    .unwrap()
                    .verify_checksum(ip.src_addr(), ip.dst_addr())
            };
            assert!(ok, "{proto} {size}: frame {i} checksum");
        }
        l.assert_no_leak();
    }
}

/// The bulk path with varied fields (one frame per burst, per packet only the sequence number
/// and the fields, both checksums patched once): every frame numbered in order, valid
/// checksums, and the fields step as configured from the first packet on.
#[test]
fn the_bulk_path_with_varied_fields_sends_valid_stepped_frames() {
    use burst_gen::signature::Signature;
    use burst_gen::template::find_signature;
    use burst_wire::{ipv4, tcp, udp};
    let cases = [
        ("udp", 64, "{ field = \"src_port\", min = 1024, max = 65535 }, { field = \"ip_id\", op = \"random\", min = 0, max = 65535 }"),
        ("tcp", 128, "{ field = \"dst_port\", op = \"dec\", min = 1000, max = 1002 }, { field = \"src_ip\", min = \"198.18.1.10\", count = 5 }, { field = \"ttl\", min = 1, max = 255 }"),
    ];
    for (proto, size, vary) in cases {
        let text = format!(
            "{}{}",
            ports(1),
            stream_ab(&format!(
                "protocol = \"{proto}\"\nsize = {size}\nrate = \"max\"\ncount = 3000\nvary = [{vary}]"
            ))
        );
        let mut l = lab_with(&text, Impairments::NONE, &[true, false]);
        let r = l.run();
        assert_eq!(r.streams[0].tx, 3000);
        let frames = l.frames(1);
        assert_eq!(frames.len(), 3000);
        let mut srcs = std::collections::BTreeSet::new();
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.len() + 4, size);
            let sig = Signature::read(&f[find_signature(f).unwrap()..]).unwrap();
            assert_eq!(sig.seq, i as u32, "{proto}: in order, numbered from 0");
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.verify_checksum(), "{proto}: frame {i} IPv4 checksum");
            let ok = if proto == "udp" {
                let u = udp::Packet::new_checked(ip.payload()).unwrap();
                assert_eq!(u.src_port(), 1024 + i as u16, "frame {i}");
                u.verify_checksum(ip.src_addr(), ip.dst_addr())
            } else {
                let t = tcp::Packet::new_checked(ip.payload()).unwrap();
                assert_eq!(t.dst_port(), [1002, 1001, 1000][i % 3], "frame {i}");
                assert_eq!(ip.ttl(), (i % 255 + 1) as u8, "frame {i}");
                srcs.insert(ip.src_addr());
                t.verify_checksum(ip.src_addr(), ip.dst_addr())
            };
            assert!(ok, "{proto} {size}: frame {i} checksum");
        }
        if proto == "tcp" {
            assert_eq!(srcs.len(), 5);
        }
        l.assert_no_leak();
    }
}

#[test]
fn metrics_count_what_the_report_counts() {
    use burst_gen::metrics::GenMetrics;
    use burst_gen::run::Live;
    use std::sync::Arc;
    let imp = Impairments {
        loss: 0.01,
        ..Impairments::NONE
    };
    let text = format!(
        "{}{}\n[test]\nduration = \"3s\"\n",
        ports(2),
        stream_ab("rate = \"10007pps\"\nsize = 100")
    );
    let mut l = lab(&text, imp);
    let m = Arc::new(GenMetrics::new(&l.cfg));
    let before = m.render();
    assert!(
        before.contains("burst_gen_tx_packets_total{port=\"a\"} 0"),
        "every series from the start:\n{before}"
    );
    let r = l.run_live(&Live::Exported(Box::new(Live::Quiet), m.clone()));
    let text = m.render();
    let s = &r.streams[0];
    for want in [
        format!(
            "burst_gen_tx_packets_total{{port=\"a\"}} {}",
            r.ports[0].counters.tx
        ),
        format!(
            "burst_gen_tx_bytes_total{{port=\"a\"}} {}",
            r.ports[0].counters.tx * 100
        ),
        format!("burst_gen_rx_packets_total{{port=\"b\"}} {}", s.rx),
        format!(
            "burst_gen_stream_intended_total{{stream=\"ab\"}} {}",
            s.intended
        ),
        format!("burst_gen_stream_tx_total{{stream=\"ab\"}} {}", s.tx),
        format!("burst_gen_stream_rx_total{{stream=\"ab\"}} {}", s.rx),
        // The last second is the drain's: nothing sent in it.
        "burst_gen_tx_pps{port=\"a\"} 0".to_string(),
        format!("burst_gen_seconds {}", r.series.len()),
        "# TYPE burst_gen_latency_seconds gauge".to_string(),
        "burst_gen_latency_seconds{port=\"b\",quantile=\"0.99\"}".to_string(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    assert_eq!(s.tx, 3 * 10_007);
    assert!(
        s.rx < s.tx && s.rx > s.tx * 97 / 100,
        "1 % loss: {} of {}",
        s.rx,
        s.tx
    );
    l.assert_no_leak();
}

/// The paced path with one frame size (RFC 2544's trials): the due slots of a poll taken and
/// filled in one pass. Every frame leaves in its own slot (the signature's timestamp is the
/// virtual clock's send time: exactly one interval apart), numbered in order, with valid
/// checksums, with and without varied fields, at a packet rate and at an L1 bit rate.
#[test]
fn the_paced_path_sends_every_frame_in_its_slot_numbered_and_valid() {
    use burst_gen::signature::Signature;
    use burst_gen::template::find_signature;
    use burst_wire::{ipv4, udp};
    // (size, rate keys, interval in ns, varied field)
    let cases = [
        (64, "rate = \"1Mpps\"", 1_000, ""),
        (
            64,
            "rate = \"2Mpps\"",
            500,
            "vary = [{ field = \"src_port\", min = 1024, max = 65535 }]",
        ),
        // 1518-byte frames at 1 Gbit/s L1: 1538 × 8 bits, 12,304 ns apart.
        (1518, "rate = \"1Gbps\"", 12_304, ""),
    ];
    for (size, rate, gap, vary) in cases {
        let text = format!(
            "{}{}",
            ports(1),
            stream_ab(&format!("size = {size}\n{rate}\ncount = 3000\n{vary}"))
        );
        let mut l = lab_with(&text, Impairments::NONE, &[true, false]);
        let r = l.run();
        let s = &r.streams[0];
        assert_eq!((s.tx, s.intended, s.skipped, s.unsent), (3000, 3000, 0, 0));
        assert_eq!(s.tx_bytes, 3000 * size as u64);
        let frames = l.frames(1);
        assert_eq!(frames.len(), 3000);
        let mut ts0 = 0;
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.len() + 4, size);
            let sig = Signature::read(&f[find_signature(f).unwrap()..]).unwrap();
            assert_eq!(
                sig.seq, i as u32,
                "{size} {rate}: in order, numbered from 0"
            );
            if i == 0 {
                ts0 = sig.ts;
            }
            assert_eq!(
                sig.ts - ts0,
                i as u64 * gap,
                "{size} {rate}: frame {i} in its slot"
            );
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            assert!(ip.verify_checksum());
            let u = udp::Packet::new_checked(ip.payload()).unwrap();
            if !vary.is_empty() {
                assert_eq!(u.src_port(), 1024 + i as u16, "frame {i}");
            }
            assert!(
                u.verify_checksum(ip.src_addr(), ip.dst_addr()),
                "{size} {rate}: frame {i} checksum"
            );
        }
        l.assert_no_leak();
    }
}
