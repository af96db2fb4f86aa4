//! Whole-frame dissection: every layer of an Ethernet frame parsed into its `Repr`, printable
//! like `tcpdump`, and re-emittable byte for byte.
//!
//! This is the slow, thorough path (tools, traces, tests, fuzzing); the packet path works on
//! the views directly.

use core::fmt;

use crate::ethernet::{self, EtherType};
use crate::ipv4::{self, Protocol};
use crate::{arp, icmpv4, igmp, ipsec, tcp, udp, ChecksumCheck, ChecksumMode, Result};

/// A dissected Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The Ethernet header.
    pub ethernet: ethernet::Repr,
    /// What the frame carries.
    pub network: Network<'a>,
    /// Bytes after the network-layer packet (Ethernet padding).
    pub trailer: &'a [u8],
}

/// The network layer of a dissected frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network<'a> {
    /// ARP.
    Arp(arp::Repr),
    /// IPv4 and what it carries.
    Ipv4 {
        /// The IPv4 header.
        header: ipv4::Repr,
        /// The payload.
        transport: Transport<'a>,
    },
    /// Any other EtherType, undissected.
    Unknown(&'a [u8]),
}

/// The transport layer of a dissected IPv4 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// ICMPv4.
    Icmpv4(icmpv4::Repr<'a>),
    /// IGMP.
    Igmp {
        /// The message.
        message: igmp::Repr<'a>,
        /// Bytes after the message that the checksum still covers (RFC 3376 §4.1.10).
        additional: &'a [u8],
    },
    /// UDP.
    Udp {
        /// The header.
        header: udp::Repr,
        /// The payload.
        payload: &'a [u8],
    },
    /// TCP.
    Tcp {
        /// The header.
        header: tcp::Repr,
        /// The payload.
        payload: &'a [u8],
    },
    /// IPsec AH (the ICV kept as received; what it protects is not dissected further).
    Ah {
        /// The fixed header.
        header: ipsec::AhRepr,
        /// The integrity check value.
        icv: &'a [u8],
        /// The protected payload.
        payload: &'a [u8],
    },
    /// IPsec ESP.
    Esp {
        /// The header.
        header: ipsec::EspRepr,
        /// The encrypted payload.
        payload: &'a [u8],
    },
    /// A fragment: the transport header of a first fragment cannot be checked before
    /// reassembly, so all fragments stay raw.
    Fragment(&'a [u8]),
    /// Any other protocol, undissected.
    Unknown(&'a [u8]),
}

/// Dissects a whole Ethernet frame, verifying checksums as `check` says.
pub fn parse(bytes: &[u8], check: ChecksumCheck) -> Result<Frame<'_>> {
    let eth = ethernet::Frame::new_checked(bytes)?;
    let ethernet = ethernet::Repr::parse(&eth)?;
    let hl = eth.header_len();
    let body = &bytes[hl..];
    let (network, used) = match ethernet.ethertype {
        EtherType::ARP => {
            let p = arp::Packet::new_checked(body)?;
            (Network::Arp(arp::Repr::parse(&p)?), arp::PACKET_LEN)
        }
        EtherType::IPV4 => {
            let p = ipv4::Packet::new_checked(body)?;
            let header = ipv4::Repr::parse(&p, check)?;
            let total = usize::from(p.total_len());
            let payload = &body[p.header_len()..total];
            (
                Network::Ipv4 {
                    header,
                    transport: parse_transport(&header, payload, check)?,
                },
                total,
            )
        }
        _ => (Network::Unknown(body), body.len()),
    };
    Ok(Frame {
        ethernet,
        network,
        trailer: &body[used..],
    })
}

fn parse_transport<'a>(
    ip: &ipv4::Repr,
    payload: &'a [u8],
    check: ChecksumCheck,
) -> Result<Transport<'a>> {
    if ip.more_frags || ip.frag_offset != 0 {
        return Ok(Transport::Fragment(payload));
    }
    let (src, dst) = (ip.src_addr, ip.dst_addr);
    Ok(match ip.protocol {
        Protocol::ICMP => Transport::Icmpv4(icmpv4::Repr::parse(
            &icmpv4::Packet::new_checked(payload)?,
            check,
        )?),
        Protocol::IGMP => {
            let message = igmp::Repr::parse(&igmp::Packet::new_checked(payload)?, check)?;
            Transport::Igmp {
                message,
                additional: &payload[message.buffer_len()..],
            }
        }
        Protocol::UDP => {
            let p = udp::Packet::new_checked(payload)?;
            let header = udp::Repr::parse(&p, src, dst, check)?;
            Transport::Udp {
                header,
                payload: &payload[udp::HEADER_LEN..header.buffer_len()],
            }
        }
        Protocol::TCP => {
            let p = tcp::Packet::new_checked(payload)?;
            let header = tcp::Repr::parse(&p, src, dst, check)?;
            Transport::Tcp {
                header,
                payload: &payload[header.header_len()..],
            }
        }
        Protocol::AH => {
            let p = ipsec::AhPacket::new_checked(payload)?;
            let header = ipsec::AhRepr::parse(&p)?;
            let hl = p.header_len();
            Transport::Ah {
                header,
                icv: &payload[ipsec::AH_MIN_HEADER_LEN..hl],
                payload: &payload[hl..],
            }
        }
        Protocol::ESP => {
            let p = ipsec::EspPacket::new_checked(payload)?;
            Transport::Esp {
                header: ipsec::EspRepr::parse(&p)?,
                payload: &payload[ipsec::ESP_HEADER_LEN..],
            }
        }
        _ => Transport::Unknown(payload),
    })
}

