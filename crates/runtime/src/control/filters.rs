//! The packet filter table: `ctl filter` requests (list, add, delete) and the table's accessors.
//! Kept apart so the rule parsing and its error messages sit together.

use burst_port::Port;
use burst_stack::filter::{Direction, FilterError, FilterTable, Rule};
use burst_stack::PortId;

use super::Control;
use crate::ctl::{FilterRule, Response};

impl<P: Port> Control<P> {
    pub(super) fn filter_rules(&self) -> Vec<FilterRule> {
        self.filters
            .list()
            .into_iter()
            .map(|e| FilterRule {
                port: self.meta[usize::from(e.port.0)].name.clone(),
                dir: e.dir.to_string(),
                index: e.index,
                rule: e.rule.to_string(),
                hits: e.hits,
            })
            .collect()
    }

    /// The port and direction a filter request names.
    fn filter_list_of(&self, port: &str, dir: &str) -> Result<(PortId, Direction), Response> {
        let Some(p) = self.port_by_name(port) else {
            return Err(Response::Error {
                message: format!("no port named {port}"),
            });
        };
        let d = dir.parse::<Direction>().map_err(|e| Response::Error {
            message: e.to_string(),
        })?;
        Ok((p, d))
    }

    fn filter_error(port: &str, dir: Direction, e: FilterError) -> Response {
        let message = match e {
            FilterError::NoSuchIndex { index, len } => format!(
                "port {port} {dir} has no rule at index {index} (it has {len} rule{})",
                if len == 1 { "" } else { "s" }
            ),
            e => format!("port {port} {dir}: {e}"),
        };
        Response::Error { message }
    }

    pub(super) fn filter_add(
        &mut self,
        port: &str,
        dir: &str,
        rule: &str,
        index: Option<usize>,
    ) -> Response {
        let (p, d) = match self.filter_list_of(port, dir) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let rule = match rule.parse::<Rule>() {
            Ok(r) => r,
            Err(e) => {
                return Response::Error {
                    message: e.to_string(),
                }
            }
        };
        match self.filters.add(p, d, index, rule) {
            Ok(index) => Response::FilterAdded {
                index,
                rule: rule.to_string(),
            },
            Err(e) => Self::filter_error(port, d, e),
        }
    }

    pub(super) fn filter_delete(&mut self, port: &str, dir: &str, index: usize) -> Response {
        let (p, d) = match self.filter_list_of(port, dir) {
            Ok(x) => x,
            Err(r) => return r,
        };
        match self.filters.delete(p, d, index) {
            Ok(rule) => Response::FilterDeleted {
                rule: rule.to_string(),
            },
            Err(e) => Self::filter_error(port, d, e),
        }
    }

    /// The packet filter table (for the node's setup and tests).
    pub fn filters_mut(&mut self) -> &mut FilterTable {
        &mut self.filters
    }

    /// The packet filter table.
    pub fn filters(&self) -> &FilterTable {
        &self.filters
    }
}
