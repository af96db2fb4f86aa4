//! The TCP state machine a session follows (after grout's and Linux's, without window
//! tracking).

use super::*;

/// A TCP session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// The originator's SYN seen.
    SynSent,
    /// The responder's SYN-ACK seen.
    SynRecv,
    /// The handshake completed (or a session picked up mid-stream).
    Established,
    /// One side sent FIN.
    FinWait,
    /// Both sides sent FIN.
    Closing,
    /// Both FINs acknowledged.
    TimeWait,
    /// Reset.
    Close,
}

impl TcpState {
    /// The name `ctl conntrack` shows (Linux's).
    pub fn name(self) -> &'static str {
        match self {
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
        }
    }
}

/// TCP control bits the state machine reads.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// The TCP state machine: the next class, or `None` for a segment it refuses.
pub(super) fn tcp_step(s: &mut Session, dir: Dir, f: u8) -> Option<Class> {
    use TcpState::*;
    let (syn, ack, fin, rst) = (
        f & flags::SYN != 0,
        f & flags::ACK != 0,
        f & flags::FIN != 0,
        f & flags::RST != 0,
    );
    let orig = dir == Dir::Orig;
    let next = if rst {
        Close
    } else if syn && !ack {
        match (s.tcp, orig) {
            // Retransmitted SYN, or a simultaneous open from the other side.
            (SynSent, _) | (SynRecv, false) => s.tcp,
            // The 4-tuple reused after the old connection closed.
            (TimeWait | Close, true) => {
                s.fins = 0;
                s.replied = false;
                SynSent
            }
            _ => return None,
        }
    } else if syn {
        // SYN-ACK: only the responder sends it, only while opening.
        match (s.tcp, orig) {
            (SynSent | SynRecv, false) => SynRecv,
            (Established, false) => Established,
            _ => return None,
        }
    } else {
        let mut st = s.tcp;
        if st == SynRecv && orig && ack {
            st = Established;
        }
        if fin {
            s.fins |= if orig { 1 } else { 2 };
            st = if s.fins == 3 { Closing } else { FinWait };
        } else if ack && st == Closing {
            st = TimeWait;
        }
        st
    };
    s.tcp = next;
    Some(match next {
        Established => Class::TcpEstablished,
        Close => Class::TcpClosed,
        _ => Class::TcpTransitory,
    })
}
