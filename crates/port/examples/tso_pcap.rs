//! Sends one 64 KiB TCP super-segment (TSO requested, MSS 1448) from a mem port WITHOUT
//! hardware TSO or checksum offload to a second mem port, and records what arrives there to a
//! pcap file. `scripts/check-tso.sh` has tshark judge the file: the software segmentation must
//! yield MSS-sized segments with correct checksums and contiguous sequence numbers.
//!
//! Usage: `cargo run -p burst-port --example tso_pcap -- OUT.pcap`

use std::net::Ipv4Addr;

use burst_port::clock::VirtualClock;
use burst_port::mem::{MemPool, MemPort, MemPortConfig, Wire, WireConfig};
use burst_port::pcap::{PcapWriter, Resolution, Tap};
use burst_port::{Batch, Capabilities, L4Checksum, PacketBuf, Port, Queue, TxOffload};
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::tcp::{self, Flags, SeqNumber};
use burst_wire::{checksum, ChecksumMode};

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const MSS: u16 = 1448;

fn main() -> std::io::Result<()> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "tso.pcap".into());
    let clock = VirtualClock::new();
    let wire = Wire::new(&clock, WireConfig::default());
    let pool = MemPool::new(512, burst_port::mem::DEFAULT_BUF_SIZE);
    let (mac_a, mac_b) = (
        MacAddr::new(2, 0, 0, 0, 0, 1),
        MacAddr::new(2, 0, 0, 0, 0, 2),
    );
    let mut cfg_a = MemPortConfig::new("a", mac_a);
    cfg_a.caps = Capabilities::NONE;
    let mut cfg_b = MemPortConfig::new("b", mac_b);
    cfg_b.caps = Capabilities::NONE;
    let mut a = MemPort::new(&wire, &pool, cfg_a);
    let mut b = MemPort::new(&wire, &pool, cfg_b);
    let mut qa = a.take_queue(0).expect("queue 0");
    let qb = b.take_queue(0).expect("queue 0");
    let mut tap = Tap::new(
        qb,
        PcapWriter::create(&out, clock.clone(), Resolution::Nano)?,
    );

    // The largest IPv4 datagram: 20 + 32 (TCP with timestamps) + 65483 payload = 65535.
    let t = tcp::Repr {
        src_port: 40000,
        dst_port: 5001,
        seq: SeqNumber(0xffff_0000), // wraps inside the super-segment
        ack_number: SeqNumber(1),
        flags: Flags::ACK | Flags::PSH,
        window: 512,
        options: tcp::Options::ack(Some((1000, 2000)), None),
        payload_len: 65_483,
        ..tcp::Repr::default()
    };
    let ip = ipv4::Repr {
        ident: 100,
        dont_frag: true,
        ..ipv4::Repr::new(SRC, DST, Protocol::TCP, t.buffer_len(), 64)
    };
    let (l2, l3, l4) = (ethernet::HEADER_LEN, ip.header_len(), t.header_len());
    let mut frame = vec![0u8; l2 + ip.buffer_len()];
    for (i, x) in frame[l2 + l3 + l4..].iter_mut().enumerate() {
        *x = (i % 251) as u8;
    }
    ethernet::Repr {
        src_addr: mac_a,
        dst_addr: mac_b,
        vlan: None,
        ethertype: EtherType::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut frame[..]));
    t.emit(
        &mut tcp::Packet::new_unchecked(&mut frame[l2 + l3..]),
        SRC,
        DST,
        ChecksumMode::Offload,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut frame[l2..]),
        ChecksumMode::Offload,
    );
    // DPDK's TSO rule: the TCP checksum field holds the pseudo-header sum without the length.
    tcp::Packet::new_unchecked(&mut frame[l2 + l3..])
        .set_checksum(checksum::pseudo_header(SRC, DST, 6, 0));

    let mut sup = pool
        .alloc_from(&frame)
        .expect("pool has room for the super-segment");
    sup.set_tx_offload(TxOffload {
        l2_len: l2 as u8,
        l3_len: l3 as u8,
        l4_len: l4 as u8,
        ipv4_checksum: true,
        l4_checksum: Some(L4Checksum::Tcp),
        tso_segsz: MSS,
    });
    println!(
        "super-segment: {} bytes in {} chained buffers",
        sup.pkt_len(),
        sup.nb_segs()
    );
    let mut batch = Batch::new();
    batch.push(sup).expect("empty batch");
    qa.tx_burst(&mut batch);
    assert!(batch.is_empty(), "the port took the super-segment");

    let mut received = 0;
    while wire.advance().is_some() {
        let mut rx = Batch::new();
        received += tap.rx_burst(&mut rx);
    }
    let mut rx = Batch::new();
    received += tap.rx_burst(&mut rx);
    drop(rx);
    tap.flush()?;
    println!("received {received} segments; written to {out}");
    for (k, v) in a.xstats() {
        if k.starts_with("offload_") && v > 0 {
            println!("  {k} = {v}");
        }
    }
    drop(tap);
    drop((qa, a, b));
    assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
    Ok(())
}
