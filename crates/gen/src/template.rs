//! Frame templates: built once per core and stream with `burst-wire`'s views (checksums
//! computed once), then copied into each packet buffer with only the varying fields rewritten
//! and the checksums patched incrementally (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`), so a
//! packet costs one copy of the frame and a handful of additions, whatever its size.
//!
//! A template holds the stream's largest frame; smaller frames are its prefix with the length
//! fields rewritten (the payload after the signature is zero, so it adds nothing to a sum).

use core::net::Ipv4Addr;
use std::path::Path;

use burst_port::clock::SplitMix64;
use burst_wire::checksum;
use burst_wire::ethernet::{self, EtherType, MacAddr, VlanTag};
use burst_wire::ipv4;
use burst_wire::tcp::{self, Flags, SeqNumber};
use burst_wire::udp;
use burst_wire::ChecksumMode;

use crate::config::{Field, StreamConfig, FCS};
use crate::signature::{self, Signature};
use crate::size::Stepper;

/// What a stream's frames are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// Ethernet + IPv4 + UDP.
    Udp,
    /// Ethernet + IPv4 + TCP (20-byte header, the configured flags).
    Tcp,
    /// Ethernet + IPv4 + ICMP echo request.
    Icmp,
    /// Whole frames given as they are (`raw` hex or the frames of a pcap file), sent in turn.
    Raw(Vec<Vec<u8>>),
}

/// The TCP flags of a `tcp` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpFlagsSpec {
    /// SYN.
    Syn,
    /// SYN + ACK.
    SynAck,
    /// ACK.
    Ack,
    /// PSH + ACK.
    PshAck,
    /// FIN + ACK.
    FinAck,
    /// RST.
    Rst,
}

impl TcpFlagsSpec {
    /// From the configuration's spelling.
    pub fn parse(s: &str) -> Option<TcpFlagsSpec> {
        Some(match s {
            "syn" => TcpFlagsSpec::Syn,
            "syn-ack" | "synack" => TcpFlagsSpec::SynAck,
            "ack" => TcpFlagsSpec::Ack,
            "psh-ack" => TcpFlagsSpec::PshAck,
            "fin-ack" => TcpFlagsSpec::FinAck,
            "rst" => TcpFlagsSpec::Rst,
            _ => return None,
        })
    }

    fn flags(self) -> Flags {
        match self {
            TcpFlagsSpec::Syn => Flags::SYN,
            TcpFlagsSpec::SynAck => Flags::SYN.union(Flags::ACK),
            TcpFlagsSpec::Ack => Flags::ACK,
            TcpFlagsSpec::PshAck => Flags::PSH.union(Flags::ACK),
            TcpFlagsSpec::FinAck => Flags::FIN.union(Flags::ACK),
            TcpFlagsSpec::Rst => Flags::RST,
        }
    }
}

/// Bytes of headers before the L4 payload (Ethernet, optional 802.1Q, IPv4, L4).
pub fn header_len(p: &Protocol, vlan: bool) -> usize {
    let l2 = ethernet::HEADER_LEN + if vlan { ethernet::VLAN_TAG_LEN } else { 0 };
    l2 + ipv4::HEADER_LEN
        + match p {
            Protocol::Udp | Protocol::Icmp => 8,
            Protocol::Tcp => tcp::HEADER_LEN,
            Protocol::Raw(_) => 0,
        }
}

/// Parses a frame written in hex (spaces, colons and newlines ignored).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b" \t\r\n:".contains(b)).collect();
    if digits.len() % 2 != 0 {
        return Err("an odd number of hex digits: each byte is two digits".into());
    }
    digits
        .chunks(2)
        .map(|c| {
            let t = core::str::from_utf8(c).unwrap_or("zz");
            u8::from_str_radix(t, 16).map_err(|_| format!("{t:?} is not a hex byte"))
        })
        .collect()
}

/// Most frames read from one pcap file.
pub const PCAP_MAX_FRAMES: usize = 65_536;

