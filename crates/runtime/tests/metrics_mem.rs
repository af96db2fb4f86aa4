//! The Prometheus endpoint against a router node on the in-memory wire: scraped while traffic
//! is forwarded (the names and labels are there, the loop histograms fill), then scraped again
//! once traffic stopped and compared with `ctl stats`: the same values.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use burst_port::Nanos;
use burst_runtime::ctl::{Request, Response};
use common::router_lab::*;

/// One scrape over HTTP (on a thread: the node must keep stepping to answer it).
fn scrape(addr: SocketAddr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: burst\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let _ = tx.send(out);
    });
    rx
}

/// Steps the lab (sending `per_step` datagrams A → B each step) until the scrape answers, for
/// at most 10 s of real time.
fn step_until(l: &mut Lab, rx: &mpsc::Receiver<String>, per_step: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for _ in 0..per_step {
            l.send_from_a(&udp_datagram(A, B, 100, 64, false));
        }
        l.run_for(STEP);
        if let Ok(s) = rx.try_recv() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "the metrics endpoint did not answer within 10 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The value of the sample line that starts with `prefix`.
fn sample(text: &str, prefix: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no sample {prefix:?} in\n{text}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse::<f64>()
        .unwrap() as u64
}

#[test]
fn scraped_while_forwarding_and_equal_to_ctl_stats_at_rest() {
    let mut l = lab(Opts::default());
    // As `burst run` does for its DPDK pools.
    let pool = l.pool.clone();
    l.node.control.add_pool(
        "pool",
        Box::new(move || burst_runtime::control::PoolFigures::of_mem(&pool)),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (server, addr) = burst_runtime::metrics::serve(
        "127.0.0.1:0".parse().unwrap(),
        l.node.commands.clone(),
        stop.clone(),
    )
    .unwrap();
    // While A sends to B through the router.
    let rx = scrape(addr);
    let busy = step_until(&mut l, &rx, 4);
    assert!(busy.starts_with("HTTP/1.1 200 OK"), "{busy}");
    assert!(busy.contains("Content-Type: application/openmetrics-text"));
    for want in [
        "# TYPE burst_fwd_forwarded counter",
        "burst_fwd_forwarded_total{core=\"0\"}",
        "burst_port_rx_total{core=\"0\",port=\"a\"}",
        "burst_port_tx_total{core=\"0\",port=\"b\"}",
        "# TYPE burst_loop_seconds histogram",
        "burst_rx_burst_size_bucket{le=\"+Inf\",core=\"0\"}",
        "burst_drops_total{core=\"0\",protocol=\"ipv4\",reason=\"checksum\"}",
        "burst_limit{name=\"tcp.max_connections\"}",
        "burst_table_entries{table=\"routes\"}",
        "# EOF",
    ] {
        assert!(busy.contains(want), "missing {want:?}");
    }
    assert!(sample(&busy, "burst_fwd_forwarded_total{core=\"0\"}") > 0);
    assert!(sample(&busy, "burst_rx_burst_size_count{core=\"0\"}") > 0);
    // At rest: the scrape and ctl stats agree.
    l.run_for(Nanos::from_millis(200));
    let rx = scrape(addr);
    let rest = step_until(&mut l, &rx, 0);
    let stats = l.request(Request::Stats);
    l.run_for(STEP);
    let Ok(Response::Stats { groups }) = stats.try_recv() else {
        panic!("no ctl stats answer");
    };
    let core0 = groups.iter().find(|g| g.title == "core 0").unwrap();
    let get = |n: &str| core0.counters.iter().find(|c| c.name == n).unwrap().value;
    assert_eq!(
        sample(&rest, "burst_fwd_forwarded_total{core=\"0\"}"),
        get("fwd.forwarded")
    );
    assert_eq!(
        sample(&rest, "burst_port_rx_total{core=\"0\",port=\"a\"}"),
        get("p0.rx")
    );
    assert_eq!(
        sample(
            &rest,
            "burst_drops_total{core=\"0\",protocol=\"fwd\",reason=\"no_route\"}"
        ),
        get("fwd.drop_no_route")
    );
    // Every metric the Grafana dashboard in docs/ queries is exported.
    dashboard_metrics_exist(&rest);
    // Anything but GET /metrics: 404.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    l.finish();
}

/// docs/grafana/burst-dashboard.json parses, and every `burst_*` name in its queries is a
/// sample of `exported` (a histogram's `_bucket`/`_sum`/`_count`, a counter's `_total`).
fn dashboard_metrics_exist(exported: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana/burst-dashboard.json"
    );
    let text = std::fs::read_to_string(path).expect("docs/grafana/burst-dashboard.json");
    let d: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let panels = d["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8, "{} panels", panels.len());
    let mut names = Vec::new();
    for p in panels {
        for t in p["targets"].as_array().expect("targets") {
            let expr = t["expr"].as_str().expect("expr");
            let mut rest = expr;
            while let Some(i) = rest.find("burst_") {
                let tail = &rest[i..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                names.push(tail[..end].to_string());
                rest = &tail[end..];
            }
        }
    }
    assert!(!names.is_empty());
    for n in names {
        let found = exported
            .lines()
            .any(|l| l.starts_with(&format!("{n}{{")) || l.starts_with(&format!("{n} ")));
        assert!(
            found,
            "the dashboard queries {n}, which the endpoint does not export"
        );
    }
}

#[test]
fn metrics_listen_serves_the_endpoint_only_when_set() {
    let base =
        "[backend]\nkind = \"mem\"\n[[port]]\nname = \"p0\"\naddresses = [\"198.18.0.2/24\"]\n";
    let off = burst_runtime::config::Config::parse(base, "t.toml").unwrap();
    let on = burst_runtime::config::Config::parse(
        &format!("{base}[metrics]\nlisten = \"127.0.0.1:0\"\n"),
        "t.toml",
    )
    .unwrap();
    let bad = burst_runtime::config::Config::parse(
        &format!("{base}[metrics]\nlisten = \"localhost\"\n"),
        "t.toml",
    )
    .unwrap_err();
    assert_eq!(bad.key, "metrics.listen", "{bad}");
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    assert!(
        burst_runtime::metrics::serve_configured(&off.metrics, tx.clone(), stop.clone())
            .unwrap()
            .is_none(),
        "off by default"
    );
    let (h, addr) = burst_runtime::metrics::serve_configured(&on.metrics, tx, stop.clone())
        .unwrap()
        .expect("served when listen is set");
    // The control thread's side: answer one Stats request.
    let control = std::thread::spawn(move || {
        let c: burst_runtime::control::Command = rx.recv().unwrap();
        let _ = c.reply.send(Response::Stats { groups: vec![] });
    });
    let got = scrape(addr).recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
    control.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
}
