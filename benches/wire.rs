//! Parse and emit of a TCP/IPv4/Ethernet frame (ns per packet): checked views (the packet
//! path), full `Repr` parsing with and without checksum verification, and header emission.

use std::hint::black_box;
use std::net::Ipv4Addr;

use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::tcp::{self, Flags, SeqNumber};
use burst_wire::{dissect, ChecksumCheck, ChecksumMode};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);

fn reprs(payload_len: usize) -> (ethernet::Repr, ipv4::Repr, tcp::Repr) {
    let eth = ethernet::Repr {
        src_addr: MacAddr::new(2, 0, 0, 0, 0, 1),
        dst_addr: MacAddr::new(2, 0, 0, 0, 0, 2),
        vlan: None,
        ethertype: EtherType::IPV4,
    };
    let tcp = tcp::Repr {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNumber(0x1234_5678),
        ack_number: SeqNumber(0x9abc_def0),
        flags: Flags::ACK | Flags::PSH,
        window: 502,
        options: tcp::Options::ack(Some((1000, 2000)), None),
        payload_len,
        ..tcp::Repr::default()
    };
    let ip = ipv4::Repr {
        ident: 7,
        dont_frag: true,
        ..ipv4::Repr::new(SRC, DST, Protocol::TCP, tcp.buffer_len(), 64)
    };
    (eth, ip, tcp)
}

fn emit(buf: &mut [u8], payload_len: usize, mode: ChecksumMode) -> usize {
    let (eth, ip, tcp) = reprs(payload_len);
    let l3 = eth.header_len();
    let l4 = l3 + ip.header_len();
    let end = l4 + tcp.buffer_len();
    eth.emit(&mut ethernet::Frame::new_unchecked(&mut buf[..]));
    tcp.emit(
        &mut tcp::Packet::new_unchecked(&mut buf[l4..end]),
        SRC,
        DST,
        mode,
    );
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut buf[l3..end]), mode);
    end
}

fn bench_wire(c: &mut Criterion) {
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    for payload in [0usize, 1448] {
        let mut buf = vec![0x5au8; 1600];
        let len = emit(&mut buf, payload, ChecksumMode::Compute);
        let frame = buf[..len].to_vec();

        g.bench_function(format!("views_eth_ipv4_tcp/{payload}"), |b| {
            b.iter(|| {
                let f = black_box(&frame[..]);
                let e = ethernet::Frame::new_checked(f).unwrap();
                let ip = ipv4::Packet::new_checked(e.payload()).unwrap();
                let t = tcp::Packet::new_checked(ip.payload()).unwrap();
                black_box((
                    e.ethertype(),
                    ip.dst_addr(),
                    ip.protocol(),
                    t.dst_port(),
                    t.seq_number(),
                    t.flags(),
                ))
            })
        });
        for (name, check) in [
            ("trust", ChecksumCheck::Trust),
            ("verify", ChecksumCheck::Verify),
        ] {
            g.bench_function(format!("parse_repr_{name}/{payload}"), |b| {
                b.iter(|| black_box(dissect::parse(black_box(&frame[..]), check).unwrap()))
            });
        }
        for (name, mode) in [
            ("offload", ChecksumMode::Offload),
            ("compute", ChecksumMode::Compute),
        ] {
            let mut out = frame.clone();
            g.bench_function(format!("emit_headers_{name}/{payload}"), |b| {
                b.iter(|| black_box(emit(black_box(&mut out[..]), payload, mode)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_wire);
criterion_main!(benches);
