//! Placeholder for the packet filter module (being written on the `filter` branch).

use crossbeam_epoch::Guard;

use crate::PortId;

/// Inbound or outbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Inbound.
    In,
    /// Outbound.
    Out,
}

/// A filter decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Permitted.
    pub permit: bool,
    /// Deciding rule.
    pub rule: Option<usize>,
}

/// Worker-side handle.
#[derive(Debug, Clone, Default)]
pub struct FilterReader {
    _rules: (),
}

impl FilterReader {
    /// Whether any rule exists.
    pub fn is_active(&self, _port: PortId, _dir: Direction, _g: &Guard) -> bool {
        false
    }
    /// Evaluates.
    pub fn evaluate(
        &self,
        _p: PortId,
        _d: Direction,
        _ip: &[u8],
        _w: usize,
        _g: &Guard,
    ) -> Verdict {
        Verdict {
            permit: true,
            rule: None,
        }
    }
}
