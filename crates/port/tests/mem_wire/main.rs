//! The in-memory backend end to end: mem ports on a virtual wire, real frames, a virtual
//! clock, seeded impairments. Every test ends with the pool back at its starting occupancy.

mod delivery;
mod impair;
mod limits;
mod offloads;
mod queues;

use core::net::Ipv4Addr;

use burst_port::buf::{ChecksumStatus, L4Checksum, PacketType};
use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{
    Impairments, LinkCounters, MemBuf, MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig,
    DEFAULT_BUF_SIZE,
};
use burst_port::{Batch, Capabilities, Nanos, PacketBuf, Port, Queue, TxOffload};
use burst_wire::ethernet::{self, EtherType, MacAddr, VlanTag};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{udp, ChecksumMode};

const MAC: [MacAddr; 3] = [
    MacAddr::new(0x02, 0, 0, 0, 0, 1),
    MacAddr::new(0x02, 0, 0, 0, 0, 2),
    MacAddr::new(0x02, 0, 0, 0, 0, 3),
];
const IP: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 18, 0, 1),
    Ipv4Addr::new(198, 18, 0, 2),
    Ipv4Addr::new(198, 18, 0, 3),
];
/// Ethernet + IPv4 + UDP headers.
const HDRS: usize = 14 + 20 + 8;

/// Bytes of a UDP frame from station `s` to station `d` whose payload starts with `seq` and is
/// `payload` bytes long (at least 4).
fn udp_bytes(s: usize, d: usize, seq: u32, payload: usize, mode: ChecksumMode) -> Vec<u8> {
    udp_bytes_to(MAC[s], MAC[d], IP[s], IP[d], seq, payload, mode)
}

fn udp_bytes_to(
    smac: MacAddr,
    dmac: MacAddr,
    sip: Ipv4Addr,
    dip: Ipv4Addr,
    seq: u32,
    payload: usize,
    mode: ChecksumMode,
) -> Vec<u8> {
    let mut b = vec![0u8; HDRS + payload];
    for (i, x) in b[HDRS..].iter_mut().enumerate() {
        *x = (i as u32).wrapping_mul(31).wrapping_add(seq) as u8;
    }
    b[HDRS..HDRS + 4].copy_from_slice(&seq.to_be_bytes());
    ethernet::Repr {
        src_addr: smac,
        dst_addr: dmac,
        vlan: None,
        ethertype: EtherType::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut b[..]));
    udp::Repr {
        src_port: 40000 + (seq % 7) as u16,
        dst_port: 9,
        payload_len: payload,
    }
    .emit(
        &mut udp::Packet::new_unchecked(&mut b[34..]),
        sip,
        dip,
        mode,
    );
    ipv4::Repr::new(sip, dip, Protocol::UDP, 8 + payload, 64)
        .emit(&mut ipv4::Packet::new_unchecked(&mut b[14..]), mode);
    b
}

fn bytes(b: &MemBuf) -> Vec<u8> {
    let mut v = vec![0u8; b.pkt_len()];
    b.copy_to(&mut v);
    v
}

fn seq_of(b: &MemBuf) -> u32 {
    let mut s = [0u8; 4];
    assert!(b.read_at(HDRS, &mut s));
    u32::from_be_bytes(s)
}

fn cfg(i: usize) -> MemPortConfig {
    MemPortConfig::new(&format!("m{i}"), MAC[i])
}

/// A wire, one pool, ports on it and queue 0 of each.
struct Net {
    clock: VirtualClock,
    wire: Wire,
    pool: MemPool,
    ports: Vec<MemPort>,
    q: Vec<MemQueue>,
    start_in_use: usize,
}

impl Net {
    fn new(wcfg: WireConfig, ports: Vec<MemPortConfig>, pool: MemPool) -> Net {
        let clock = VirtualClock::new();
        let wire = Wire::new(&clock, wcfg);
        let mut ports: Vec<MemPort> = ports
            .into_iter()
            .map(|c| MemPort::new(&wire, &pool, c))
            .collect();
        let q = ports.iter_mut().map(|p| p.take_queue(0).unwrap()).collect();
        let start_in_use = pool.in_use();
        Net {
            clock,
            wire,
            pool,
            ports,
            q,
            start_in_use,
        }
    }

    fn pair() -> Net {
        Net::new(
            WireConfig::default(),
            vec![cfg(0), cfg(1)],
            MemPool::new(1024, DEFAULT_BUF_SIZE),
        )
    }

    fn buf(&self, bytes: &[u8]) -> MemBuf {
        self.pool.alloc_from(bytes).unwrap()
    }

    /// Transmits on port `i`; returns how many the queue took (the rest are freed).
    fn send(&mut self, i: usize, frames: Vec<MemBuf>) -> usize {
        let mut taken = 0;
        let mut it = frames.into_iter().peekable();
        while it.peek().is_some() {
            let mut b = Batch::new();
            while !b.is_full() {
                match it.next() {
                    Some(f) => b.push(f).unwrap(),
                    None => break,
                }
            }
            let want = b.len();
            let n = self.q[i].tx_burst(&mut b);
            taken += n;
            if n < want {
                break;
            }
        }
        taken
    }

    /// Everything port `i`'s queue 0 can receive now.
    fn recv(&mut self, i: usize) -> Vec<MemBuf> {
        let mut out = Vec::new();
        loop {
            let mut b = Batch::new();
            if self.q[i].rx_burst(&mut b) == 0 {
                return out;
            }
            out.extend(b.drain(..));
        }
    }

    /// Runs the wire to completion, collecting what port `i` receives with arrival times.
    fn run(&mut self, i: usize) -> Vec<(Nanos, MemBuf)> {
        let mut out = Vec::new();
        loop {
            let now = self.clock.now();
            out.extend(self.recv(i).into_iter().map(|b| (now, b)));
            match self.wire.next_event() {
                Some(t) => self.clock.advance_to(t),
                None => return out,
            }
        }
    }

    /// The per-direction invariant, and no leak once the caller dropped its buffers.
    fn check(&self) {
        let in_flight = self.wire.in_flight() as u64;
        let t = self.wire.total_counters();
        assert_eq!(
            t.sent + t.duplicated + t.flooded,
            t.delivered + t.dropped() + in_flight,
            "{t:?}"
        );
        assert_eq!(self.pool.in_use(), self.start_in_use, "leaked buffers");
    }
}
