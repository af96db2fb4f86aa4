//! burst's TCP engine: a sans-IO connection ([`Connection`]) implementing the RFC 9293 state
//! machine with RFC 7323 window scaling, timestamps and PAWS, RFC 2018 SACK, RFC 5961
//! hardening, RFC 6298 retransmission timing, RACK-TLP loss detection (RFC 8985) with RFC 5681 /
//! 6582 / 6675 as the fallback, proportional rate reduction (RFC 6937), Eifel and D-SACK undo
//! of spurious retransmissions (RFC 3522 / 4015 / 3708), NewReno and CUBIC (RFC 9438)
//! congestion control; plus RFC 6528 ISNs ([`IsnGenerator`]), SYN
//! cookies ([`SynCookies`]) and dead gateway detection ([`DeadGatewayDetector`]).
//!
//! A connection never reads a clock, allocates or touches a device after construction: the
//! driver passes `now`, parsed segments ([`burst_wire::tcp::Repr`] and payload) and socket
//! calls in, and polls segments and deadlines out. See [`conn`] for the calling order and
//! `docs/tcp.md` for the design and the configuration table.
//!
//! Two connections talking directly to each other:
//!
//! ```
//! use burst_port::Nanos;
//! use burst_tcp::{ConnParams, Connection, Events, State, TcpConfig};
//! use burst_wire::tcp::SeqNumber;
//!
//! let cfg = TcpConfig::default();
//! let p = |local, remote, iss| ConnParams {
//!     local_port: local,
//!     remote_port: remote,
//!     iss: SeqNumber(iss),
//!     ts_offset: 0,
//!     mtu: 1500,
//!     local_destination: true,
//! };
//! let now = Nanos::ZERO;
//! let mut buf = [0u8; 1500];
//! let mut client = Connection::connect(&cfg, p(40000, 80, 1), now);
//! let syn = client.poll_transmit(now, 1480, &mut buf).unwrap();
//! let mut server = Connection::accept(&cfg, p(80, 40000, 9), now, &syn);
//! client.send(b"hello");
//! // Shuttle segments until both sides are quiet.
//! for _ in 0..10 {
//!     while let Some(seg) = server.poll_transmit(now, 1480, &mut buf) {
//!         client.on_segment(now, &seg, &buf[..seg.payload_len]);
//!     }
//!     while let Some(seg) = client.poll_transmit(now, 1480, &mut buf) {
//!         server.on_segment(now, &seg, &buf[..seg.payload_len]);
//!     }
//! }
//! assert_eq!(server.state(), State::Established);
//! assert!(server.take_events().contains(Events::CONNECTED | Events::READABLE));
//! assert_eq!(server.peek(), b"hello");
//! ```

#![forbid(unsafe_code)]

mod assembler;
pub mod cc;
pub mod config;
pub mod conn;
pub mod cookie;
pub mod dgd;
pub mod isn;
mod rack;
mod ring;
mod rtt;
mod scoreboard;
pub mod stack;
mod txlog;

pub use cc::{Congestion, CongestionControl, Cubic, NewReno};
pub use config::{CongestionAlgorithm, KeepAlive, LossDetection, Negotiate, TcpConfig};
pub use conn::{
    Buffers, ConnError, ConnParams, ConnStats, Connection, Counters, Events, IcmpError,
    RecoveryCounts, State,
};
pub use cookie::SynCookies;
pub use dgd::{DeadGatewayDetector, GatewayChange};
pub use isn::IsnGenerator;
pub use stack::{
    ConnRow, IcmpKind, ListenerHandle, SocketHandle, StackConfig, TcpError, TcpSockets, TcpStack,
    TcpStackStats, Transmit,
};
