//! DPDK `net_af_packet` port on the lab "host" topology (`scripts/lab.sh`), with the Linux
//! kernel in its own namespace as the peer:
//! * frames we send arrive at Linux intact (captured by tcpdump in the namespace);
//! * a 64 KiB TCP super-segment handed to the port without TSO leaves as MSS-sized segments
//!   that tshark decodes with no checksum or sequence error;
//! * frames Linux sends (ARP, UDP from `nc`) arrive at us intact;
//! * every mbuf is back in the pool at the end.
//!
//! Needs root (namespaces, af_packet), tcpdump and tshark: the README's test command provides
//! them.
#![cfg(feature = "dpdk")]

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use burst_port::dpdk::{DpdkPort, DpdkPortConfig, DpdkQueue, Eal, Mempool, MempoolConfig};
use burst_port::{Batch, L4Checksum, PacketBuf, Port, Queue, TxOffload};
use burst_wire::dissect::{self, Network, Transport};
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::tcp::{self, Flags, SeqNumber};
use burst_wire::{arp, checksum, udp, ChecksumCheck, ChecksumMode};

const OURS: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const OUR_MAC: MacAddr = MacAddr::new(0x02, 0xb5, 0, 0, 0, 2);
const UDP_FRAMES: usize = 32;
const TSO_PAYLOAD: usize = 65_483;
const MSS: u16 = 1448;
const TSO_SEGMENTS: usize = TSO_PAYLOAD.div_ceil(MSS as usize);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The lab topology, torn down on drop (also when the test fails).
struct Lab {
    prefix: String,
}

impl Lab {
    fn up() -> Lab {
        let prefix = format!("bp{}", std::process::id() % 100_000);
        let lab = Lab { prefix };
        lab.script(&["up", "host"]);
        lab
    }
    fn script(&self, args: &[&str]) {
        let st = Command::new(repo().join("scripts/lab.sh"))
            .args(args)
            .env("LAB_PREFIX", &self.prefix)
            .stdout(Stdio::null())
            .status()
            .expect("run scripts/lab.sh (needs root)");
        assert!(st.success(), "lab.sh {args:?} failed");
    }
    fn iface(&self) -> String {
        format!("{}h0", self.prefix)
    }
    fn ns(&self) -> String {
        format!("{}peer", self.prefix)
    }
    fn in_ns(&self, cmd: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns()]).args(cmd);
        c
    }
    fn peer_mac(&self) -> MacAddr {
        let out = Command::new("ip")
            .args(["-n", &self.ns(), "-br", "link", "show", "eth0"])
            .output()
            .expect("ip link");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .find_map(|w| w.parse::<MacAddr>().ok())
            .unwrap_or_else(|| panic!("no MAC in {text:?}"))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/lab.sh"))
            .args(["down", "host"])
            .env("LAB_PREFIX", &self.prefix)
            .status();
    }
}

/// tcpdump in the peer namespace, started and confirmed listening before we send.
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    fn start(lab: &Lab, count: usize, filter: &str) -> Capture {
        let file = std::env::temp_dir().join(format!("{}-capture.pcap", lab.prefix));
        let mut child = lab
            .in_ns(&[
                "tcpdump",
                "-i",
                "eth0",
                "-U",
                "-n",
                "-s",
                "0",
                "-c",
                &count.to_string(),
                "-w",
            ])
            .arg(&file)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump");
        // tcpdump says "listening on eth0" once its socket is open.
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).expect("tcpdump output");
        assert!(line.contains("listening"), "tcpdump: {line}");
        std::thread::spawn(move || for _ in err.lines() {});
        Capture { child, file }
    }

    /// Waits (bounded) for tcpdump to have its `count` frames, then returns the file.
    fn finish(mut self, deadline: Duration) -> PathBuf {
        let end = Instant::now() + deadline;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "tcpdump exited with {st}");
                return self.file.clone();
            }
            assert!(
                Instant::now() < end,
                "tcpdump did not see every frame in {deadline:?}"
            );
            std::thread::yield_now();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn frame_with(
    peer: MacAddr,
    ip: ipv4::Repr,
    l4: &mut dyn FnMut(&mut [u8]),
    l4_len: usize,
) -> Vec<u8> {
    let mut f = vec![0u8; 14 + ip.header_len() + l4_len];
    ethernet::Repr {
        src_addr: OUR_MAC,
        dst_addr: peer,
        vlan: None,
        ethertype: EtherType::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    l4(&mut f[14 + ip.header_len()..]);
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut f[14..]),
        ChecksumMode::Offload,
    );
    f
}

