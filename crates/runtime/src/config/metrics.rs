//! `[metrics]`: the Prometheus endpoint (`burst_runtime::metrics`), off unless `listen` is set.

use std::net::SocketAddr;

use serde::Deserialize;

use super::de::Text;

/// `[metrics]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsConfig {
    /// Address and port of the HTTP endpoint (`GET /metrics`); `None` serves nothing. No
    /// seed value; off. Use a loopback or management address: the endpoint has no
    /// authentication.
    pub listen: Option<SocketAddr>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawMetrics {
    #[serde(default)]
    listen: Option<Text<SocketAddr>>,
}

impl RawMetrics {
    pub(super) fn validate(self) -> MetricsConfig {
        MetricsConfig {
            listen: self.listen.map(|Text(a)| a),
        }
    }
}
