//! `burst decode`: read pcap files and print each frame as burst's parsers see it.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burst_wire::dissect::{self, Network, Transport};
use burst_wire::ipv4::Protocol;
use burst_wire::ChecksumCheck;
use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;

/// Decodes every file; with `verify`, fails unless every frame parses with valid checksums and
/// re-emits byte-exact.
pub(crate) fn run(files: &[PathBuf], verify: bool, fields: bool) -> Result<()> {
    let mut failures = 0usize;
    let mut frames = 0usize;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in files {
        let (n, bad) = decode_file(path, verify, fields, &mut out)?;
        frames += n;
        failures += bad;
    }
    if verify {
        if failures > 0 {
            bail!("{failures} of {frames} frames failed verification");
        }
        if !fields {
            writeln!(
                out,
                "verified {frames} frames: parsed, checksums valid, re-emitted byte-exact"
            )?;
        }
    }
    Ok(())
}

fn decode_file(
    path: &Path,
    verify: bool,
    fields: bool,
    out: &mut impl std::io::Write,
) -> Result<(usize, usize)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = PcapReader::new(BufReader::new(file))
        .with_context(|| format!("{}: not a pcap file", path.display()))?;
    if reader.header().datalink != DataLink::ETHERNET {
        bail!(
            "{}: link type {:?} is not Ethernet",
            path.display(),
            reader.header().datalink
        );
    }
    let mut n = 0;
    let mut bad = 0;
    let mut buf = vec![0u8; 65536 + 64];
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.with_context(|| format!("{}: frame {}", path.display(), n + 1))?;
        n += 1;
        let data: &[u8] = &pkt.data;
        if pkt.orig_len as usize != data.len() {
            bad += 1;
            writeln!(
                out,
                "{n:4} truncated capture ({} of {} bytes)",
                data.len(),
                pkt.orig_len
            )?;
            continue;
        }
        let check = if verify {
            ChecksumCheck::Verify
        } else {
            ChecksumCheck::Trust
        };
        let frame = match dissect::parse(data, check) {
            Ok(f) => f,
            Err(e) => {
                bad += 1;
                writeln!(out, "{n:4} error: {e}")?;
                continue;
            }
        };
        if verify {
            let len = frame.emit(&mut buf);
            if buf[..len] != *data {
                bad += 1;
                let at = buf[..len]
                    .iter()
                    .zip(data)
                    .position(|(a, b)| a != b)
                    .unwrap_or(len.min(data.len()));
                writeln!(
                    out,
                    "{n:4} re-emit differs at byte {at} (emitted {len}, captured {})",
                    data.len()
                )?;
                continue;
            }
        }
        if fields {
            writeln!(out, "{}", field_line(n, &frame))?;
        } else {
            let t = pkt.timestamp;
            writeln!(
                out,
                "{n:4} {}.{:06} {frame}",
                t.as_secs(),
                t.subsec_micros()
            )?;
        }
    }
    Ok((n, bad))
}

/// Tab-separated columns, formatted the way `tshark -T fields -E occurrence=f` prints them
/// (see `scripts/check-fixtures.sh`, which lists the tshark fields in the same order).
fn field_line(n: usize, f: &dissect::Frame<'_>) -> String {
    let mut cols: Vec<String> = vec![String::new(); FIELD_COUNT];
    cols[0] = n.to_string();
    cols[1] = f.ethernet.src_addr.to_string();
    cols[2] = f.ethernet.dst_addr.to_string();
    if let Some(v) = f.ethernet.vlan {
        cols[3] = v.vid.to_string();
    }
    match &f.network {
        Network::Arp(a) => {
            cols[4] = a.operation.0.to_string();
            cols[5] = a.source_protocol_addr.to_string();
            cols[6] = a.target_protocol_addr.to_string();
        }
        Network::Ipv4 {
            header: ip,
            transport,
        } => {
            cols[7] = ip.src_addr.to_string();
            cols[8] = ip.dst_addr.to_string();
            cols[9] = ip.protocol.0.to_string();
            cols[10] = format!("0x{:04x}", ip.ident);
            cols[11] = ip.ttl.to_string();
            cols[12] = ip.buffer_len().to_string();
            // tshark prints the fragment offset in 8-byte units.
            cols[13] = (ip.frag_offset / 8).to_string();
            match transport {
                Transport::Udp { header, .. } => {
                    cols[14] = header.src_port.to_string();
                    cols[15] = header.dst_port.to_string();
                }
                Transport::Tcp { header, payload } => {
                    cols[16] = header.src_port.to_string();
                    cols[17] = header.dst_port.to_string();
                    cols[18] = header.seq.0.to_string();
                    cols[19] = header.ack_number.to_string();
                    cols[20] = format!("0x{:04x}", header.flags.bits());
                    cols[21] = header.window.to_string();
                    cols[22] = payload.len().to_string();
                    if let Some(m) = header.options.mss() {
                        cols[23] = m.to_string();
                    }
                    if let Some(w) = header.options.window_scale() {
                        cols[24] = w.to_string();
                    }
                    if let Some(b) = header.options.sack_blocks() {
                        if let Some(&(l, _)) = b.iter().next() {
                            cols[25] = l.to_string();
                        }
                    }
                }
                Transport::Icmpv4(r) => {
                    cols[26] = u8::from(r.msg_type()).to_string();
                    cols[27] = r.code().to_string();
                    // Like tshark, show the ports of the datagram an error quotes.
                    if let Some(Ok(inv)) = r.invoking_datagram() {
                        if let Some((s, d)) = inv.ports() {
                            let at = if inv.header.protocol == Protocol::TCP {
                                16
                            } else {
                                14
                            };
                            cols[at] = s.to_string();
                            cols[at + 1] = d.to_string();
                        }
                    }
                }
                // A first fragment still starts with the ICMP header, which tshark shows.
                Transport::Fragment(p)
                    if ip.frag_offset == 0 && ip.protocol == Protocol::ICMP && p.len() >= 2 =>
                {
                    cols[26] = p[0].to_string();
                    cols[27] = p[1].to_string();
                }
                Transport::Igmp { message: r, .. } => {
                    cols[28] = format!("0x{:02x}", r.msg_type().0);
                }
                _ => {}
            }
        }
        Network::Unknown(_) => {}
    }
    let mut s = String::new();
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            s.push('\t');
        }
        let _ = write!(s, "{c}");
    }
    s
}

const FIELD_COUNT: usize = 29;