/// A UDP datagram to the peer's discard port, both checksums left for offload.
fn udp_frame(peer: MacAddr, seq: u16) -> Vec<u8> {
    let payload: Vec<u8> = (0..100 + seq as usize)
        .map(|i| (i as u16 ^ seq) as u8)
        .collect();
    let u = udp::Repr {
        src_port: 40000,
        dst_port: 9,
        payload_len: payload.len(),
    };
    let ip = ipv4::Repr {
        ident: seq,
        ..ipv4::Repr::new(OURS, PEER, Protocol::UDP, u.buffer_len(), 64)
    };
    frame_with(
        peer,
        ip,
        &mut |b| {
            b[8..].copy_from_slice(&payload);
            u.emit(
                &mut udp::Packet::new_unchecked(b),
                OURS,
                PEER,
                ChecksumMode::Offload,
            );
        },
        u.buffer_len(),
    )
}

/// A TSO super-segment: IPv4 checksum 0, TCP checksum = pseudo-header sum without the length.
fn tso_frame(peer: MacAddr) -> (Vec<u8>, TxOffload) {
    let t = tcp::Repr {
        src_port: 40001,
        dst_port: 5001,
        seq: SeqNumber(0x1000_0000),
        ack_number: SeqNumber(1),
        flags: Flags::ACK | Flags::PSH,
        window: 512,
        options: tcp::Options::ack(Some((1, 2)), None),
        payload_len: TSO_PAYLOAD,
        ..tcp::Repr::default()
    };
    let ip = ipv4::Repr {
        ident: 1000,
        dont_frag: true,
        ..ipv4::Repr::new(OURS, PEER, Protocol::TCP, t.buffer_len(), 64)
    };
    let f = frame_with(
        peer,
        ip,
        &mut |b| {
            for (i, x) in b[t.header_len()..].iter_mut().enumerate() {
                *x = (i % 251) as u8;
            }
            let mut p = tcp::Packet::new_unchecked(b);
            t.emit(&mut p, OURS, PEER, ChecksumMode::Offload);
            p.set_checksum(checksum::pseudo_header(OURS, PEER, 6, 0));
        },
        t.buffer_len(),
    );
    let o = TxOffload {
        l2_len: 14,
        l3_len: ip.header_len() as u8,
        l4_len: t.header_len() as u8,
        ipv4_checksum: true,
        l4_checksum: Some(L4Checksum::Tcp),
        tso_segsz: MSS,
    };
    (f, o)
}

fn send(q: &mut DpdkQueue, frame: &[u8], o: TxOffload) {
    // Larger frames go as a chain of buffer-sized segments.
    let mut chunks = frame.chunks(2000);
    let first = chunks.next().unwrap();
    let mut m = q.alloc().expect("mbuf");
    m.append(first.len()).unwrap().copy_from_slice(first);
    for c in chunks {
        let mut t = q.alloc().expect("mbuf");
        t.append(c.len()).unwrap().copy_from_slice(c);
        m.chain(t).unwrap();
    }
    m.set_tx_offload(o);
    let mut b = Batch::new();
    b.push(m).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while !b.is_empty() {
        q.tx_burst(&mut b);
        assert!(Instant::now() < end, "the port never took the frame");
    }
}

fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let mut r = pcap_file::pcap::PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        v.push(p.unwrap().data.into_owned());
    }
    v
}

fn tshark_lines(file: &Path, filter: &str) -> Vec<String> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(file)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Receives until `pred` accepts a frame or the deadline passes.
fn receive_until(
    q: &mut DpdkQueue,
    deadline: Duration,
    mut pred: impl FnMut(&[u8]) -> bool,
) -> bool {
    let end = Instant::now() + deadline;
    let mut batch = Batch::new();
    let mut buf = vec![0u8; 65536];
    while Instant::now() < end {
        q.rx_burst(&mut batch);
        for m in batch.drain(..) {
            let n = m.copy_to(&mut buf);
            if pred(&buf[..n]) {
                return true;
            }
        }
        std::thread::yield_now();
    }
    false
}

