//! burst's per-core runtime: configuration, workers, the control thread and the control socket.

pub mod config;
pub mod control;
pub mod ctl;
pub mod msg;
pub mod node;
pub mod worker;
