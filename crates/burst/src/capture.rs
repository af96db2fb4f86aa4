//! `burst ctl capture`: asks the daemon for the frames a port receives and/or sends and writes
//! them as pcapng (nanosecond timestamps, one interface per port, the direction in each
//! packet's flags), to a file or to standard output (`-w -`, for `| tshark -r -`).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use burst_runtime::capture::CaptureFilter;
use burst_runtime::ctl::{self, Request, Response};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

/// What to capture and where to.
pub(crate) struct Capture<'a> {
    pub(crate) port: &'a str,
    pub(crate) dir: &'a str,
    pub(crate) count: u32,
    pub(crate) max_bytes: u64,
    pub(crate) max_rate: u64,
    pub(crate) snaplen: u32,
    pub(crate) timeout: f64,
    pub(crate) write: Option<&'a str>,
    pub(crate) filter: &'a [String],
}

/// Runs one capture against the daemon at `socket`.
pub(crate) fn run(socket: &Path, c: &Capture<'_>) -> Result<()> {
    let filter = CaptureFilter::parse(c.filter).map_err(|e| anyhow::anyhow!("filter: {e}"))?;
    let req = Request::Capture {
        port: c.port.to_string(),
        dir: c.dir.to_string(),
        count: c.count,
        snaplen: c.snaplen,
        timeout_ms: (c.timeout * 1000.0) as u32,
        max_bytes: c.max_bytes,
        max_rate: c.max_rate,
        filter,
    };
    let out: Box<dyn Write> = match c.write {
        Some("-") => Box::new(std::io::stdout().lock()),
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("{path}: cannot create"))?,
        )),
        None => Box::new(std::io::sink()),
    };
    let to_stdout = c.write == Some("-");
    let mut w = PcapNgWriter::new(out).context("pcapng header")?;
    let mut interfaces: HashMap<String, u32> = HashMap::new();
    let mut failed: Option<anyhow::Error> = None;
    let mut done = None;
    let mut n = 0u64;
    ctl::request(socket, &req, |r| {
        if failed.is_some() {
            return;
        }
        match r {
            Response::Frame(f) => {
                n += 1;
                let r = (|| -> Result<()> {
                    let next = interfaces.len() as u32;
                    let id = match interfaces.get(&f.port) {
                        Some(id) => *id,
                        None => {
                            w.write_pcapng_block(InterfaceDescriptionBlock {
                                linktype: DataLink::ETHERNET,
                                snaplen: c.snaplen,
                                options: vec![
                                    InterfaceDescriptionOption::IfName(f.port.clone().into()),
                                    // Nanosecond timestamps.
                                    InterfaceDescriptionOption::IfTsResol(9),
                                ],
                            })?;
                            interfaces.insert(f.port.clone(), next);
                            next
                        }
                    };
                    let data = unhex(&f.data)?;
                    // EPB flags bits 0-1: 1 inbound, 2 outbound.
                    let flags = if f.dir == "in" { 1 } else { 2 };
                    w.write_pcapng_block(EnhancedPacketBlock {
                        interface_id: id,
                        timestamp: Duration::from_nanos(f.ts_ns),
                        original_len: f.orig_len,
                        data: data.into(),
                        options: vec![EnhancedPacketOption::Flags(flags)],
                    })?;
                    if to_stdout {
                        w.get_mut().flush()?;
                    }
                    Ok(())
                })();
                if let Err(e) = r {
                    failed = Some(e);
                }
                if !to_stdout && c.write.is_none() {
                    println!(
                        "{} {} {:>5} bytes {}",
                        f.ts_ns,
                        f.dir,
                        f.orig_len,
                        &f.data[..f.data.len().min(64)]
                    );
                }
            }
            Response::CaptureDone {
                frames,
                dropped,
                rate_limited,
            } => done = Some((*frames, *dropped, *rate_limited)),
            Response::Error { message } => failed = Some(anyhow::anyhow!("{message}")),
            _ => {}
        }
    })
    .with_context(|| format!("control socket {}", socket.display()))?;
    if let Some(e) = failed {
        return Err(e);
    }
    w.get_mut().flush()?;
    let Some((frames, dropped, rate_limited)) = done else {
        bail!("the daemon ended the capture without its summary ({n} frames)");
    };
    eprintln!(
        "{frames} frames captured, {dropped} missed (no free slot: the reader was behind), \
         {rate_limited} over the rate budget (--max-rate {} per worker)",
        c.max_rate
    );
    Ok(())
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if s.len() % 2 != 0 {
        bail!("odd hex length");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).context("bad hex from the daemon"))
        .collect()
}