#[test]
fn linux_peer_over_af_packet() {
    let lab = Lab::up();
    let eal = Eal::init(&[
        "--no-huge".into(),
        "--no-pci".into(),
        "--no-shconf".into(),
        "--no-telemetry".into(),
        "-m".into(),
        "256".into(),
        "-l".into(),
        "0".into(),
        "--log-level=lib.eal:warning".into(),
        "--file-prefix=burst-test-afpacket".into(),
        format!("--vdev=net_af_packet0,iface={},qpairs=1", lab.iface()),
    ])
    .expect("rte_eal_init");
    let pool = Mempool::new(
        &eal,
        "afp",
        &MempoolConfig {
            size: 4095,
            ..MempoolConfig::default()
        },
    )
    .unwrap();
    let start = pool.avail();
    let cfg = DpdkPortConfig {
        mac: Some(OUR_MAC),
        offloads: false,
        ..DpdkPortConfig::default()
    };
    let mut port = DpdkPort::open("net_af_packet0", &cfg, &pool).expect("open af_packet port");
    assert_eq!(port.info().driver, "net_af_packet");
    assert!(!port.info().caps.tx_tso, "the software path is under test");
    let mut q = port.take_queue(0).unwrap();
    let peer_mac = lab.peer_mac();

    // 1. Our frames reach Linux intact: 32 UDP datagrams and one super-segment.
    let cap = Capture::start(&lab, UDP_FRAMES + TSO_SEGMENTS, "ip src 198.18.0.2");
    let udp_o = TxOffload {
        l2_len: 14,
        l3_len: 20,
        l4_len: 0,
        ipv4_checksum: true,
        l4_checksum: Some(L4Checksum::Udp),
        tso_segsz: 0,
    };
    let sent: Vec<Vec<u8>> = (0..UDP_FRAMES as u16)
        .map(|s| udp_frame(peer_mac, s))
        .collect();
    for f in &sent {
        send(&mut q, f, udp_o);
    }
    let (sup, tso_o) = tso_frame(peer_mac);
    send(&mut q, &sup, tso_o);
    let file = cap.finish(Duration::from_secs(20));

    let got = read_pcap(&file);
    assert_eq!(got.len(), UDP_FRAMES + TSO_SEGMENTS);
    for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
        let f = dissect::parse(g, ChecksumCheck::Verify)
            .unwrap_or_else(|e| panic!("datagram {i}: {e}"));
        let Network::Ipv4 {
            transport: Transport::Udp { payload, .. },
            ..
        } = f.network
        else {
            panic!("datagram {i} is not UDP")
        };
        assert_eq!(payload, &s[42..], "datagram {i} payload");
    }
    // tshark (an independent decoder) judges the software segmentation.
    let segs = tshark_lines(&file, "tcp.port == 5001");
    assert_eq!(segs.len(), TSO_SEGMENTS);
    let bad = tshark_lines(&file, "tcp.port == 5001 && (tcp.checksum.status != 1 || ip.checksum.status != 1 || tcp.analysis.flags)");
    assert!(bad.is_empty(), "segments with errors: {bad:?}");
    let full = tshark_lines(&file, &format!("tcp.port == 5001 && tcp.len == {MSS}"));
    assert_eq!(
        full.len(),
        TSO_SEGMENTS - 1,
        "all but the last segment are MSS-sized"
    );
    let mut data = Vec::new();
    for g in &got[UDP_FRAMES..] {
        let f = dissect::parse(g, ChecksumCheck::Verify).unwrap();
        let Network::Ipv4 {
            transport: Transport::Tcp { payload, .. },
            ..
        } = f.network
        else {
            panic!()
        };
        data.extend_from_slice(payload);
    }
    assert!(
        data.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8) && data.len() == TSO_PAYLOAD
    );
    let _ = std::fs::remove_file(&file);

    // 2. Linux's frames reach us: its ARP request for our address...
    let mut ping = lab
        .in_ns(&["ping", "-c", "2", "-W", "1", "198.18.0.2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let arp_seen = receive_until(&mut q, Duration::from_secs(5), |f| {
        matches!(dissect::parse(f, ChecksumCheck::Verify),
            Ok(dissect::Frame { network: Network::Arp(a), ethernet, .. })
                if a.operation == arp::Operation::REQUEST
                    && a.target_protocol_addr == OURS
                    && a.source_hardware_addr == peer_mac
                    && ethernet.src_addr == peer_mac)
    });
    let _ = ping.kill();
    let _ = ping.wait();
    assert!(arp_seen, "Linux's ARP request for 198.18.0.2 arrived");
    // ...and a UDP datagram from nc, with Linux's checksums verifying here.
    let st = lab
        .in_ns(&[
            "ip",
            "neigh",
            "replace",
            "198.18.0.2",
            "lladdr",
            &OUR_MAC.to_string(),
            "dev",
            "eth0",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let msg = b"hello from the kernel\n";
    let mut nc = lab
        .in_ns(&["nc", "-u", "-w", "1", "-p", "5555", "198.18.0.2", "7777"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    nc.stdin.take().unwrap().write_all(msg).unwrap();
    let udp_seen = receive_until(&mut q, Duration::from_secs(5), |f| {
        matches!(dissect::parse(f, ChecksumCheck::Verify),
            Ok(dissect::Frame { network: Network::Ipv4 { header, transport: Transport::Udp { header: u, payload } }, .. })
                if header.src_addr == PEER && u.src_port == 5555 && u.dst_port == 7777 && payload == msg)
    });
    let _ = nc.kill();
    let _ = nc.wait();
    assert!(
        udp_seen,
        "nc's datagram arrived intact with valid checksums"
    );

    let stats = port.stats();
    assert!(
        stats.tx_packets >= (UDP_FRAMES + TSO_SEGMENTS) as u64,
        "{stats:?}"
    );
    assert!(stats.rx_packets >= 2, "{stats:?}");
    drop(q);
    drop(port);
    assert_eq!(pool.avail(), start, "every mbuf back in the pool");
}