/// Reads every frame of a pcap file (Ethernet link type).
pub fn read_pcap(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    let mut r = pcap_file::pcap::PcapReader::new(std::io::BufReader::new(f)).map_err(|e| {
        format!(
            "{}: not a pcap file ({e}); write one with tcpdump -w or tshark -F pcap",
            path.display()
        )
    })?;
    if r.header().datalink != pcap_file::DataLink::ETHERNET {
        return Err(format!(
            "{}: link type {:?}, but frames must be Ethernet",
            path.display(),
            r.header().datalink
        ));
    }
    let mut frames = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.map_err(|e| format!("{}: frame {}: {e}", path.display(), frames.len()))?;
        if p.data.len() < p.orig_len as usize {
            return Err(format!(
                "{}: frame {} was cut to {} of {} bytes when captured (capture with -s 0)",
                path.display(),
                frames.len(),
                p.data.len(),
                p.orig_len
            ));
        }
        frames.push(p.data.into_owned());
        if frames.len() > PCAP_MAX_FRAMES {
            return Err(format!(
                "{}: more than {PCAP_MAX_FRAMES} frames: cut the file (editcap -r)",
                path.display()
            ));
        }
    }
    if frames.is_empty() {
        return Err(format!("{}: holds no frames", path.display()));
    }
    Ok(frames)
}

/// Where a template's fields are.
#[derive(Debug, Clone, Copy, Default)]
struct Offsets {
    ip: usize,
    l4: usize,
    sig: usize,
    l4_csum: usize,
    /// The L4 checksum covers a pseudo-header (TCP, UDP): addresses and length count in it.
    pseudo: bool,
    udp: bool,
}

/// The one's-complement delta of a 16-bit word changing from `old` to `new`.
#[inline(always)]
fn d16(old: u16, new: u16) -> u64 {
    u64::from(!old) + u64::from(new)
}

/// The delta of a 32-bit field.
#[inline(always)]
fn d32(old: u32, new: u32) -> u64 {
    d16((old >> 16) as u16, (new >> 16) as u16) + d16(old as u16, new as u16)
}

/// Applies a summed delta to a checksum (RFC 1624 eqn. 3). The sum of a checksum and at most
/// a few thousand 16-bit words fits 32 bits, so three branch-free folds finish it.
#[inline(always)]
fn patch(csum: u16, delta: u64) -> u16 {
    debug_assert!(delta < 1 << 40);
    let mut a = u64::from(!csum) + delta;
    a = (a & 0xffff) + (a >> 16);
    a = (a & 0xffff) + (a >> 16);
    a = (a & 0xffff) + (a >> 16);
    !(a as u16)
}

/// A varied field with its template value.
#[derive(Debug, Clone)]
struct VaryState {
    field: Field,
    base: u32,
    step: Stepper,
}

/// One stream's frames on one core.
#[derive(Debug, Clone)]
pub struct Template {
    /// Frames without FCS: one (the largest size) for IPv4 streams, each frame for raw ones.
    frames: Vec<Vec<u8>>,
    raw: bool,
    off: Offsets,
    /// The template's lengths (of its largest frame, without FCS) and checksums.
    base_len: u16,
    ip_csum: u16,
    l4_csum: u16,
    vary: Vec<VaryState>,
    signature: bool,
    /// Values the last packet got, by field (for tests and `ctl`-style inspection).
    pub last: [u32; 8],
    /// The frame of the current batch (fixed size, no varied field): the template with the
    /// batch's timestamp written in, and its L4 checksum; packets then differ only in their
    /// sequence number ([`Template::begin_batch`], [`Template::fill_seq`]).
    batch: Vec<u8>,
    batch_csum: u16,
    /// The batch frame's IPv4 header checksum (its length patched in).
    batch_ip_csum: u16,
}

