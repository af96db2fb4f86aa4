//! TCP through whole nodes: two burst nodes (1 or 2 workers each, stepped by hand) on one
//! in-memory wire with seeded impairments and a virtual clock. An HTTP client on node 1 against
//! node 2's HTTP service; byte-exact bulk transfers both ways under loss, reordering,
//! duplication and delay with NewReno and CUBIC; keep-alive abort, zero-window probing,
//! TIME-WAIT expiry, a SYN flood answered with cookies, port exhaustion and ICMP
//! fragmentation-needed, each checked through the nodes' published counters.
//!
//! `BURST_TCP_SIM_BYTES` sets the bulk size per direction (default 8 MiB; scripts/test.sh runs
//! 100 MiB in release mode).

mod bulk;
mod conn;
mod frag;
mod http;
mod lab;