impl Transport<'_> {
    /// Bytes this transport layer emits.
    pub fn buffer_len(&self) -> usize {
        match self {
            Transport::Icmpv4(r) => r.buffer_len(),
            Transport::Igmp {
                message,
                additional,
            } => message.buffer_len() + additional.len(),
            Transport::Udp { header, .. } => header.buffer_len(),
            Transport::Tcp { header, payload } => header.header_len() + payload.len(),
            Transport::Ah {
                header, payload, ..
            } => header.header_len() + payload.len(),
            Transport::Esp { header, payload } => header.header_len() + payload.len(),
            Transport::Fragment(b) | Transport::Unknown(b) => b.len(),
        }
    }

    fn emit(&self, ip: &ipv4::Repr, b: &mut [u8]) {
        let (src, dst) = (ip.src_addr, ip.dst_addr);
        match self {
            Transport::Icmpv4(r) => r.emit(&mut icmpv4::Packet::new_unchecked(b)),
            Transport::Igmp {
                message,
                additional,
            } => {
                let n = message.buffer_len();
                message.emit(&mut igmp::Packet::new_unchecked(&mut *b));
                b[n..n + additional.len()].copy_from_slice(additional);
                // The checksum covers the additional bytes too.
                igmp::Packet::new_unchecked(&mut b[..n + additional.len()]).fill_checksum();
            }
            Transport::Udp { header, payload } => {
                b[udp::HEADER_LEN..header.buffer_len()].copy_from_slice(payload);
                header.emit(
                    &mut udp::Packet::new_unchecked(b),
                    src,
                    dst,
                    ChecksumMode::Compute,
                );
            }
            Transport::Tcp { header, payload } => {
                let hl = header.header_len();
                b[hl..hl + payload.len()].copy_from_slice(payload);
                header.emit(
                    &mut tcp::Packet::new_unchecked(&mut b[..hl + payload.len()]),
                    src,
                    dst,
                    ChecksumMode::Compute,
                );
            }
            Transport::Ah {
                header,
                icv,
                payload,
            } => {
                let hl = header.header_len();
                b[hl..hl + payload.len()].copy_from_slice(payload);
                let mut p = ipsec::AhPacket::new_unchecked(b);
                header.emit(&mut p);
                p.icv_mut().copy_from_slice(icv);
            }
            Transport::Esp { header, payload } => {
                let hl = header.header_len();
                b[hl..hl + payload.len()].copy_from_slice(payload);
                header.emit(&mut ipsec::EspPacket::new_unchecked(b));
            }
            Transport::Fragment(p) | Transport::Unknown(p) => b[..p.len()].copy_from_slice(p),
        }
    }
}

impl Frame<'_> {
    /// Bytes the whole frame emits (trailer included).
    pub fn buffer_len(&self) -> usize {
        self.ethernet.header_len()
            + match &self.network {
                Network::Arp(r) => r.buffer_len(),
                Network::Ipv4 { header, .. } => header.buffer_len(),
                Network::Unknown(b) => b.len(),
            }
            + self.trailer.len()
    }

    /// Writes the whole frame into `buf` (at least [`Frame::buffer_len`] long), computing
    /// every checksum; returns the length written.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        self.ethernet
            .emit(&mut ethernet::Frame::new_unchecked(&mut *buf));
        let body = &mut buf[self.ethernet.header_len()..];
        let used = match &self.network {
            Network::Arp(r) => {
                r.emit(&mut arp::Packet::new_unchecked(&mut *body));
                r.buffer_len()
            }
            Network::Ipv4 { header, transport } => {
                let hl = header.header_len();
                transport.emit(header, &mut body[hl..hl + transport.buffer_len()]);
                header.emit(
                    &mut ipv4::Packet::new_unchecked(&mut *body),
                    ChecksumMode::Compute,
                );
                header.buffer_len()
            }
            Network::Unknown(b) => {
                body[..b.len()].copy_from_slice(b);
                b.len()
            }
        };
        body[used..used + self.trailer.len()].copy_from_slice(self.trailer);
        len
    }
}