impl Template {
    /// Builds the template of `s` for `core`, addressed from `src_mac` to `dst_mac`.
    pub fn new(
        s: &StreamConfig,
        stream_id: u16,
        core: u8,
        src_mac: MacAddr,
        dst_mac: MacAddr,
    ) -> Template {
        if let Protocol::Raw(frames) = &s.protocol {
            // Frames shorter than 60 bytes are padded (with zeros) to the minimum, as a NIC
            // pads them on the wire.
            let frames = frames
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    if f.len() < 60 {
                        f.resize(60, 0);
                    }
                    f
                })
                .collect();
            return Template {
                frames,
                raw: true,
                off: Offsets::default(),
                base_len: 0,
                ip_csum: 0,
                l4_csum: 0,
                vary: Vec::new(),
                signature: false,
                last: [0; 8],
                batch: Vec::new(),
                batch_csum: 0,
                batch_ip_csum: 0,
            };
        }
        let len = usize::from(s.size.max() - FCS);
        let mut b = vec![0u8; len];
        let vlan = s.vlan.map(VlanTag::from_tci);
        let eth = ethernet::Repr {
            src_addr: s.src_mac.unwrap_or(src_mac),
            dst_addr: dst_mac,
            vlan,
            ethertype: EtherType::IPV4,
        };
        eth.emit(&mut ethernet::Frame::new_unchecked(&mut b[..]));
        let ip_at = ethernet::HEADER_LEN
            + if vlan.is_some() {
                ethernet::VLAN_TAG_LEN
            } else {
                0
            };
        let l4_at = ip_at + ipv4::HEADER_LEN;
        let (proto, l4_hdr) = match s.protocol {
            Protocol::Udp => (ipv4::Protocol::UDP, 8),
            Protocol::Tcp => (ipv4::Protocol::TCP, tcp::HEADER_LEN),
            Protocol::Icmp => (ipv4::Protocol::ICMP, 8),
            Protocol::Raw(_) => unreachable!("handled above"),
        };
        let sig_at = l4_at + l4_hdr;
        if s.signature {
            Signature::write_header(&mut b[sig_at..sig_at + signature::LEN], core, stream_id);
        }
        let l4_len = len - l4_at;
        {
            let mut ip = ipv4::Packet::new_unchecked(&mut b[ip_at..]);
            ip.set_version_and_header_len(ipv4::HEADER_LEN);
            ip.set_dscp_ecn(s.tos >> 2, s.tos & 3);
            ip.set_total_len((len - ip_at) as u16);
            ip.set_ident(s.ip_id);
            ip.set_flags_and_offset(s.df, false, 0);
            ip.set_ttl(s.ttl);
            ip.set_protocol(proto);
            ip.set_src_addr(s.src);
            ip.set_dst_addr(s.dst);
            ip.fill_checksum();
        }
        let l4_csum_at;
        match s.protocol {
            Protocol::Udp => {
                let r = udp::Repr {
                    src_port: s.src_port,
                    dst_port: s.dst_port,
                    payload_len: l4_len - 8,
                };
                r.emit(
                    &mut udp::Packet::new_unchecked(&mut b[l4_at..]),
                    s.src,
                    s.dst,
                    ChecksumMode::Compute,
                );
                l4_csum_at = l4_at + 6;
            }
            Protocol::Tcp => {
                let mut t = tcp::Packet::new_unchecked(&mut b[l4_at..]);
                t.set_src_port(s.src_port);
                t.set_dst_port(s.dst_port);
                t.set_seq_number(SeqNumber(1));
                let f = s.tcp_flags.flags();
                t.set_ack_number(SeqNumber(if f.contains(Flags::ACK) { 1 } else { 0 }));
                t.set_header_len(tcp::HEADER_LEN);
                t.set_flags(f);
                t.set_window_len(65535);
                t.set_urgent_at(0);
                t.fill_checksum(s.src, s.dst);
                l4_csum_at = l4_at + 16;
            }
            Protocol::Icmp => {
                b[l4_at] = 8; // echo request
                b[l4_at + 1] = 0;
                b[l4_at + 2..l4_at + 4].fill(0);
                b[l4_at + 4..l4_at + 6].copy_from_slice(&s.src_port.to_be_bytes());
                b[l4_at + 6..l4_at + 8].fill(0);
                let c = checksum::checksum(&b[l4_at..]);
                b[l4_at + 2..l4_at + 4].copy_from_slice(&c.to_be_bytes());
                l4_csum_at = l4_at + 2;
            }
            Protocol::Raw(_) => unreachable!("handled above"),
        }
        let rd16 = |at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
        let ip_csum = rd16(ip_at + 10);
        let l4_csum = rd16(l4_csum_at);
        let vary = s
            .vary
            .iter()
            .map(|v| VaryState {
                field: v.field,
                base: match v.field {
                    Field::SrcIp => u32::from(s.src),
                    Field::DstIp => u32::from(s.dst),
                    Field::SrcPort => u32::from(s.src_port),
                    Field::DstPort => u32::from(s.dst_port),
                    Field::Tos => u32::from(s.tos),
                    Field::Ttl => u32::from(s.ttl),
                    Field::IpId => u32::from(s.ip_id),
                    Field::Size => 0,
                },
                step: Stepper::new(*v),
            })
            .collect();
        Template {
            frames: vec![b],
            raw: false,
            off: Offsets {
                ip: ip_at,
                l4: l4_at,
                sig: sig_at,
                l4_csum: l4_csum_at,
                pseudo: s.protocol != Protocol::Icmp,
                udp: s.protocol == Protocol::Udp,
            },
            base_len: len as u16,
            ip_csum,
            l4_csum,
            vary,
            signature: s.signature,
            last: [0; 8],
            batch: Vec::new(),
            batch_csum: 0,
            batch_ip_csum: 0,
        }
    }

    /// Prepares a batch of packets of `size` (FCS included) stamped `ts`, for a stream with no
    /// varied field: the template's frame with the timestamp written in and the checksum
    /// patched once for the whole batch.
    pub fn begin_batch(&mut self, size: u16, ts: u64) {
        debug_assert!(!self.raw);
        let len = usize::from(size - FCS);
        self.batch.clear();
        self.batch.extend_from_slice(&self.frames[0][..len]);
        let mut acc = 0u64;
        if len != usize::from(self.base_len) {
            // Not on the hot path (the bulk path has one size): fill's own length patching.
            let mut rng = SplitMix64::new(0);
            let mut f = vec![0u8; len];
            let sig = self.signature;
            self.signature = false;
            self.fill(&mut f, 0, 0, 0, &mut rng);
            self.signature = sig;
            self.batch.copy_from_slice(&f);
            let o = self.off;
            self.batch_csum = u16::from_be_bytes([f[o.l4_csum], f[o.l4_csum + 1]]);
            self.batch_ip_csum = u16::from_be_bytes([f[o.ip + 10], f[o.ip + 11]]);
        } else {
            self.batch_csum = self.l4_csum;
            self.batch_ip_csum = self.ip_csum;
        }
        if self.signature {
            let at = self.off.sig + signature::TS;
            self.batch[at..at + 8].copy_from_slice(&ts.to_be_bytes());
            acc += (ts >> 48) + ((ts >> 32) & 0xffff) + ((ts >> 16) & 0xffff) + (ts & 0xffff);
            self.batch_csum = patch(self.batch_csum, acc);
        }
    }

    /// Writes one packet of the current batch into `d` (exactly the batch frame's length):
    /// one copy, the sequence number, the checksum patched for it.
    #[inline(always)]
    pub fn fill_seq(&self, d: &mut [u8], seq: u32) {
        copy_frame(d, &self.batch);
        if !self.signature {
            return;
        }
        let o = self.off;
        d[o.sig + signature::SEQ..o.sig + signature::SEQ + 4].copy_from_slice(&seq.to_be_bytes());
        let mut c = patch(
            self.batch_csum,
            u64::from(seq >> 16) + u64::from(seq & 0xffff),
        );
        if o.udp && c == 0 {
            c = 0xffff;
        }
        d[o.l4_csum..o.l4_csum + 2].copy_from_slice(&c.to_be_bytes());
    }

    /// [`Template::fill_seq`] for a stream with varied fields: the batch frame, the fields'
    /// next values, the sequence number, both checksums patched once for all of them.
    #[inline(always)]
    pub fn fill_seq_vary(&mut self, d: &mut [u8], seq: u32, rng: &mut SplitMix64) {
        copy_frame(d, &self.batch);
        let (ip_acc, mut l4_acc) = self.apply_vary(d, rng);
        let o = self.off;
        if ip_acc != 0 {
            let c = patch(self.batch_ip_csum, ip_acc);
            d[o.ip + 10..o.ip + 12].copy_from_slice(&c.to_be_bytes());
        }
        if self.signature {
            d[o.sig + signature::SEQ..o.sig + signature::SEQ + 4]
                .copy_from_slice(&seq.to_be_bytes());
            l4_acc += u64::from(seq >> 16) + u64::from(seq & 0xffff);
        }
        // With a signature the batch checksum already holds the timestamp: always written.
        if l4_acc != 0 || self.signature {
            let mut c = patch(self.batch_csum, l4_acc);
            if o.udp && c == 0 {
                c = 0xffff;
            }
            d[o.l4_csum..o.l4_csum + 2].copy_from_slice(&c.to_be_bytes());
        }
    }

    /// Whether the stream has varied fields.
    pub fn has_vary(&self) -> bool {
        !self.vary.is_empty()
    }

    /// Length (without FCS) of the frame a packet of `size` (with FCS) and frame index `idx`
    /// has.
    #[inline]
    pub fn frame_len(&self, size: u16, idx: usize) -> usize {
        if self.raw {
            self.frames[idx].len()
        } else {
            usize::from(size - FCS)
        }
    }

    /// Writes a packet into `d` (exactly [`Template::frame_len`] bytes): the template's bytes,
    /// the varied fields' next values, the signature's sequence number and timestamp, and the
    /// checksums patched for all of them.
    #[inline]
    pub fn fill(&mut self, d: &mut [u8], idx: usize, seq: u32, ts: u64, rng: &mut SplitMix64) {
        if self.raw {
            d.copy_from_slice(&self.frames[idx]);
            return;
        }
        let len = d.len();
        copy_frame(d, &self.frames[0][..len]);
        let o = self.off;
        let mut ip_acc = 0u64;
        let mut l4_acc = 0u64;
        if len != usize::from(self.base_len) {
            let old_ip = self.base_len - o.ip as u16;
            let new_ip = (len - o.ip) as u16;
            d[o.ip + 2..o.ip + 4].copy_from_slice(&new_ip.to_be_bytes());
            ip_acc += d16(old_ip, new_ip);
            let old_l4 = self.base_len - o.l4 as u16;
            let new_l4 = (len - o.l4) as u16;
            if o.udp {
                d[o.l4 + 4..o.l4 + 6].copy_from_slice(&new_l4.to_be_bytes());
                l4_acc += d16(old_l4, new_l4);
            }
            if o.pseudo {
                l4_acc += d16(old_l4, new_l4);
            }
        }
        let (ip_v, l4_v) = self.apply_vary(d, rng);
        ip_acc += ip_v;
        l4_acc += l4_v;
        if self.signature {
            let s = o.sig;
            d[s + signature::SEQ..s + signature::SEQ + 4].copy_from_slice(&seq.to_be_bytes());
            d[s + signature::TS..s + signature::TS + 8].copy_from_slice(&ts.to_be_bytes());
            // The template holds zeros there: the old words add nothing (~0 is -0).
            l4_acc += u64::from(seq >> 16)
                + u64::from(seq & 0xffff)
                + (ts >> 48)
                + ((ts >> 32) & 0xffff)
                + ((ts >> 16) & 0xffff)
                + (ts & 0xffff);
        }
        if ip_acc != 0 {
            let c = patch(self.ip_csum, ip_acc);
            d[o.ip + 10..o.ip + 12].copy_from_slice(&c.to_be_bytes());
        }
        if l4_acc != 0 {
            let mut c = patch(self.l4_csum, l4_acc);
            // RFC 768: a computed UDP checksum of zero is sent as all ones.
            if o.udp && c == 0 {
                c = 0xffff;
            }
            d[o.l4_csum..o.l4_csum + 2].copy_from_slice(&c.to_be_bytes());
        }
    }

    /// Writes the varied fields' next values into `d` (a frame holding the template's base
    /// values there); returns the IPv4 header's and the L4 checksum's one's-complement
    /// deltas for them.
    #[inline(always)]
    fn apply_vary(&mut self, d: &mut [u8], rng: &mut SplitMix64) -> (u64, u64) {
        let o = self.off;
        let (mut ip_acc, mut l4_acc) = (0u64, 0u64);
        for v in &mut self.vary {
            let x = v.step.next(rng);
            let base = v.base;
            match v.field {
                Field::SrcIp | Field::DstIp => {
                    let at = o.ip + if v.field == Field::SrcIp { 12 } else { 16 };
                    d[at..at + 4].copy_from_slice(&x.to_be_bytes());
                    let dl = d32(base, x);
                    ip_acc += dl;
                    if o.pseudo {
                        l4_acc += dl;
                    }
                    self.last[v.field as usize] = x;
                }
                Field::SrcPort | Field::DstPort => {
                    let at = o.l4 + if v.field == Field::SrcPort { 0 } else { 2 };
                    d[at..at + 2].copy_from_slice(&(x as u16).to_be_bytes());
                    l4_acc += d16(base as u16, x as u16);
                    self.last[v.field as usize] = x;
                }
                Field::Tos => {
                    let old = u16::from_be_bytes([d[o.ip], d[o.ip + 1]]);
                    d[o.ip + 1] = x as u8;
                    ip_acc += d16(old, u16::from_be_bytes([d[o.ip], d[o.ip + 1]]));
                    self.last[v.field as usize] = x;
                }
                Field::Ttl => {
                    let old = u16::from_be_bytes([d[o.ip + 8], d[o.ip + 9]]);
                    d[o.ip + 8] = x as u8;
                    ip_acc += d16(old, u16::from_be_bytes([d[o.ip + 8], d[o.ip + 9]]));
                    self.last[v.field as usize] = x;
                }
                Field::IpId => {
                    d[o.ip + 4..o.ip + 6].copy_from_slice(&(x as u16).to_be_bytes());
                    ip_acc += d16(base as u16, x as u16);
                    self.last[v.field as usize] = x;
                }
                Field::Size => {}
            }
        }
        (ip_acc, l4_acc)
    }

    /// Where the L4 payload (and the signature) starts in this template's frames.
    pub fn signature_offset(&self) -> Option<usize> {
        self.signature.then_some(self.off.sig)
    }
}

