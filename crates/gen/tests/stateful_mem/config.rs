//! The stateful sections' parsing and validation, and the per-connection state size.

use super::*;

#[test]
fn impossible_concurrency_is_refused() {
    let text = r#"[backend]
kind = "mem"

[eal]
cores = 2

[[port]]
name = "a"
addresses = ["198.18.0.1/24"]

[[client]]
sources = { addresses = "198.18.0.1", ports = "10000-19999" }
servers = ["198.18.1.1:80", "198.18.1.2:80"]
concurrency = 70000
duration = "10s"
"#;
    let e = GenConfig::parse(text, "gen.toml").unwrap_err().to_string();
    assert!(
        e.contains(
            "client[0].concurrency: 70000 concurrent connections need 70000 distinct (source \
             address, source port, server) tuples, but the sources give 1 address × 10000 \
             ports × 2 servers = 20000"
        ),
        "{e}"
    );
    assert!(e.starts_with("gen.toml:14:"), "{e}");
    // Enough overall, but not on one core's half of the ports.
    let e = GenConfig::parse(
        &text
            .replace("concurrency = 70000", "concurrency = 20000\ncores = [0, 1]")
            .replace("10000-19999", "10000-19998"),
        "gen.toml",
    );
    assert!(e.is_err());
    let e = GenConfig::parse(
        &text.replace("concurrency = 70000", "concurrency = 19000\nramp = \"2s\""),
        "gen.toml",
    )
    .unwrap();
    assert_eq!(e.clients[0].load, Load::Closed { concurrency: 19000 });
    assert_eq!(e.clients[0].ramp, Nanos::from_secs(2));
}

#[test]
fn sections_parse() {
    let text = r#"[backend]
kind = "mem"

[eal]
cores = 2

[[port]]
name = "a"
addresses = ["198.18.0.1/24"]

[[client]]
name = "web"
sources = { addresses = "198.18.0.10-198.18.0.19", ports = "10000-60000" }
servers = ["198.18.1.1:80"]
cps = 50000
ramp = "5s"
requests = 1000000
timeout = "2s"
check_body = true
[client.http]
path = "/x"
headers = ["User-Agent: burst"]
requests_per_conn = 4
close = false

[[server]]
listen = "198.18.1.1:80"
response_bytes = "64KiB"

[[server]]
listen = "198.18.1.1:9000"
program = { send = 100, expect = "1KiB", delay = "1ms", repeat = 3 }
cores = [1]
"#;
    let g = GenConfig::parse(text, "gen.toml").unwrap();
    assert!(g.streams.is_empty());
    let c = &g.clients[0];
    assert_eq!((c.src_count, c.src_ports), (10, (10000, 60000)));
    assert_eq!(c.load, Load::Open { cps: 50000 });
    assert_eq!(c.cores, vec![0, 1]);
    assert_eq!(c.share(1).load, Load::Open { cps: 25000 });
    assert_eq!(
        c.work,
        Work::Http(HttpWork {
            path: "/x".into(),
            headers: vec!["User-Agent: burst".into()],
            requests_per_conn: 4,
            close: false
        })
    );
    assert_eq!(
        g.servers[0].work,
        ServerWork::Http {
            response_bytes: 65536
        }
    );
    assert_eq!(
        g.servers[1].work,
        ServerWork::Program(Program {
            send: 100,
            expect: 1024,
            delay: ms(1),
            repeat: 3
        })
    );
    for (bad, want) in [
        ("cps = 50000", "cps = 1\nconcurrency = 1", "not both"),
        ("cps = 50000", "", "client[0].concurrency: required"),
        ("requests = 1000000", "", "client[0].duration: required"),
        (
            "servers = [\"198.18.1.1:80\"]",
            "servers = [\"198.18.1.1\"]",
            "not an IPv4 address and port",
        ),
        ("path = \"/x\"", "path = \"x y\"", "client[0].http.path"),
        (
            "\"User-Agent: burst\"",
            "\"Host: x\"",
            "written by the client itself",
        ),
        (
            "cores = [1]",
            "cores = [2]",
            "server[1].cores: core 2 does not exist",
        ),
        (
            "send = 100",
            "send = 0",
            "server[1].program.repeat: rounds are kept in step",
        ),
        (
            "response_bytes = \"64KiB\"",
            "response_bytes = \"64QB\"",
            "not a size",
        ),
        (
            "close = false",
            "close = false\nkeepalive = 1",
            "unknown key",
        ),
    ]
    .map(|(a, b, c)| ((a, b), c))
    {
        let e = GenConfig::parse(&text.replacen(bad.0, bad.1, 1), "gen.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{bad:?}: {e}");
    }
}

/// The per-connection state stays small (the issue's target: 1 KiB plus buffers in use).
#[test]
fn per_connection_state_size() {
    assert_eq!(CONN_STATE_BYTES, 104, "client Conn");
    assert_eq!(SCONN_STATE_BYTES, 96, "server SConn");
    // For the record (docs/gen.md): what the TCP engine adds per connection.
    eprintln!(
        "client {CONN_STATE_BYTES} B, server {SCONN_STATE_BYTES} B, tcp Connection {} B",
        core::mem::size_of::<burst_tcp::Connection>()
    );
}
