//! burst's per-core runtime: configuration, workers, the control thread and the control socket.

pub mod app;
pub mod capture;
pub mod config;
pub mod control;
pub mod cpu;
pub mod ctl;
#[cfg(feature = "dpdk")]
pub mod daemon;
pub mod devices;
pub mod metrics;
pub mod msg;
pub mod node;
pub mod server;
pub mod trace;
pub mod worker;