/// Copies a frame; frames of 32..=64 bytes (the small-packet case that sets the packet rate)
/// with two fixed-size, overlapping 32-byte moves instead of a `memcpy` call.
#[inline(always)]
fn copy_frame(d: &mut [u8], s: &[u8]) {
    let n = d.len();
    if (32..=64).contains(&n) && s.len() == n {
        d[..32].copy_from_slice(&s[..32]);
        d[n - 32..].copy_from_slice(&s[n - 32..]);
    } else {
        d.copy_from_slice(s);
    }
}

/// Where the signature of a received frame starts: after Ethernet (with or without one 802.1Q
/// tag), an IPv4 header of any length and a UDP, TCP (any data offset) or ICMP header. `None`
/// for anything else (ARP, fragments, other protocols).
#[inline]
pub fn find_signature(f: &[u8]) -> Option<usize> {
    if f.len() < 14 {
        return None;
    }
    let mut at = 12;
    let mut et = u16::from_be_bytes([f[at], f[at + 1]]);
    if et == 0x8100 {
        at += 4;
        if f.len() < at + 2 {
            return None;
        }
        et = u16::from_be_bytes([f[at], f[at + 1]]);
    }
    if et != 0x0800 {
        return None;
    }
    let ip = at + 2;
    if f.len() < ip + 20 || f[ip] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(f[ip] & 0x0f) * 4;
    // Fragments (MF or an offset) carry no whole L4 header.
    if u16::from_be_bytes([f[ip + 6], f[ip + 7]]) & 0x3fff != 0 || ihl < 20 {
        return None;
    }
    let l4 = ip + ihl;
    let sig = match f[ip + 9] {
        17 | 1 => l4 + 8,
        6 => {
            if f.len() < l4 + 13 {
                return None;
            }
            l4 + usize::from(f[l4 + 12] >> 4) * 4
        }
        _ => return None,
    };
    (f.len() >= sig + signature::LEN).then_some(sig)
}

/// The IPv4 source and destination of a template, for tests.
pub fn addresses(frame: &[u8], ip_at: usize) -> (Ipv4Addr, Ipv4Addr) {
    let a = |at: usize| Ipv4Addr::new(frame[at], frame[at + 1], frame[at + 2], frame[at + 3]);
    (a(ip_at + 12), a(ip_at + 16))
}
