//! Stateful TCP and HTTP load (`[[client]]` / `[[server]]`, issue 14): real connections on
//! burst's TCP engine ([`burst_tcp::TcpStack`]), one client and server engine per core,
//! sans-IO so the same code runs on a generator core and on the tests' in-memory wire.
//!
//! ```text
//!  [[client]] ─► config::ClientConfig ─► per core: client::Client ─┐   TcpStack (per core)
//!  [[server]] ─► config::ServerConfig ─► per core: server::Server ─┤◄─ events, socket calls
//!                                                                   │
//!                  http (streaming parsers, the body pattern)  ◄────┘
//!                  stats (counters, HDR histograms; merged exactly over cores)
//! ```
//!
//! Modules: [`config`] (the sections, validation, the per-core split), [`client`] (closed and
//! open loop, HTTP and raw programs, failures by reason, latency with coordinated-omission
//! correction), [`server`] (HTTP responder and the programs' peer side), [`http`], [`memo`] (the
//! client's memo of the last response head), [`stats`].
//!
//! [`run`] drives them on real ports: one worker per core (its stack, ARP, frames), the live
//! line and the end-of-run report (docs/gen.md, "Stateful TCP and HTTP").

pub mod client;
pub mod config;
pub mod http;
pub mod memo;
pub mod run;
pub mod server;
pub mod stats;

pub use client::Client;
pub use config::{ClientConfig, Load, ServerConfig, ServerWork, Work};
pub use server::Server;
pub use stats::{ClientStats, Failure, Failures, ServerStats};
