//! burst's IPsec, sans-IO: ESP (RFC 4303) and AH (RFC 4302) for IPv4 in transport and tunnel mode, the
//! anti-replay window with extended sequence numbers, the security policy database (SPD) and
//! the security association database (SAD), and the configuration types of an `[ipsec]`
//! section. See docs/ipsec.md for what exists and what is left (the runtime's IPsec hook,
//! AH, the cryptodev path).
//!
//! Modules, one job each:
//!
//! * [`algo`]: the transforms (AES-GCM, ChaCha20-Poly1305, AES-CBC + HMAC-SHA-256-128, NULL +
//!   HMAC) keyed once per SA, sealing and opening an ESP region in place;
//! * [`replay`]: the receiver's anti-replay window and ESN inference;
//! * [`sa`]: one security association (SPI, mode, transform, sequence numbers, counters);
//! * [`esp`]: encryption and decryption of a datagram in place in a buffer with headroom and
//!   tailroom;
//! * [`ah`]: AH (RFC 4302) with HMAC-SHA-256-128, mutable fields zeroed, in the same buffers;
//! * [`sad`] and [`spd`]: the databases; [`config`]: the TOML section;
//! * [`stats`]: drop reasons and counters.
//!
//! A driver (the runtime's IPsec hook) calls, per datagram: outbound, [`spd::Spd::decide_outbound`]
//! on the flow, then [`sad::Sad::encrypt`] for a protect action; inbound, [`sad::Sad::decrypt`]
//! for ESP addressed to us, then [`spd::Spd::check_inbound`] on the result (and on plain
//! traffic). Nothing here allocates or locks per packet; the tables are per core.

pub mod ah;
pub mod algo;
pub mod config;
pub mod esp;
pub mod replay;
pub mod sa;
pub mod sad;
pub mod spd;
pub mod stats;
#[cfg(test)]
mod testutil;

pub use algo::Algorithm;
pub use esp::{Decrypted, Encrypted, PacketBuf};
pub use sa::{DfPolicy, IpsecProtocol, Mode, Sa, SaParams, Tunnel};
pub use sad::Sad;
pub use spd::{Action, Flow, Policy, Selector, Spd};
pub use stats::{DropReason, EspStats};