impl fmt::Display for Frame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.ethernet;
        write!(f, "{} > {}", e.src_addr, e.dst_addr)?;
        if let Some(v) = e.vlan {
            write!(f, ", vlan {} p {}", v.vid, v.pcp)?;
        }
        match &self.network {
            Network::Arp(a) => match a.operation {
                arp::Operation::REQUEST if a.is_probe() => {
                    write!(f, ", ARP probe who-has {}", a.target_protocol_addr)
                }
                arp::Operation::REQUEST if a.is_gratuitous() => {
                    write!(
                        f,
                        ", ARP gratuitous {} is-at {}",
                        a.source_protocol_addr, a.source_hardware_addr
                    )
                }
                arp::Operation::REQUEST => write!(
                    f,
                    ", ARP request who-has {} tell {}",
                    a.target_protocol_addr, a.source_protocol_addr
                ),
                arp::Operation::REPLY => write!(
                    f,
                    ", ARP reply {} is-at {}",
                    a.source_protocol_addr, a.source_hardware_addr
                ),
                op => write!(f, ", ARP op {op:?}"),
            },
            Network::Ipv4 {
                header: ip,
                transport,
            } => {
                write!(f, ", IPv4 {} > {}", ip.src_addr, ip.dst_addr)?;
                write!(f, " ttl {} id {}", ip.ttl, ip.ident)?;
                if ip.dont_frag {
                    f.write_str(" DF")?;
                }
                if !ip.options.is_empty() {
                    fmt_ip_options(f, &ip.options)?;
                }
                f.write_str(": ")?;
                fmt_transport(f, ip, transport)
            }
            Network::Unknown(b) => write!(f, ", ethertype {:?} len {}", e.ethertype, b.len()),
        }
    }
}

fn fmt_transport(f: &mut fmt::Formatter<'_>, ip: &ipv4::Repr, t: &Transport<'_>) -> fmt::Result {
    match t {
        Transport::Icmpv4(r) => fmt_icmp(f, r),
        Transport::Igmp { message, .. } => fmt_igmp(f, message),
        Transport::Udp { header, payload } => write!(
            f,
            "UDP {} > {} len {}",
            header.src_port,
            header.dst_port,
            payload.len()
        ),
        Transport::Tcp { header, payload } => {
            write!(
                f,
                "TCP {} > {} [{}] seq {} ack {} win {}",
                header.src_port,
                header.dst_port,
                header.flags,
                header.seq,
                header.ack_number,
                header.window
            )?;
            if !header.options.is_empty() {
                fmt_tcp_options(f, &header.options)?;
            }
            write!(f, " len {}", payload.len())
        }
        Transport::Ah {
            header, payload, ..
        } => write!(
            f,
            "AH spi 0x{:08x} seq {} next {:?} len {}",
            header.spi,
            header.seq,
            header.next_header,
            payload.len()
        ),
        Transport::Esp { header, payload } => {
            write!(
                f,
                "ESP spi 0x{:08x} seq {} len {}",
                header.spi,
                header.seq,
                payload.len()
            )
        }
        Transport::Fragment(b) => write!(
            f,
            "{:?} fragment offset {}{} len {}",
            ip.protocol,
            ip.frag_offset,
            if ip.more_frags { " +" } else { "" },
            b.len()
        ),
        Transport::Unknown(b) => write!(f, "protocol {:?} len {}", ip.protocol, b.len()),
    }
}

fn fmt_icmp(f: &mut fmt::Formatter<'_>, r: &icmpv4::Repr<'_>) -> fmt::Result {
    use icmpv4::Repr as R;
    match r {
        R::EchoRequest {
            ident,
            seq_no,
            data,
        } => {
            write!(
                f,
                "ICMP echo request id {ident} seq {seq_no} len {}",
                data.len()
            )
        }
        R::EchoReply {
            ident,
            seq_no,
            data,
        } => {
            write!(
                f,
                "ICMP echo reply id {ident} seq {seq_no} len {}",
                data.len()
            )
        }
        R::DstUnreachable {
            reason,
            next_hop_mtu,
            ..
        } => {
            write!(f, "ICMP unreachable {reason:?}")?;
            if *reason == icmpv4::DstUnreachable::FragRequired {
                write!(f, " mtu {next_hop_mtu}")?;
            }
            fmt_quoted(f, r)
        }
        R::TimeExceeded { reason, .. } => {
            write!(f, "ICMP time exceeded {reason:?}")?;
            fmt_quoted(f, r)
        }
        R::Redirect {
            reason, gateway, ..
        } => {
            write!(f, "ICMP redirect {reason:?} to {gateway}")?;
            fmt_quoted(f, r)
        }
        other => write!(f, "ICMP {other:?}"),
    }
}

