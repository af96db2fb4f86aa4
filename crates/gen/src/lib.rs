//! burst's load generator (`burst gen`): stateless streams at line rate on the burst port
//! layer, exact rate control, a latency signature in every packet, reports that merge exactly,
//! and RFC 2544.
//!
//! ```text
//!  GenConfig ──► per core: Engine<Q: Queue>          supervisor (calling thread)
//!  ([eal] [[port]]   ├─ tx: templates → buffers,      ├─ per-second ticks → live line,
//!   [[stream]]       │  paced against the TSC           │  series
//!   [test])          └─ rx: signatures → loss, dup,   └─ ends the run: duration, then drain
//!                       reorder, latency HDR, jitter
//!                                     │
//!                         CoreResults ┴─► Report (text, JSON, CSV, SVG plots; merge)
//! ```
//!
//! Modules: [`config`] (the file), [`size`] (frame sizes, IMIX), [`template`] (frames and
//! incremental checksums), [`signature`], [`pace`] (rate control and catch-up), [`rx`]
//! (sequence tracking and jitter), [`engine`] (one core), [`run`] (threads or a virtual-clock
//! simulation, the supervisor), [`report`], [`plot`], [`rfc2544`], [`arp`], and `dpdk`
//! (feature `dpdk`: EAL, ports, pinned cores); [`stateful`] holds the stateful TCP and HTTP
//! client and server engines (`[[client]]`, `[[server]]`) and their per-core run loop. See
//! docs/gen.md.

pub mod arp;
pub mod config;
pub mod counters;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod engine;
pub mod metrics;
pub mod pace;
pub mod plot;
pub mod report;
pub mod rfc2544;
pub mod run;
pub mod rx;
pub mod signature;
pub mod size;
pub mod stateful;
pub mod template;

pub use config::GenConfig;
pub use report::Report;
