//! `burst gen`'s configuration errors: each names the file, line and column, the key and the
//! fix, before any port opens; and every example configuration parses.

use burst_gen::config::GenConfig;

const BASE: &str = r#"[backend]
kind = "mem"

[eal]
cores = 2

[[port]]
name = "a"
addresses = ["198.18.1.1/24"]

[[stream]]
name = "s"
dst = "198.18.2.1"
"#;

fn err(extra: &str) -> String {
    GenConfig::parse(&format!("{BASE}{extra}"), "gen.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn errors_name_position_key_and_fix() {
    assert_eq!(
        err("bogus = 1\n"),
        "gen.toml:14:1: stream[0].bogus: unknown key (expected one of `name`, `port`, \
         `protocol`, `src`, `dst`, `src_mac`, `dst_mac`, `gateway`, `vlan`, `vlan_pcp`, \
         `src_port`, `dst_port`, `tos`, `ttl`, `ip_id`, `df`, `tcp_flags`, `payload`, `pcap`, \
         `size`, `vary`, `rate`, `rate_layer`, `line_rate`, `pattern`, `count`, `duration`, \
         `burst`, `bursts`, `gap`, `start_delay`, `signature`, `cores`)"
    );
    let e = err("rate = \"20Mpps\"\n");
    assert!(
        e.starts_with("gen.toml:14:8: stream[0].rate: 20.000 Mpps of 64-byte frames is 13.44 Gbit/s on the wire")
            && e.contains("above the line rate (10.00 Gbit/s): lower rate, or set line_rate"),
        "{e}"
    );
    let e = err("rate = \"0.5pps\"\n");
    assert!(
        e.contains("stream[0].rate") && e.contains("below 1 packet per second"),
        "{e}"
    );
    let e = err("rate = \"fast\"\n");
    assert!(e.contains("\"fast\": not a rate (e.g. \"5Mpps\""), "{e}");
    let e = err("size = 40\n");
    assert!(
        e.starts_with(
            "gen.toml:14:8: stream[0].size: 40: frame sizes (FCS included) must be 64..=1518"
        ) && e.contains("raise [[port]] mtu"),
        "{e}"
    );
    let e = err("size = 9000\n");
    assert!(
        e.contains("9000: frame sizes") && e.contains("MTU 1500"),
        "{e}"
    );
    let e = err("protocol = \"tcp\"\n");
    assert!(
        e.contains("stream[0].size: 64-byte frames cannot hold the tcp headers and the 16-byte signature (74 bytes with the FCS): use size >= 74 or signature = false"),
        "{e}"
    );
    let e = err("size = \"64-40\"\n");
    assert!(e.contains("minimum is above its maximum"), "{e}");
    let e = err("port = \"z\"\n");
    assert!(
        e.contains("stream[0].port: port z does not exist (ports: a)"),
        "{e}"
    );
    let e = GenConfig::parse(&BASE.replace("dst = \"198.18.2.1\"\n", ""), "gen.toml").unwrap_err();
    assert_eq!(e.key, "stream[0].dst");
    assert!(e.reason.contains("missing required key"), "{e}");
    let e = err("vary = [{ field = \"colour\", max = 3 }]\n");
    assert!(
        e.contains("stream[0].vary[0].field: \"colour\": expected src_ip"),
        "{e}"
    );
    let e = err("vary = [{ field = \"src_port\" }]\n");
    assert!(e.contains("give max (the last value) or count"), "{e}");
    let e = err("cores = [0, 2]\n");
    assert!(
        e.contains("stream[0].cores[1]: core 2 does not exist ([eal] cores = 2: 0..=1)"),
        "{e}"
    );
    let e = err("duration = \"20s\"\n");
    assert!(e.contains("at most the test's duration"), "{e}");
    let e = err("[test]\nduration = \"2d\"\n");
    assert!(
        e.contains("test.duration: must be more than 0 and at most 1d"),
        "{e}"
    );
    let e = err("[test]\ncatch_up = \"2s\"\n");
    assert!(e.contains("test.catch_up: at most 1s"), "{e}");
    let e = err("[test]\nreorder_window = 1000\n");
    assert!(e.contains("1000 is not a power of two"), "{e}");
    let e = err("[test.rfc2544]\nsizes = [64, 20000]\n");
    assert!(
        e.contains("test.rfc2544.sizes[1]: 20000: frame sizes are 64..=9018"),
        "{e}"
    );
    let e = GenConfig::parse(
        BASE.replace("[[stream]]\nname = \"s\"\ndst = \"198.18.2.1\"\n", "")
            .as_str(),
        "gen.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("at least one [[stream]] is required"), "{e}");
    // `burst run`'s idle sleep would break the generator's pacing.
    let e = GenConfig::parse(
        &BASE.replace("cores = 2", "cores = 2\nidle_sleep = \"1us\""),
        "gen.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("eal.idle_sleep: burst gen's workers do not sleep when idle"),
        "{e}"
    );
    // The runtime's own sections keep the runtime's errors.
    let e = GenConfig::parse(
        &BASE.replace("198.18.1.1/24", "198.18.1.300/24"),
        "gen.toml",
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "gen.toml:9:14: port[0].addresses[0]: 198.18.1.300/24: not an IPv4 prefix (expected a.b.c.d/len)"
    );
}

#[test]
fn pcap_files_that_do_not_parse_are_refused_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("burst-gen-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.pcap"), b"this is not a pcap file at all").unwrap();
    let text = format!("{BASE}protocol = \"pcap\"\npcap = \"bad.pcap\"\n")
        .replace("dst = \"198.18.2.1\"\n", "");
    let e = GenConfig::parse_in(&text, "gen.toml", &dir)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("gen.toml:14:8: stream[0].pcap:") && e.contains("not a pcap file"),
        "{e}"
    );
    let e = GenConfig::parse_in(&text.replace("bad.pcap", "missing.pcap"), "gen.toml", &dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.pcap: cannot open"), "{e}");
    // A good file: its frames become the stream's, in turn.
    let mut w =
        pcap_file::pcap::PcapWriter::new(std::fs::File::create(dir.join("ok.pcap")).unwrap())
            .unwrap();
    for len in [60usize, 100] {
        let data = vec![0x11u8; len];
        w.write_packet(&pcap_file::pcap::PcapPacket::new(
            std::time::Duration::ZERO,
            len as u32,
            &data,
        ))
        .unwrap();
    }
    drop(w);
    let c = GenConfig::parse_in(&text.replace("bad.pcap", "ok.pcap"), "gen.toml", &dir).unwrap();
    assert_eq!(c.streams[0].size.all_sizes(), [64, 104]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_example_configuration_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/gen");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if ["[[stream]]", "[[client]]", "[[server]]"]
            .iter()
            .any(|s| text.contains(s))
        {
            GenConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        } else {
            burst_runtime::config::Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
        n += 1;
    }
    assert!(n >= 4, "{n} examples");
}
