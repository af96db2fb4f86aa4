//! `ctl capture` on the control thread: opens the workers' taps, drains the frames they copy
//! and streams them to the CLI, ends the capture at its count, byte bound or deadline (or when the CLI
//! goes away), and gives the slots back.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use burst_port::{Nanos, Port};

use super::{Control, Reply};
use crate::capture::{self, CaptureFilter, CaptureTap};
use crate::ctl::{CapturedFrame, Response};

/// A running capture.
pub(super) struct CaptureSession {
    reply: Reply,
    left: u64,
    sent: u64,
    /// Frame bytes still allowed (`u64::MAX`: no byte bound).
    bytes_left: u64,
    deadline: Nanos,
    /// Unix time minus node time, in ns, when the capture started.
    offset_ns: i128,
}

/// What `ctl capture` asked for.
pub(super) struct CaptureAsk<'a> {
    pub(super) port: &'a str,
    pub(super) dir: &'a str,
    pub(super) count: u32,
    pub(super) snaplen: u32,
    pub(super) timeout_ms: u32,
    pub(super) max_bytes: u64,
    pub(super) max_rate: u64,
    pub(super) filter: CaptureFilter,
}

impl<P: Port> Control<P> {
    /// The workers' taps (index = worker).
    pub fn set_capture_taps(&mut self, taps: Vec<Arc<CaptureTap>>) {
        self.taps = taps;
    }

    /// Starts a capture; its frames and the final line go to `reply`. An error if one runs.
    pub(super) fn capture_start(
        &mut self,
        ask: CaptureAsk<'_>,
        reply: Reply,
        now: Nanos,
    ) -> Result<(), String> {
        if self.capture.is_some() {
            return Err("a capture is already running; wait for it to end".into());
        }
        let port = self
            .port_by_name(ask.port)
            .ok_or_else(|| format!("no port named {}", ask.port))?;
        let dirs = match ask.dir {
            "in" => capture::IN,
            "out" => capture::OUT,
            "both" => capture::IN | capture::OUT,
            d => return Err(format!("{d}: the direction is in, out or both")),
        };
        if ask.count == 0 {
            return Err("the count must be at least 1".into());
        }
        let snaplen = (ask.snaplen as usize).clamp(64, 65535);
        let slots = (capture::SLOT_BYTES / snaplen).clamp(1, capture::SLOTS);
        for t in &self.taps {
            t.start(
                port,
                dirs,
                &ask.filter,
                u64::from(ask.count),
                snaplen,
                slots,
                ask.max_rate,
            );
        }
        let unix = burst_port::clock::unix_now().as_nanos() as i128;
        self.capture = Some(CaptureSession {
            reply,
            left: u64::from(ask.count),
            sent: 0,
            bytes_left: if ask.max_bytes == 0 {
                u64::MAX
            } else {
                ask.max_bytes
            },
            deadline: now + Nanos::from_millis(u64::from(ask.timeout_ms.max(1))),
            offset_ns: unix - i128::from(now.0),
        });
        tracing::info!(
            port = ask.port,
            dir = ask.dir,
            count = ask.count,
            snaplen,
            "capture started"
        );
        Ok(())
    }

    /// Streams what the workers captured; ends the capture when done. Returns the frames
    /// handled.
    pub(super) fn capture_poll(&mut self, now: Nanos) -> usize {
        let Some(s) = self.capture.as_mut() else {
            return 0;
        };
        let mut n = 0;
        let mut gone = false;
        for t in &self.taps {
            // A reader behind by more than its backlog limit: the frames wait in the slots
            // (the workers count what finds no free one) rather than in memory here.
            while let Some(c) = (!s.reply.is_backlogged()).then(|| t.filled.pop()).flatten() {
                n += 1;
                if s.left > 0 && s.bytes_left > 0 && !gone {
                    let frame = CapturedFrame {
                        ts_ns: (i128::from(c.at_ns) + s.offset_ns).max(0) as u64,
                        port: self.meta[usize::from(c.port)].name.clone(),
                        dir: if c.dir == capture::IN { "in" } else { "out" }.into(),
                        orig_len: c.orig_len,
                        data: hex(&c.slot[..c.len as usize]),
                    };
                    gone = s.reply.send(Response::Frame(frame)).is_err();
                    s.left -= 1;
                    s.sent += 1;
                    s.bytes_left = s.bytes_left.saturating_sub(u64::from(c.len));
                }
                // The slot goes back to its worker.
                let _ = t.free.push(c.slot);
            }
        }
        if s.left == 0 || s.bytes_left == 0 || now >= s.deadline || gone {
            let dropped: u64 = self
                .taps
                .iter()
                .map(|t| t.dropped.load(Ordering::Relaxed))
                .sum();
            let rate_limited: u64 = self
                .taps
                .iter()
                .map(|t| t.rate_limited.load(Ordering::Relaxed))
                .sum();
            for t in &self.taps {
                t.stop();
            }
            let s = self.capture.take().expect("a capture runs");
            tracing::info!(frames = s.sent, dropped, rate_limited, "capture ended");
            let _ = s.reply.send(Response::CaptureDone {
                frames: s.sent,
                dropped,
                rate_limited,
            });
        }
        n
    }
}

/// Lower-case hex of `b`.
fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[usize::from(x >> 4)] as char);
        s.push(D[usize::from(x & 15)] as char);
    }
    s
}
