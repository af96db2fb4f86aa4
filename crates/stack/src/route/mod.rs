//! Routing: the longest-prefix-match core ([`Lpm`]) and the control plane's route table
//! ([`RouteTable`]) that workers read through a [`RouteReader`].
//!
//! The control thread owns the `RouteTable` (single writer). Workers hold a `RouteReader`,
//! pin a crossbeam-epoch guard once per burst and look destinations up on it; they never block
//! and never see a half-made change.

pub mod lpm;
pub mod table;

pub use lpm::{Lpm, LpmError, LpmReader};
pub use table::{NextHop, NextHops, Route, RouteError, RouteKind, RouteReader, RouteTable};
