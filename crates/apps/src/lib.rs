//! Example applications on burst's application API (`burst_runtime::app`): each is an
//! [`App`](burst_runtime::app::App) running on every worker, usable from a test on the
//! in-memory wire and from a binary on DPDK ports (`examples/`). docs/applications.md walks
//! through the echo server.

pub mod echo;
pub mod http_get;
pub mod udp_responder;