fn fmt_quoted(f: &mut fmt::Formatter<'_>, r: &icmpv4::Repr<'_>) -> fmt::Result {
    match r.invoking_datagram() {
        Some(Ok(inv)) => {
            write!(
                f,
                " for {:?} {} > {}",
                inv.header.protocol, inv.header.src_addr, inv.header.dst_addr
            )?;
            if let Some((s, d)) = inv.ports() {
                write!(f, " ports {s} > {d}")?;
            }
            Ok(())
        }
        Some(Err(e)) => write!(f, " (bad quote: {e})"),
        None => Ok(()),
    }
}

/// tcpdump's option notation: `[mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]`.
fn fmt_tcp_options(f: &mut fmt::Formatter<'_>, o: &tcp::Options) -> fmt::Result {
    f.write_str(" options [")?;
    for (i, opt) in o.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        match opt {
            Ok(tcp::TcpOption::EndOfList) => f.write_str("eol")?,
            Ok(tcp::TcpOption::NoOperation) => f.write_str("nop")?,
            Ok(tcp::TcpOption::MaxSegmentSize(m)) => write!(f, "mss {m}")?,
            Ok(tcp::TcpOption::WindowScale(w)) => write!(f, "wscale {w}")?,
            Ok(tcp::TcpOption::SackPermitted) => f.write_str("sackOK")?,
            Ok(tcp::TcpOption::SackBlocks(b)) => {
                write!(f, "sack {}", b.iter().count())?;
                for (l, r) in b.iter() {
                    write!(f, " {{{l}:{r}}}")?;
                }
            }
            Ok(tcp::TcpOption::Timestamp { tsval, tsecr }) => {
                write!(f, "TS val {tsval} ecr {tsecr}")?
            }
            Ok(tcp::TcpOption::Unknown { kind, data }) => write!(f, "opt-{kind}:{}", data.len())?,
            Err(e) => write!(f, "({e})")?,
        }
    }
    f.write_str("]")
}

/// IPv4 options in short names: `options [RA, LSRR 4 8 bytes]`.
fn fmt_ip_options(f: &mut fmt::Formatter<'_>, o: &ipv4::Options) -> fmt::Result {
    use ipv4::Ipv4Option as O;
    f.write_str(" options [")?;
    for (i, opt) in o.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        match opt {
            Ok(O::EndOfList) => f.write_str("EOL")?,
            Ok(O::NoOperation) => f.write_str("NOP")?,
            Ok(O::RecordRoute { route, .. }) => write!(f, "RR {} bytes", route.len())?,
            Ok(O::Timestamp { data, .. }) => write!(f, "TS {} bytes", data.len())?,
            Ok(O::LooseSourceRoute { route, .. }) => write!(f, "LSRR {} bytes", route.len())?,
            Ok(O::StrictSourceRoute { route, .. }) => write!(f, "SSRR {} bytes", route.len())?,
            Ok(O::RouterAlert(v)) => write!(f, "RA {v}")?,
            Ok(O::Unknown { kind, data }) => write!(f, "opt-{kind}:{}", data.len())?,
            Err(e) => write!(f, "({e})")?,
        }
    }
    f.write_str("]")
}

fn fmt_igmp(f: &mut fmt::Formatter<'_>, r: &igmp::Repr<'_>) -> fmt::Result {
    use igmp::Repr as R;
    match r {
        R::MembershipQuery {
            version,
            group_addr,
            sources,
            ..
        } => {
            let t = r.max_resp_time().unwrap_or(0);
            write!(
                f,
                "IGMP {version:?} query group {group_addr} max resp {}.{} s",
                t / 10,
                t % 10
            )?;
            if !sources.is_empty() {
                write!(f, " {} sources", sources.len())?;
            }
            Ok(())
        }
        R::MembershipReportV1 { group_addr } => write!(f, "IGMP v1 report {group_addr}"),
        R::MembershipReportV2 { group_addr } => write!(f, "IGMP v2 report {group_addr}"),
        R::LeaveGroup { group_addr } => write!(f, "IGMP leave {group_addr}"),
        R::MembershipReportV3 { records } => {
            write!(f, "IGMP v3 report, {} record(s)", records.len())?;
            for rec in records.iter() {
                write!(
                    f,
                    " [{:?} {} {} source(s)]",
                    rec.record_type(),
                    rec.group_addr(),
                    rec.sources().len()
                )?;
            }
            Ok(())
        }
    }
}
