//! burst's TCP engine: a sans-IO connection ([`Connection`]) implementing the RFC 9293 state
//! machine with RFC 7323 window scaling, timestamps and PAWS, RFC 2018 SACK, RFC 5961
//! hardening, RFC 6298 retransmission timing, RFC 5681 / 6582 / 6675 loss recovery, NewReno
//! and CUBIC (RFC 9438) congestion control; plus RFC 6528 ISNs ([`IsnGenerator`]) and SYN
//! cookies ([`SynCookies`]).
//!
//! A connection never reads a clock, allocates or touches a device after construction: the
//! driver passes `now`, parsed segments ([`burst_wire::tcp::Repr`] and payload) and socket
//! calls in, and polls segments and deadlines out. See [`conn`] for the calling order and
//! `docs/tcp.md` for the design and the configuration table.

#![forbid(unsafe_code)]

mod assembler;
pub mod cc;
pub mod config;
pub mod conn;
pub mod cookie;
pub mod isn;
mod ring;
mod rtt;
mod scoreboard;
pub mod stack;

pub use cc::{Congestion, CongestionControl, Cubic, NewReno};
pub use config::{CongestionAlgorithm, KeepAlive, Negotiate, TcpConfig};
pub use conn::{ConnError, ConnParams, ConnStats, Connection, Counters, Events, IcmpError, State};
pub use cookie::SynCookies;
pub use isn::IsnGenerator;
pub use stack::{
    ConnRow, IcmpKind, ListenerHandle, SocketHandle, StackConfig, TcpError, TcpStack,
    TcpStackStats, Transmit,
};
