//! burst's per-core runtime: configuration, workers, the control thread and the control socket.

pub mod config;
pub mod ctl;
